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
  analyze.register(program, io);
  capture.register(program, io);
  serve.register(program, io);
  lab.register(program, io);
  return program;
}

/** Runs the CLI and returns the exit status (0 nothing lost, 1 loss found, 2 error). */
export async function main(argv: string[], io: CliIO = createProcessIO()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return io.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every usage error exits 2, as diff does.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError || err instanceof CaptureFileError) {
      io.stderr(`synprobe: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
