/**
 * The command layer: parses arguments with commander and hands over to one module per command.
 * Each command module exports `register(program, io)` and sets `io.exitCode`; errors that users
 * cause (bad input, usage) are UsageError/CaptureFileError and exit 2 with one line, never a stack.
 */
import { Command, CommanderError } from 'commander';
import { CliIO, UsageError, createProcessIO } from './io.js';
import { CaptureFileError } from '../read/types.js';
import { readVersion } from '../version.js';
import * as analyze from './analyze.js';
import * as serve from './serve.js';
import * as capture from './capture.js';
import * as lab from './lab.js';

export function buildProgram(io: CliIO): Command {
  const program = new Command('synprobe')
    .description('Prove where TCP connection attempts die: hold connections until one fails, capture both ends, and correlate the SYNs.')
    .version(readVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
    });
  program.addHelpText('after', `
Exit status: 0 nothing lost between the capture points, 1 loss found, 2 error.

Examples:
  sudo npx synprobe lab                              # the whole thing on this machine, in ~30 s
  synprobe serve --port 8000                         # on the peer
  synprobe capture --peer 172.31.17.55 --ssh ec2-user@172.31.17.55 --sudo
  synprobe analyze client.pcap server.pcap --format markdown --redact > post.md
`);
  analyze.register(program, io);
  capture.register(program, io);
  serve.register(program, io);
  lab.register(program, io);
  return program;
}

/** Runs the CLI and returns the exit status (0 nothing lost, 1 loss found, 2 error). */
export async function main(argv: string[], given?: CliIO): Promise<number> {
  const io = given ?? createProcessIO();
  if (given === undefined) endQuietlyOnBrokenPipe(io);
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return io.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every usage error exits 2, as diff does.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CaptureFileError) {
      io.stderr(`synprobe: ${oneLine(describeCaptureFileError(err))}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      io.stderr(`synprobe: ${oneLine(err.message)}\n`);
      return 2;
    }
    throw err;
  }
}

/**
 * The error line for a capture that cannot be read. A fault in the file's content always names a
 * byte offset: the readers leave it out (null) only for the file header itself, which starts at 0.
 * Faults of the file system (a directory, a FIFO, a missing file) have no offset.
 */
export function describeCaptureFileError(err: CaptureFileError): string {
  if (err.offset !== null || err.code === 'EIO' || err.code === 'ENOTFILE') return err.message;
  return `${err.message} (at byte offset 0)`;
}

/**
 * An error stays one line whatever a file name holds: control characters (a newline, a terminal
 * escape sequence) are written as escapes, not sent to the terminal.
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/**
 * `synprobe analyze ... | head`: when the reader goes away, stop quietly with the status the run
 * had, as other command-line tools do, instead of dying on an unhandled EPIPE with a stack trace.
 */
function endQuietlyOnBrokenPipe(io: CliIO): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(io.exitCode);
    });
  }
}
