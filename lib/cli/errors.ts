/** Exit codes of every command (DESIGN.md section 9). */
export const EXIT_OK = 0;
/** validate: the file was quarantined. */
export const EXIT_REJECTED = 1;
/** Usage, IO or schema error. */
export const EXIT_ERROR = 2;

/** A bad command line: the message is printed with a pointer to --help, and the exit code is 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure the user can act on (missing file, bad schema): printed without a stack trace, exit code 2. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
