/** Shared pieces of the command modules. */
export interface Command {
  readonly help: string;
  run(args: string[]): Promise<number>;
}

/** A usage error: printed with the command's name, exit code 2. */
export class CliError extends Error {
  readonly code = 'ERR_CLI_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
