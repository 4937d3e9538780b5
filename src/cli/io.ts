/** Where the CLI writes, so tests can run commands in-process and read what they printed. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** true when stdout is a terminal (the default format is then `table`, else `json`? no: table too). */
  isTTY: boolean;
  exitCode: number;
}

export function createProcessIO(): CliIO {
  return {
    stdout: (s) => { process.stdout.write(s); },
    stderr: (s) => { process.stderr.write(s); },
    isTTY: Boolean(process.stdout.isTTY),
    exitCode: 0,
  };
}

/** A mistake the user can fix: printed as one line, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
