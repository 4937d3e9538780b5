/**
 * The capture on the peer, over ONE ssh connection opened before the probe.
 *
 * Once the path is full no new connection to the peer opens — not even ssh — so everything on
 * the peer goes through an OpenSSH ControlMaster started first: preflight, counters, the
 * capture and its stop are channels of that one TCP connection. Mux clients are run with
 * `ProxyCommand=false`, so if the master is gone they fail at once instead of dialing anew.
 *
 * The capture channel runs a constant POSIX sh script (no user value is ever pasted into it:
 * values are validated here, single-quoted, and passed as positional parameters) that
 *   - starts tcpdump (`-U -w -`): the pcap streams back on the channel's stdout, which the ssh
 *     client writes straight into server.pcap (a descriptor synprobe created exclusively);
 *   - keeps the ssh session itself out of the capture, by its exact 4-tuple from $SSH_CONNECTION;
 *   - reads control lines on stdin: `mark N` answers with the peer's clock and whether tcpdump is
 *     alive (start time and heartbeat, in the peer's own clock), `stop` notes the time and
 *     SIGTERMs tcpdump itself (it flushes and prints its counts on the channel's stderr);
 *   - SIGTERMs tcpdump when stdin closes, so losing the local ssh (killed, crashed, connection
 *     lost) never leaves a tcpdump running on the peer.
 */
import { isIP } from 'node:net';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { execa } from 'execa';
import { UsageError } from '../cli/io.js';
import type { CommandResult, CommandRunner, RunOptions } from '../preflight/runner.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from '../preflight/runner.js';
import {
  exclusiveCreateFlags,
  nowNs,
  nsFromEpochText,
  type Clock,
} from '../run/run-facts.js';
import {
  DEFAULT_BUFFER_KIB,
  DEFAULT_SNAPLEN,
  DEFAULT_STOP_TIMEOUT_MS,
  TcpdumpError,
  checkFileAgainstStats,
  classifyTcpdumpFailure,
  findExecutable,
  parseTcpdumpStats,
  signalProcess,
  spawnGuarded,
  validateInterfaceName,
  waitForLine,
  within,
  type CaptureStopResult,
  type Excluded4Tuple,
  type GuardedChild,
  type WatchedProcess,
} from './local.js';

// ---------------------------------------------------------------------------------------------
// Validation and quoting

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`);
/** ssh targets may be ~/.ssh/config aliases, which allow '_' too. */
const SSH_HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const SSH_USER_RE = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/;

/** --peer: an IP address or a DNS name of letters, digits, dots and dashes. */
export function validateHost(host: string, option = '--peer'): string {
  if (isIP(host) !== 0) return host;
  if (HOSTNAME_RE.test(host)) return host;
  throw new UsageError(`${option} ${JSON.stringify(host)} is not an IP address or a host name (letters, digits, '.', '-')`);
}

/** --ssh: `[user@]host`, host an IP address or a name (or an ~/.ssh/config alias). */
export function validateSshTarget(target: string): string {
  const at = target.lastIndexOf('@');
  const user = at >= 0 ? target.slice(0, at) : null;
  const host = at >= 0 ? target.slice(at + 1) : target;
  const hostOk = isIP(host) !== 0 || SSH_HOST_RE.test(host);
  if ((user !== null && !SSH_USER_RE.test(user)) || !hostOk) {
    throw new UsageError(`--ssh ${JSON.stringify(target)} is not [user@]host (user: letters, digits, . _ -; host: an IP address or a name)`);
  }
  return target;
}

const RESERVED_SSH_OPTIONS = new Set(['controlmaster', 'controlpath', 'controlpersist']);
/** Options that make ssh run a local command: never from the command line (use ~/.ssh/config). */
const COMMAND_SSH_OPTIONS = new Set(['proxycommand', 'localcommand', 'permitlocalcommand', 'knownhostscommand', 'pkcs11provider', 'securitykeyprovider', 'remotecommand']);

/** --ssh-option: `Key=Value` or `Key Value`, as for `ssh -o`. Returned as `Key=Value`. */
export function validateSshOption(option: string): string {
  const m = /^([A-Za-z][A-Za-z0-9]{1,63})(?:\s*=\s*|\s+)([^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]{0,1023})$/.exec(option);
  if (!m) throw new UsageError(`--ssh-option ${JSON.stringify(option)} is not Key=Value (as for ssh -o)`);
  const key = m[1]!.toLowerCase();
  if (RESERVED_SSH_OPTIONS.has(key)) {
    throw new UsageError(`--ssh-option ${m[1]} is set by synprobe itself (it runs its own control connection)`);
  }
  if (COMMAND_SSH_OPTIONS.has(key)) {
    throw new UsageError(`--ssh-option ${m[1]} would run a command: set it for that host in ~/.ssh/config instead`);
  }
  return `${m[1]}=${m[2]}`;
}

function validatePathValue(value: string, flag: string): string {
  if (!value || value.startsWith('-') || /[\x00-\x1f\x7f]/.test(value) || value.length > 4096) {
    throw new UsageError(`--ssh-option ${flag} needs a file path, not ${JSON.stringify(value)}`);
  }
  return value;
}

export interface NormalizedSshOptions {
  /** `-F FILE` when given (used by every ssh synprobe runs). */
  configFile: string | null;
  /** `Key=Value` for `-o`. */
  options: string[];
}

/**
 * The --ssh-option values, each `Key=Value` (as `ssh -o`), or the common ssh flags spelled as
 * separate values (`-i FILE`, `-p N`, `-l USER`, `-F FILE`, `-o K=V`, `-J HOST`, `-4`, `-6`),
 * translated to options. Anything else is refused.
 */
export function normalizeSshOptions(values: string[]): NormalizedSshOptions {
  const out: NormalizedSshOptions = { configFile: null, options: [] };
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const flag = /^-([iplFoJ46])(.*)$/s.exec(v);
    if (!flag) {
      out.options.push(validateSshOption(v));
      continue;
    }
    const letter = flag[1]!;
    if (letter === '4' || letter === '6') {
      if (flag[2]) throw new UsageError(`--ssh-option ${JSON.stringify(v)} is not understood`);
      out.options.push(`AddressFamily=${letter === '4' ? 'inet' : 'inet6'}`);
      continue;
    }
    let arg = flag[2]!;
    if (!arg) {
      if (i + 1 >= values.length) throw new UsageError(`--ssh-option ${v} needs a value (give it as the next --ssh-option)`);
      arg = values[++i]!;
    }
    switch (letter) {
      case 'i': out.options.push(validateSshOption(`IdentityFile=${validatePathValue(arg, '-i')}`)); break;
      case 'F': out.configFile = validatePathValue(arg, '-F'); break;
      case 'p': {
        if (!/^\d{1,5}$/.test(arg) || Number(arg) < 1 || Number(arg) > 65535) throw new UsageError(`--ssh-option -p needs a port from 1 to 65535, not ${JSON.stringify(arg)}`);
        out.options.push(`Port=${Number(arg)}`);
        break;
      }
      case 'l':
        if (!SSH_USER_RE.test(arg)) throw new UsageError(`--ssh-option -l needs a user name, not ${JSON.stringify(arg)}`);
        out.options.push(`User=${arg}`);
        break;
      case 'J': {
        for (const hop of arg.split(',')) validateSshTarget(hop.replace(/:\d{1,5}$/, ''));
        out.options.push(`ProxyJump=${arg}`);
        break;
      }
      case 'o': out.options.push(validateSshOption(arg)); break;
    }
  }
  return out;
}

/** POSIX single quoting: the result is one word to any sh, with no expansion at all. */
export function shQuote(value: string): string {
  if (value.includes('\0')) throw new UsageError('a value contains a NUL byte');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line an ssh channel runs: the peer's login shell parses it, `exec sh -c` puts a
 * POSIX sh in charge. Every argument is single-quoted; `extraRaw` may only hold constants.
 */
export function remoteCommand(argv: string[], opts: { sudo?: boolean } = {}): string {
  const prelude = 'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; export PATH; LC_ALL=C; export LC_ALL; exec "$@"';
  const full = opts.sudo ? ['sudo', '-n', ...argv] : argv;
  return `exec sh -c ${shQuote(prelude)} synprobe ${full.map(shQuote).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Errors

export type SshErrorCode =
  | 'ssh-missing'
  | 'ssh-auth'
  | 'ssh-hostkey'
  | 'ssh-refused'
  | 'ssh-unreachable'
  | 'ssh-resolve'
  | 'ssh-timeout'
  | 'ssh-failed'
  | 'ssh-lost'
  | 'ssh-interrupted';

export class SshError extends Error {
  readonly code: SshErrorCode;
  readonly stderr: string;
  readonly fix: string | undefined;
  constructor(code: SshErrorCode, message: string, stderr = '', fix?: string) {
    super(message);
    this.name = 'SshError';
    this.code = code;
    this.stderr = stderr;
    this.fix = fix;
  }
}

function oneLine(text: string, n = 3): string {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !/^Warning: Permanently added/.test(l)).slice(-n).join(' | ');
}

/** What ssh said, as one error with the thing to do. */
export function classifySshFailure(stderr: string, target: string): SshError {
  const said = oneLine(stderr);
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known|host key .* (mismatch|changed)/i.test(stderr)) {
    return new SshError('ssh-hostkey', `ssh to ${target}: the host key is unknown or has changed (${said})`, stderr,
      `connect once by hand (ssh ${target}) to check and accept the key, or pass --ssh-option StrictHostKeyChecking=accept-new`);
  }
  if (/Permission denied|Authentication failed|Too many authentication failures|no more authentication methods/i.test(stderr)) {
    return new SshError('ssh-auth', `ssh to ${target} asks for a password or refused the key (${said})`, stderr,
      `synprobe needs key login without a prompt: ssh-copy-id ${target}, or an agent, or --ssh-option IdentityFile=PATH`);
  }
  if (/Connection refused/i.test(stderr)) {
    return new SshError('ssh-refused', `ssh to ${target}: connection refused (${said})`, stderr,
      'is sshd running on the peer, and on which port? (--ssh-option Port=N)');
  }
  if (/Could not resolve hostname|Name or service not known|nodename nor servname|Temporary failure in name resolution/i.test(stderr)) {
    return new SshError('ssh-resolve', `ssh: cannot resolve ${target} (${said})`, stderr, 'check the name, or give the address: --ssh user@ADDRESS');
  }
  if (/timed out|No route to host|Network is unreachable|Connection closed by|Connection reset/i.test(stderr)) {
    return new SshError('ssh-unreachable', `ssh to ${target} failed: ${said}`, stderr,
      'check that the peer is reachable on its ssh port from here (and that the path is not already full: run synprobe before the ceiling is reached)');
  }
  return new SshError('ssh-failed', `ssh to ${target} failed${said ? `: ${said}` : ''}`, stderr);
}

// ---------------------------------------------------------------------------------------------
// The control connection

export interface SshSettings {
  /** `[user@]host`, validated. */
  target: string;
  /** The --ssh-option values (see normalizeSshOptions). */
  options?: string[];
  /** ssh client to use (default: found on PATH). */
  sshPath?: string;
  connectTimeoutSec?: number;
  /** Aborts the wait for the connection (Ctrl-C): the master is stopped, SshError 'ssh-interrupted'. */
  signal?: AbortSignal;
}

export interface SshConnectionTuple extends Excluded4Tuple {
  /** $SSH_CONNECTION as the peer printed it. */
  text: string;
}

export interface SshControl {
  readonly target: string;
  readonly controlPath: string;
  /** The 4-tuple of the control connection as the peer sees it; null if the peer did not say. */
  readonly connection: SshConnectionTuple | null;
  /** Runs commands on the peer through the control connection (preflight, counters). */
  readonly runner: CommandRunner;
  /** Argv of an ssh mux client that runs `command` (already quoted) on the peer. */
  clientArgv(command: string): string[];
  /** true while the master process runs. */
  alive(): boolean;
  /** Called once if the master exits before close(). */
  onLost(cb: (stderr: string) => void): void;
  /** ssh -O exit, then SIGTERM if needed; removes the control directory. Idempotent. */
  close(): Promise<void>;
}

function baseMuxArgs(ssh: string, configArgs: string[], controlPath: string): string[] {
  // ProxyCommand=false: a mux client that cannot reach the master must not open a new connection.
  return [ssh, ...configArgs, '-S', controlPath, '-o', 'ControlMaster=no', '-o', 'ProxyCommand=false', '-T', '-o', 'BatchMode=yes'];
}

async function makeControlDir(): Promise<string> {
  // unix socket paths are limited to ~104 bytes: fall back to /tmp for long TMPDIRs
  let base = tmpdir();
  if (base.length > 60) base = '/tmp';
  return mkdtemp(join(base, 'synprobe-ssh-'));
}

async function runSsh(argv: string[], timeoutMs: number, input?: string): Promise<CommandResult> {
  const r = await execa(argv[0]!, argv.slice(1), {
    reject: false,
    timeout: timeoutMs,
    stripFinalNewline: false,
    maxBuffer: 16 * 1024 * 1024,
    ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
  });
  return {
    exitCode: r.exitCode ?? null,
    signal: r.signal ?? null,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
    timedOut: Boolean(r.timedOut),
    ok: r.exitCode === 0,
  };
}

export function parseSshConnection(text: string): SshConnectionTuple | null {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 4) return null;
  const [a, pa, b, pb] = parts as [string, string, string, string];
  const port = (s: string): number | null => (/^\d{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535 ? Number(s) : null);
  if (isIP(a) === 0 || isIP(b) === 0 || port(pa) === null || port(pb) === null) return null;
  return { text: text.trim(), addrA: a, portA: port(pa)!, addrB: b, portB: port(pb)! };
}

/**
 * Opens the one ssh connection to the peer (a ControlMaster in its own session, SIGTERMed by
 * the kernel if synprobe dies) and waits until it is authenticated and ready.
 */
export async function openSshControl(settings: SshSettings): Promise<SshControl> {
  const target = validateSshTarget(settings.target);
  const normalized = normalizeSshOptions(settings.options ?? []);
  const userOptions = normalized.options;
  const configArgs = normalized.configFile ? ['-F', normalized.configFile] : [];
  const ssh = settings.sshPath ?? (await findExecutable('ssh'));
  if (!ssh) {
    throw new SshError('ssh-missing', 'ssh is not installed on this host', '', 'apt-get install openssh-client (or use --no-remote)');
  }
  const dir = await makeControlDir();
  const controlPath = join(dir, 'ctl');
  const connectTimeoutSec = settings.connectTimeoutSec ?? 15;
  const masterArgv = [
    ssh, ...configArgs, '-M', '-S', controlPath, '-N', '-T',
    '-o', 'ControlPersist=no',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${connectTimeoutSec}`,
    '-o', 'ServerAliveInterval=30',
    '-o', 'ServerAliveCountMax=10',
    '-o', 'ClearAllForwardings=yes',
    '-o', 'ForwardAgent=no',
    '-o', 'ForwardX11=no',
    '-o', 'PermitLocalCommand=no',
    '-o', 'RequestTTY=no',
    ...userOptions.flatMap((o) => ['-o', o]),
    '--', target,
  ];
  const master = spawnGuarded(masterArgv, { stdin: 'ignore', stdout: 'ignore' }).proc;
  let closing = false;
  const lostCbs: Array<(stderr: string) => void> = [];
  void master.exit.then(() => {
    if (!closing) for (const cb of lostCbs) cb(master.stderrText());
  });

  const cleanupDir = async (): Promise<void> => { await rm(dir, { recursive: true, force: true }).catch(() => undefined); };
  const fail = async (err: Error): Promise<never> => {
    closing = true;
    if (!master.exited()) {
      signalProcess(master.pid, 'SIGTERM');
      await within(master.exit, 3000);
    }
    master.stop();
    await cleanupDir();
    throw err;
  };

  // ready when `ssh -O check` answers through the socket; failed when the master exits
  const deadline = Date.now() + (connectTimeoutSec + 15) * 1000;
  for (;;) {
    if (settings.signal?.aborted) {
      return fail(new SshError('ssh-interrupted', `interrupted while connecting to ${target}`));
    }
    if (master.exited()) {
      await master.exit;
      return fail(classifySshFailure(master.stderrText(), target));
    }
    const check = await runSsh([ssh, ...configArgs, '-S', controlPath, '-O', 'check', '--', target], 5000);
    if (check.ok) break;
    if (Date.now() > deadline) {
      return fail(new SshError('ssh-timeout', `ssh to ${target} did not connect within ${connectTimeoutSec + 15} s${oneLine(master.stderrText()) ? ` (${oneLine(master.stderrText())})` : ''}`,
        master.stderrText(), 'check the address and that sshd answers on the peer'));
    }
    await within(master.exit, 100);
  }

  const clientArgv = (command: string): string[] => [...baseMuxArgs(ssh, configArgs, controlPath), '--', target, command];

  const runner: CommandRunner = {
    where: `on the peer (${target})`,
    remote: true,
    async run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
      if (!master.exited()) {
        return runSsh(clientArgv(remoteCommand(argv, { sudo: opts.sudo })), opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
      }
      return { exitCode: null, signal: null, stdout: '', stderr: 'the ssh control connection is closed', timedOut: false, ok: false };
    },
  };

  const env = await runner.run(['printenv', 'SSH_CONNECTION'], { timeoutMs: 15_000 });
  if (!env.ok && env.exitCode === 255) {
    return fail(classifySshFailure(env.stderr, target));
  }
  // (the last line: a chatty ~/.bashrc may print before the command runs)
  const connection = env.ok ? parseSshConnection(env.stdout.trim().split('\n').pop() ?? '') : null;

  return {
    target,
    controlPath,
    connection,
    runner,
    clientArgv,
    alive: () => !master.exited(),
    onLost: (cb) => { lostCbs.push(cb); },
    async close(): Promise<void> {
      if (closing) { await master.exit; return; }
      closing = true;
      if (!master.exited()) {
        await runSsh([ssh, ...configArgs, '-S', controlPath, '-O', 'exit', '--', target], 5000);
        await within(master.exit, 3000);
      }
      if (!master.exited()) {
        signalProcess(master.pid, 'SIGTERM');
        await within(master.exit, 3000);
      }
      if (!master.exited()) {
        signalProcess(master.pid, 'SIGKILL');
      }
      master.stop();
      await cleanupDir();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The remote capture

/**
 * The script the peer runs. Constant: everything variable arrives as $1..$6 and is checked again
 * here before use. Its messages to synprobe are stderr lines starting with "synprobe-remote: ".
 */
export const REMOTE_CAPTURE_SCRIPT = [
  'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; export PATH; LC_ALL=C; export LC_ALL',
  'iface=$1; snap=$2; buf=$3; filter=$4; use_sudo=$5; conn=$6',
  'say() { printf "synprobe-remote: %s\\n" "$*" >&2; }',
  'now() { date +%s.%N 2>/dev/null || date +%s; }',
  'case $iface in ""|-*|*[!A-Za-z0-9_.:@-]*) say "error bad-interface"; exit 64;; esac',
  'case $snap in ""|*[!0-9]*) say "error bad-snaplen"; exit 64;; esac',
  'case $buf in ""|*[!0-9]*) say "error bad-buffer"; exit 64;; esac',
  'case $use_sudo in 0|1) ;; *) say "error bad-sudo"; exit 64;; esac',
  'if ! command -v tcpdump >/dev/null 2>&1; then say "error tcpdump-missing"; exit 127; fi',
  'set -f; set -- $conn; set +f',
  'ok=0; if [ $# -eq 4 ]; then ok=1',
  '  case $1 in ""|*[!0-9A-Fa-f.:]*) ok=0;; esac; case $3 in ""|*[!0-9A-Fa-f.:]*) ok=0;; esac',
  '  case $2 in ""|*[!0-9]*) ok=0;; esac; case $4 in ""|*[!0-9]*) ok=0;; esac; fi',
  'if [ $ok = 1 ]; then filter="($filter) and not (host $1 and port $2 and host $3 and port $4)"; say "excluded $1 $2 $3 $4"',
  'else say "warning ssh-connection-unknown"; fi',
  'say "filter $filter"',
  'if [ "$use_sudo" = 1 ]; then set -- sudo -n tcpdump; else set -- tcpdump; fi',
  'exec 3<&0',
  '"$@" -i "$iface" -s "$snap" -B "$buf" -n -U --immediate-mode -w - "$filter" </dev/null &',
  'pid=$!',
  'say "pid $pid"',
  '( while read -r cmd arg; do',
  '    case $cmd in',
  '      mark) if kill -0 "$pid" 2>/dev/null; then a=1; else a=0; fi; say "mark $arg $(now) $a";;',
  '      stop) t=$(now); kill -TERM "$pid" 2>/dev/null; say "stopping $t";;',
  '    esac',
  '  done',
  '  kill -TERM "$pid" 2>/dev/null ) <&3 &',
  'w=$!',
  'exec 3<&-',
  'wait "$pid"; st=$?',
  'say "exit $st"',
  'kill "$w" 2>/dev/null',
  'exit "$st"',
].join('\n');

export interface RemoteCaptureOptions {
  interface: string;
  /** Built by buildServerFilter() (validated pieces only). */
  filter: string;
  /** Local path of server.pcap; must not exist. */
  file: string;
  snapLen?: number;
  bufferKiB?: number;
  sudo?: boolean;
  listenTimeoutMs?: number;
  /** Heartbeat period (mark lines), default 1000 ms. */
  heartbeatMs?: number;
}

export interface RemoteCapture {
  /** tcpdump's argv on the peer (for run.json). */
  readonly argv: string[];
  /** The filter tcpdump got on the peer (with the ssh exclusion). */
  readonly filter: string;
  /** tcpdump's (or sudo's) pid on the peer. */
  readonly remotePid: number;
  /** The local ssh mux client's pid. */
  readonly localPid: number;
  readonly file: string;
  /** Peer clock (ns) when tcpdump was known to be listening. */
  readonly startedAtNs: bigint;
  readonly clock: Clock;
  exited(): boolean;
  onUnexpectedExit(cb: (info: CaptureStopResult) => void): void;
  stop(timeoutMs?: number): Promise<CaptureStopResult>;
}

const PROTO = 'synprobe-remote: ';

function protocolLines(proc: WatchedProcess): string[] {
  return proc.stderrText().split('\n').filter((l) => l.startsWith(PROTO)).map((l) => l.slice(PROTO.length));
}

/** tcpdump's own stderr lines (the protocol lines removed). */
function tcpdumpStderr(proc: WatchedProcess): string {
  return proc.stderrText().split('\n').filter((l) => !l.startsWith(PROTO)).join('\n');
}

const PCAP_MAGICS = [
  Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]), Buffer.from([0xa1, 0xb2, 0xc3, 0xd4]),
  Buffer.from([0x4d, 0x3c, 0xb2, 0xa1]), Buffer.from([0xa1, 0xb2, 0x3c, 0x4d]),
];

/**
 * Passes the stream on from the first pcap magic number: whatever a login script on the peer
 * printed on stdout before tcpdump started is dropped (and counted), not written into the pcap.
 */
export function skipToPcapStart(onDropped: (bytes: number) => void): Transform {
  let found = false;
  let pending = Buffer.alloc(0);
  let dropped = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb): void {
      if (found) { cb(null, chunk); return; }
      pending = Buffer.concat([pending, chunk]);
      let at = -1;
      for (const m of PCAP_MAGICS) {
        const i = pending.indexOf(m);
        if (i >= 0 && (at < 0 || i < at)) at = i;
      }
      if (at < 0) {
        const keep = Math.min(3, pending.length);
        dropped += pending.length - keep;
        pending = pending.subarray(pending.length - keep);
        cb();
        return;
      }
      found = true;
      dropped += at;
      if (dropped > 0) onDropped(dropped);
      const out = pending.subarray(at);
      pending = Buffer.alloc(0);
      cb(null, out);
    },
    flush(cb): void {
      if (!found && pending.length > 0) { dropped += pending.length; onDropped(dropped); }
      cb();
    },
  });
}

export async function startRemoteCapture(ctl: SshControl, opts: RemoteCaptureOptions): Promise<RemoteCapture> {
  const iface = validateInterfaceName(opts.interface, '--remote-interface');
  const snapLen = opts.snapLen ?? DEFAULT_SNAPLEN;
  const bufferKiB = opts.bufferKiB ?? DEFAULT_BUFFER_KIB;
  if (!Number.isInteger(snapLen) || snapLen < 1 || !Number.isInteger(bufferKiB) || bufferKiB < 1) throw new UsageError('bad snap length or buffer size');
  const where = `on the peer (${ctl.target})`;
  if (!ctl.alive()) throw new SshError('ssh-lost', `the ssh connection to ${ctl.target} is closed`);

  const command = `exec sh -c ${shQuote(REMOTE_CAPTURE_SCRIPT)} synprobe-remote ${[
    iface, String(snapLen), String(bufferKiB), opts.filter, opts.sudo ? '1' : '0',
  ].map(shQuote).join(' ')} "$SSH_CONNECTION"`;

  let fh;
  try {
    fh = await open(opts.file, exclusiveCreateFlags(), 0o644);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TcpdumpError('output-error', `cannot create ${opts.file}: ${e.code === 'EEXIST' ? 'it already exists' : e.message}`, '', 'choose a new --out directory');
  }
  // The pcap comes through a pipe, written here: its end of stream is the proof that the ssh
  // master wrote everything (with the file descriptor itself handed to ssh, the master could
  // still be writing the tail after the client process has exited).
  const sink = fh.createWriteStream();
  let writeError: string | null = null;
  let spawned: { child: GuardedChild; proc: WatchedProcess };
  try {
    spawned = spawnGuarded(ctl.clientArgv(command), { stdin: 'pipe', stdout: 'pipe' });
  } catch (err) {
    sink.destroy();
    throw err;
  }
  const { child, proc } = spawned;
  const streamDone = new Promise<void>((resolve) => {
    sink.once('close', () => resolve());
    sink.once('error', (err: NodeJS.ErrnoException) => {
      writeError = `writing ${basename(opts.file)} failed: ${err.code ?? err.message}${err.code === 'ENOSPC' ? ' (the disk is full)' : ''}`;
      // keep draining the channel so that the peer's tcpdump is never blocked; end the capture
      start.unpipe(sink as unknown as NodeJS.WritableStream);
      start.resume();
      child.stdout?.resume();
      send('stop');
      resolve();
    });
  });
  let junkBytes = 0;
  const start = skipToPcapStart((n) => { junkBytes = n; });
  child.stdout?.pipe(start).pipe(sink as unknown as NodeJS.WritableStream);
  const waitStream = async (): Promise<void> => {
    if ((await within(streamDone, 10_000)) === null) sink.destroy();
  };
  function send(line: string): void {
    const stdin = child.stdin;
    if (stdin && !proc.exited()) {
      try { stdin.write(`${line}\n`); } catch { /* closed */ }
    }
  }
  child.stdin?.on('error', () => undefined); // EPIPE once the channel is gone
  const stdin = child.stdin;
  const closeStdin = (): void => { try { stdin?.end(); } catch { /* closed */ } };
  const killLocal = async (): Promise<void> => {
    if (proc.exited()) return;
    signalProcess(proc.pid, 'SIGTERM');
    await within(proc.exit, 3000);
    if (!proc.exited()) signalProcess(proc.pid, 'SIGKILL');
  };

  const listenTimeoutMs = opts.listenTimeoutMs ?? 15_000;
  const first = await waitForLine(proc, /listening on|^synprobe-remote: error /, listenTimeoutMs);
  if (first.kind !== 'line' || first.line.startsWith(PROTO)) {
    closeStdin();
    const exit = first.kind === 'exit' ? first : (await within(proc.exit, 5000));
    await killLocal();
    await waitStream();
    const stderr = proc.stderrText();
    if (first.kind === 'timeout') {
      throw new TcpdumpError('tcpdump-timeout', `tcpdump did not start listening on ${iface} within ${Math.round(listenTimeoutMs / 1000)} s ${where}${oneLine(tcpdumpStderr(proc)) ? `: ${oneLine(tcpdumpStderr(proc))}` : ''}`, stderr);
    }
    if (exit && exit.code === 255 && !/synprobe-remote: pid/.test(stderr)) throw classifySshFailure(stderr, ctl.target);
    throw classifyTcpdumpFailure(stderr, where, iface, exit ?? { code: null, signal: null });
  }
  const pidLine = protocolLines(proc).find((l) => l.startsWith('pid '));
  const remotePid = pidLine ? Number(pidLine.slice(4)) : -1;
  const filterLine = protocolLines(proc).find((l) => l.startsWith('filter '));
  const remoteFilter = filterLine ? filterLine.slice(7) : opts.filter;

  // marks: the peer's clock when tcpdump is known to be alive
  let markSeq = 0;
  let lastAlive: { ns: bigint; precise: boolean } | null = null;
  const markWaiters = new Map<number, (v: { ns: bigint; precise: boolean; alive: boolean } | null) => void>();
  let stopReply: { ns: bigint; precise: boolean } | null = null;
  proc.onStderrLine((line) => {
    if (!line.startsWith(PROTO)) return;
    const msg = line.slice(PROTO.length);
    let m = /^mark (\d+) (\S+) ([01])$/.exec(msg);
    if (m) {
      const t = nsFromEpochText(m[2]!);
      const alive = m[3] === '1';
      if (t && alive) lastAlive = t;
      markWaiters.get(Number(m[1]))?.(t ? { ...t, alive } : null);
      markWaiters.delete(Number(m[1]));
      return;
    }
    m = /^stopping (\S+)$/.exec(msg);
    if (m) stopReply = nsFromEpochText(m[1]!);
  });
  const mark = (timeoutMs: number): Promise<{ ns: bigint; precise: boolean; alive: boolean } | null> => {
    const seq = markSeq++;
    return new Promise((resolve) => {
      if (proc.exited()) { resolve(null); return; }
      const timer = setTimeout(() => { markWaiters.delete(seq); resolve(null); }, timeoutMs);
      markWaiters.set(seq, (v) => { clearTimeout(timer); resolve(v); });
      send(`mark ${seq}`);
    });
  };
  // once the stream has ended no answer will come: settle every mark still waiting
  void proc.exit.then(() => {
    for (const [seq, w] of [...markWaiters]) { markWaiters.delete(seq); w(null); }
  });

  const m0 = await mark(10_000);
  let startedAtNs: bigint;
  let clock: Clock = 'own';
  if (m0 && m0.alive) {
    // imprecise (seconds only): round up, the capture surely ran by the next second
    startedAtNs = m0.precise ? m0.ns : m0.ns + 1_000_000_000n;
  } else if (proc.exited() || (m0 && !m0.alive)) {
    await killLocal();
    await waitStream();
    throw classifyTcpdumpFailure(proc.stderrText(), where, iface, await proc.exit);
  } else {
    // the peer did not answer the mark: fall back to this host's clock
    startedAtNs = nowNs() + 1_000_000n;
    clock = 'client-estimated';
  }

  const heartbeat = setInterval(() => { void mark(5000); }, opts.heartbeatMs ?? 1000);
  heartbeat.unref();

  let stopRequested = false;
  let stopping: Promise<CaptureStopResult> | null = null;
  const unexpected: Array<(info: CaptureStopResult) => void> = [];

  const lastAliveNs = (): bigint => {
    const la = lastAlive as { ns: bigint; precise: boolean } | null;
    return la ? la.ns : startedAtNs;
  };

  const resultFrom = async (e: { code: number | null; signal: string | null }, stoppedAtNs: bigint, asked: boolean): Promise<CaptureStopResult> => {
    const all = proc.stderrText();
    let own = tcpdumpStderr(proc);
    const stats = parseTcpdumpStats(own);
    const exitLine = protocolLines(proc).find((l) => l.startsWith('exit '));
    const remoteExit = exitLine ? Number(exitLine.slice(5)) : null;
    let problem: string | null = writeError;
    if (problem) {
      // the disk, not the peer
    } else if (!asked) {
      problem = `the capture on the peer ended by itself during the run (${exitLine ? `tcpdump exit ${remoteExit}` : `ssh ${e.signal ? `signal ${e.signal}` : `exit ${e.code}`}`})${oneLine(own) ? `: ${oneLine(own)}` : ''}`;
    } else if (e.code !== 0) {
      problem = `the capture on the peer ${e.signal ? `was killed by ${e.signal}` : `ended with status ${e.code}`} when stopped${oneLine(own) ? `: ${oneLine(own)}` : ''}`;
    } else if (stats.captured === null || stats.droppedByKernel === null) {
      problem = 'tcpdump on the peer did not print its packet counts';
    } else if (/write error|No space left|Broken pipe/i.test(all)) {
      problem = `writing ${basename(opts.file)} failed: ${oneLine(all)}`;
    } else {
      problem = await checkFileAgainstStats(opts.file, basename(opts.file), stats.captured);
    }
    const bytes = await stat(opts.file).then((st) => st.size, () => null);
    if (junkBytes > 0) {
      own += `\nsynprobe: dropped ${junkBytes} bytes the peer's shell printed before the capture (a ~/.bashrc that prints?)`;
    }
    return {
      stats,
      exitCode: remoteExit ?? e.code,
      signal: e.signal,
      stoppedAtNs,
      stderr: own.split('\n').map((l) => l.trim()).filter(Boolean).slice(-20).join('\n'),
      clean: problem === null,
      problem,
      bytes,
    };
  };

  void proc.exit.then(async (e) => {
    clearInterval(heartbeat);
    if (stopRequested) return;
    await waitStream();
    const info = await resultFrom(e, lastAliveNs(), false);
    for (const cb of unexpected) cb(info);
  });

  return {
    argv: [...(opts.sudo ? ['sudo', '-n'] : []), 'tcpdump', '-i', iface, '-s', String(snapLen), '-B', String(bufferKiB), '-n', '-U', '--immediate-mode', '-w', '-', remoteFilter],
    filter: remoteFilter,
    remotePid,
    localPid: proc.pid,
    file: opts.file,
    startedAtNs,
    clock,
    exited: () => proc.exited(),
    onUnexpectedExit: (cb) => { unexpected.push(cb); },
    stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS + 5000): Promise<CaptureStopResult> {
      if (stopping) return stopping;
      stopping = (async () => {
        const wasRunning = !proc.exited();
        stopRequested = true;
        clearInterval(heartbeat);
        const localStopNs = nowNs();
        const notes: string[] = [];
        const waitExit = (ms: number): Promise<boolean> =>
          within(proc.exit, ms).then((e) => e !== null);
        if (wasRunning) {
          send('stop');
          if (!(await waitExit(timeoutMs))) {
            notes.push(`the peer did not stop tcpdump within ${Math.round(timeoutMs / 1000)} s`);
            // second way: SIGTERM by pid over a new channel of the same connection
            if (remotePid > 0 && ctl.alive()) {
              const k = await ctl.runner.run(['kill', '-TERM', String(remotePid)], { timeoutMs: 5000 });
              if (!k.ok && opts.sudo) await ctl.runner.run(['kill', '-TERM', String(remotePid)], { sudo: true, timeoutMs: 5000 });
            }
            if (!(await waitExit(5000))) {
              // third: close stdin, the script then SIGTERMs tcpdump itself
              closeStdin();
              if (!(await waitExit(5000))) {
                notes.push('the ssh client was killed');
                await killLocal();
              }
            }
          }
        }
        closeStdin();
        const e = await proc.exit;
        await waitStream();
        const sr = stopReply as { ns: bigint; precise: boolean } | null;
        let stoppedAtNs: bigint;
        if (!wasRunning) stoppedAtNs = lastAliveNs();
        else if (sr && clock === 'own') stoppedAtNs = sr.ns; // seconds-only values are already rounded down
        else if (clock === 'own') stoppedAtNs = lastAliveNs();
        else stoppedAtNs = localStopNs;
        const result = await resultFrom(e, stoppedAtNs, wasRunning);
        if (notes.length) {
          result.clean = false;
          result.problem = [notes.join('; '), result.problem].filter(Boolean).join('; ');
        }
        proc.stop();
        return result;
      })();
      return stopping;
    },
  };
}
