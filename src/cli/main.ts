/**
 * The command layer: parses arguments with commander and hands over to one module per command.
 * Each command module exports `register(program, io)` and sets `io.exitCode`; errors that users
 * cause (bad input, usage) are UsageError/CaptureFileError and exit 2 with one line, never a stack.
 */
import { Command, CommanderError } from 'commander';
import { CliIO, UsageError, createProcessIO } from './io.js';
import { CaptureFileError } from '../read/types.js';
import { readVersion } from '../version.js';

interface CommandModule {
  register(program: Command, io: CliIO): void;
}

/**
 * The command modules, in the order help lists them, imported only when needed: capture and lab
 * bring execa, ssh and the lab's code (a quarter of a second to import), which analyze does not
 * need.
 */
const COMMANDS: Array<[string, () => Promise<CommandModule>]> = [
  ['analyze', () => import('./analyze.js')],
  ['capture', () => import('./capture.js')],
  ['serve', () => import('./serve.js')],
  ['lab', () => import('./lab.js')],
];

/**
 * The modules `argv` (as process.argv: node, script, arguments) needs: the one it names first, or
 * none for the version alone, else all of them (for help and the error for an unknown command).
 */
export async function loadCommands(argv: readonly string[]): Promise<CommandModule[]> {
  const first = argv[2];
  if (argv.length === 3 && (first === '-V' || first === '--version')) return [];
  const named = COMMANDS.find(([name]) => name === first);
  return Promise.all((named ? [named] : COMMANDS).map(([, load]) => load()));
}

export function buildProgram(io: CliIO, commands: readonly CommandModule[]): Command {
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
  for (const command of commands) command.register(program, io);
  return program;
}

/** Runs the CLI and returns the exit status (0 nothing lost, 1 loss found, 2 error). */
export async function main(argv: string[], given?: CliIO): Promise<number> {
  const io = given ?? createProcessIO();
  if (given === undefined) endQuietlyOnBrokenPipe(io);
  const program = buildProgram(io, await loadCommands(argv));
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
