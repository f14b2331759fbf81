/** The parse tree of a Dovecot-syntax config file, with positions. */
import type { SourcePos } from '../errors.js';

export interface ConfigValue {
  /** the value, quotes stripped and unescaped */
  readonly text: string;
  /** position of the value's first character (after an opening quote) */
  readonly pos: SourcePos;
  /** position of character `i` of `text` (past the end: after the last one) */
  posAt(i: number): SourcePos;
  /** `key = <path`: the value names a file whose contents are the value */
  readonly fileRef: boolean;
  /** directory relative paths of this value are resolved against */
  readonly baseDir: string;
}

export interface SettingNode {
  readonly kind: 'setting';
  readonly key: string;
  readonly keyPos: SourcePos;
  readonly value: ConfigValue;
}

export interface BlockNode {
  readonly kind: 'block';
  /** `metric` in `metric imap {`; the only word in `passdb {` */
  readonly type: string;
  readonly typePos: SourcePos;
  /** `imap` in `metric imap {`; null when the block has no name */
  readonly name: string | null;
  /** position of the name, or of the `{` when there is none */
  readonly namePos: SourcePos;
  readonly children: readonly ConfigNode[];
}

export type ConfigNode = SettingNode | BlockNode;

export function blockLabel(b: BlockNode): string {
  return b.name === null ? b.type : `${b.type} ${b.name}`;
}
