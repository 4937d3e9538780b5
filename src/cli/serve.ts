/** `synprobe serve`: the listener for the peer, holding every connection and counting them. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { startServer, type RunningServer } from '../probe/serve.js';
import { UsageError, type CliIO } from './io.js';
import { parseAddress, parseCount, parsePortList } from './options.js';
import { formatPorts } from '../ports.js';

export { formatPorts, parsePortList };

export interface ServeFlags {
  port: number[];
  bind?: string;
  backlog?: number;
}

/** How often the count is printed: in place on a terminal, as a new line otherwise. */
export interface ServeTiming { ttyIntervalMs: number; lineIntervalMs: number }

const DEFAULT_TIMING: ServeTiming = { ttyIntervalMs: 1000, lineIntervalMs: 10_000 };

/** The soft open-files limit of this process (each held connection takes one), or null. */
export function readOpenFilesLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined) return null;
    return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return null;
  }
}

function describeBind(bind: string): string {
  if (bind === '::') return '[::] (IPv4 and IPv6)';
  return bind.includes(':') ? `[${bind}]` : bind;
}

function countLine(server: RunningServer): string {
  const errors = server.acceptErrors();
  const tail = errors.count > 0 ? `, ${errors.count} accept errors (last: ${errors.last?.message ?? '?'})` : '';
  return `held ${server.held()} connections (accepted ${server.accepted()}${tail})`;
}

/** Runs the listener until `stop` aborts; prints as the command does. Exported for tests. */
export async function runServe(flags: ServeFlags, io: CliIO, stop: AbortSignal, timing: ServeTiming = DEFAULT_TIMING): Promise<void> {
  let server: RunningServer;
  try {
    server = await startServer({ port: flags.port, bind: flags.bind, backlog: flags.backlog });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EADDRINUSE' ? ' (another process listens there)'
      : e.code === 'EACCES' ? ' (ports below 1024 need root)'
        : e.code === 'EADDRNOTAVAIL' ? ' (no interface of this host has that address)' : '';
    throw new UsageError(`cannot listen on ${flags.bind ?? '::'} port ${formatPorts(flags.port)}: ${e.code ?? e.message}${hint}`);
  }
  io.stdout(`listening on ${describeBind(server.bind)} port ${formatPorts(server.ports)}; stop with Ctrl-C\n`);
  const limit = readOpenFilesLimit();
  if (limit !== null && Number.isFinite(limit)) {
    io.stdout(`open-files limit ${limit}: at most about ${Math.max(0, limit - 20)} connections can be held (raise with ulimit -n)\n`);
  }

  let lastShown = '';
  const tick = (): void => {
    const line = countLine(server);
    if (io.isTTY) {
      if (line !== lastShown) io.stdout(`\r${line}\x1b[K`);
    } else {
      io.stdout(`${new Date().toISOString()} ${line}\n`);
    }
    lastShown = line;
  };
  const timer = setInterval(tick, io.isTTY ? timing.ttyIntervalMs : timing.lineIntervalMs);
  if (io.isTTY) tick();

  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  if (io.isTTY && lastShown !== '') io.stdout('\n');
  io.stdout(`stopped: ${countLine(server)}\n`);
  await server.close();
  io.exitCode = 0;
}

export function register(program: Command, io: CliIO): void {
  program
    .command('serve')
    .description('Accept connections and hold them open (the listener for the peer), counting those held.')
    .option('-p, --port <ports>', 'port, range or list to listen on: 8000, 8000-8003, 8000,9000', (v) => parsePortList(v), [8000])
    .option('-b, --bind <address>', 'address to listen on (default :: for IPv4 and IPv6, 0.0.0.0 where IPv6 is off)', (v) => parseAddress(v, '--bind'))
    .option('--backlog <n>', 'listen backlog (the kernel caps it at net.core.somaxconn)', (v) => {
      const n = parseCount(v, '--backlog');
      if (n < 1 || n > 1_000_000) throw new UsageError(`--backlog must be from 1 to 1000000, not ${n}`);
      return n;
    }, 4096)
    .addHelpText('after', `
Every connection is kept until the peer closes it; data is read and thrown
away. Each held connection uses one file descriptor: raise the limit first
(ulimit -n 200000). The count is updated in place on a terminal and printed
every 10 s otherwise. Stop with Ctrl-C or SIGTERM: the final count is printed
and the exit status is 0.

More than about 64k connections from one client address need more
destination ports (--port 8000-8003) or more client addresses.

Examples:
  synprobe serve
  synprobe serve --port 8000-8003
  synprobe serve --port 8000 --bind 172.31.17.55
  ulimit -n 200000 && synprobe serve --port 8000,9000 --backlog 8192
`)
    .action(async (flags: ServeFlags) => {
      const controller = new AbortController();
      const onSignal = (): void => { controller.abort(); };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await runServe(flags, io, controller.signal);
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
