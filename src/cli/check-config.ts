import { parseArgs } from 'node:util';
import { formatConfig, loadConfigFile } from '../config/index.js';
import { CliError, type Command } from './common.js';

export const checkConfigCommand: Command = {
  help: [
    'Usage: tallyd check-config FILE',
    '',
    'Parses FILE (Dovecot syntax, !include resolved), prints the resolved settings,',
    'metrics and warnings, and exits 1 on the first error (printed as file:line:col).',
  ].join('\n'),
  async run(args) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new CliError('expected exactly one FILE');
    const cfg = loadConfigFile(file);
    process.stdout.write(formatConfig(cfg));
    return 0;
  },
};
