/**
 * One way to run a command on a host, so the preflight checks and the counter snapshots are the
 * same code on this host (execa, no shell) and on the peer (a channel of the ssh control
 * connection, see src/tcpdump/remote.ts). Commands are argv arrays, never shell strings.
 */
import { execa } from 'execa';
import { delimiter } from 'node:path';

export interface CommandResult {
  /** null when the command did not exit normally (signal, timeout, could not start). */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** true when the command exited 0. */
  ok: boolean;
}

export interface RunOptions {
  /** Run through `sudo -n` (only meaningful on the peer with --sudo; ignored on this host). */
  sudo?: boolean;
  timeoutMs?: number;
}

export interface CommandRunner {
  /** 'on this host' or 'on the peer (user@host)': for messages. */
  readonly where: string;
  readonly remote: boolean;
  run(argv: string[], opts?: RunOptions): Promise<CommandResult>;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 20_000;

/** PATH with the sbin directories added (tcpdump, ethtool, conntrack live there). */
export function pathWithSbin(path = process.env.PATH ?? ''): string {
  const parts = path.split(delimiter).filter(Boolean);
  for (const dir of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!parts.includes(dir)) parts.push(dir);
  return parts.join(delimiter);
}

export function createLocalRunner(): CommandRunner {
  return {
    where: 'on this host',
    remote: false,
    async run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
      if (argv.length === 0) throw new Error('empty command');
      const r = await execa(argv[0]!, argv.slice(1), {
        reject: false,
        stdin: 'ignore',
        timeout: opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        env: { PATH: pathWithSbin(), LC_ALL: 'C' },
        stripFinalNewline: false,
        maxBuffer: 16 * 1024 * 1024,
      });
      const spawnFailed = r.exitCode === undefined && !r.signal;
      return {
        exitCode: r.exitCode ?? (spawnFailed ? 127 : null),
        signal: r.signal ?? null,
        stdout: typeof r.stdout === 'string' ? r.stdout : '',
        stderr: typeof r.stderr === 'string' ? r.stderr : (spawnFailed ? String(r.message) : ''),
        timedOut: Boolean(r.timedOut),
        ok: r.exitCode === 0,
      };
    },
  };
}

/** Reads several files in one command; a missing or unreadable file maps to null. */
export async function readFiles(runner: CommandRunner, paths: string[], opts: RunOptions = {}): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>(paths.map((p) => [p, null]));
  if (paths.length === 0) return out;
  // a constant script; the paths are arguments
  const script = 'for f do if [ -r "$f" ] && c=$(cat -- "$f" 2>/dev/null); then printf \'==> %s\\n%s\\n<==\\n\' "$f" "$c"; fi; done';
  const r = await runner.run(['sh', '-c', script, 'synprobe', ...paths], opts);
  const re = /^==> (.*)\n([\s\S]*?)\n<==$/gm;
  for (const m of r.stdout.matchAll(re)) {
    if (out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}
