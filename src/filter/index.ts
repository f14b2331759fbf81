export type { CompiledFilter } from './types.js';
