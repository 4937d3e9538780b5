/**
 * tcpdump on this host: started with execa (no shell), its pcap written by tcpdump straight into
 * a file descriptor we created exclusively, shown listening before the caller goes on, and
 * stopped by SIGTERM to the tcpdump process itself so it flushes and prints its counts.
 *
 * Also the pieces both captures share: interface-name validation, capture filters built only
 * from validated addresses and ports, parsing of tcpdump's stop counts, and the classification
 * of tcpdump's error messages into one line a user can act on.
 */
import { execa, type Options } from 'execa';
import { readFileSync } from 'node:fs';
import { access, constants as fsConstantsP, open, readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { portRuns } from '../ports.js';
import { basename, delimiter, join } from 'node:path';
import { UsageError } from '../cli/io.js';
import {
  exclusiveCreateFlags,
  nowNs,
  nowNsCeil,
  type TcpdumpStats,
} from '../run/run-facts.js';

export const DEFAULT_SNAPLEN = 96;
export const DEFAULT_BUFFER_KIB = 4096;
export const DEFAULT_LISTEN_TIMEOUT_MS = 10_000;
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

const INTERFACE_RE = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** Interface names as Linux allows them, without shell or option metacharacters. */
export function validateInterfaceName(name: string, option = '--interface'): string {
  if (!INTERFACE_RE.test(name) || name.startsWith('-')) {
    throw new UsageError(
      `${option} ${JSON.stringify(name)} is not an interface name (1-15 of A-Z a-z 0-9 _ . : @ -, not starting with -)`,
    );
  }
  return name;
}

export function validatePort(value: number, option = '--port'): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new UsageError(`${option} must be a port number from 1 to 65535`);
  }
  return value;
}

function filterAddress(addr: string): string {
  if (isIP(addr) === 0) throw new UsageError(`not an IP address: ${JSON.stringify(addr)}`);
  return addr;
}

/** One TCP 4-tuple to keep out of a capture (the ssh session that carries the remote capture). */
export interface Excluded4Tuple {
  addrA: string;
  portA: number;
  addrB: string;
  portB: number;
}

function exclusionClause(ex: Excluded4Tuple | null | undefined): string {
  if (!ex) return '';
  return ` and not (host ${filterAddress(ex.addrA)} and port ${validatePort(ex.portA, 'ssh port')}`
    + ` and host ${filterAddress(ex.addrB)} and port ${validatePort(ex.portB, 'ssh port')})`;
}

/**
 * A pcap-filter term for one or more ports, from validated numbers only: "port 8000",
 * "portrange 8000-8003", "(port 8000 or portrange 9000-9001)". `dir` is 'dst ' or 'src '.
 */
export function portTerm(ports: number | readonly number[], dir: 'dst ' | 'src '): string {
  const list = typeof ports === 'number' ? [ports] : ports;
  if (list.length === 0) throw new UsageError('no port given');
  const terms = portRuns(list.map((p) => validatePort(p))).map(([a, b]) => (a === b ? `${dir}port ${a}` : `${dir}portrange ${a}-${b}`));
  return terms.length === 1 ? terms[0]! : `(${terms.join(' or ')})`;
}

/** The client side sees the probe's packets to and from peer:ports. */
export function buildClientFilter(peerAddress: string, ports: number | readonly number[], exclude?: Excluded4Tuple | null): string {
  const a = filterAddress(peerAddress);
  return `tcp and ((dst host ${a} and ${portTerm(ports, 'dst ')}) or (src host ${a} and ${portTerm(ports, 'src ')}))${exclusionClause(exclude)}`;
}

/**
 * The server side filters on the ports only: behind NAT the server sees other addresses than the
 * client used, and on clouds the peer's own address differs from the one the client dials.
 */
export function buildServerFilter(ports: number | readonly number[]): string {
  return `tcp and (${portTerm(ports, 'dst ')} or ${portTerm(ports, 'src ')})`;
}

/**
 * Parses the counts tcpdump prints when it stops:
 *   "12 packets captured", "12 packets received by filter", "0 packets dropped by kernel",
 *   and (when non-zero) "3 packets dropped by interface". Singular "1 packet ..." too.
 */
export function parseTcpdumpStats(stderr: string): TcpdumpStats {
  const pick = (what: string): number | null => {
    const re = new RegExp(`(?:^|[\\s:,])(\\d+) packets? ${what}`, 'g');
    let last: number | null = null;
    for (const m of stderr.matchAll(re)) last = Number(m[1]);
    return last;
  };
  const stats: TcpdumpStats = {
    captured: pick('captured'),
    receivedByFilter: pick('received by filter'),
    droppedByKernel: pick('dropped by kernel'),
    droppedByInterface: pick('dropped by interface'),
  };
  // tcpdump prints "dropped by interface" only when it is not zero.
  if (stats.droppedByInterface === null && stats.droppedByKernel !== null) stats.droppedByInterface = 0;
  return stats;
}

/**
 * Counts the whole records of a classic pcap file (what tcpdump -w writes), to check that the
 * file holds every packet tcpdump said it captured. null when the file is not a pcap.
 */
export async function countPcapRecords(path: string): Promise<{ packets: number; trailingBytes: number } | null> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    return null;
  }
  if (buf.length < 24) return null;
  const magic = buf.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else return null;
  let off = 24;
  let packets = 0;
  while (off + 16 <= buf.length) {
    const incl = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    if (off + 16 + incl > buf.length) break;
    off += 16 + incl;
    packets++;
  }
  return { packets, trailingBytes: buf.length - off };
}

/** A problem when the file holds fewer packets than tcpdump counted (lost on the way to disk). */
export async function checkFileAgainstStats(path: string, name: string, captured: number | null): Promise<string | null> {
  if (captured === null) return null;
  const c = await countPcapRecords(path);
  if (c === null) return `${name} is not a readable pcap file`;
  if (c.packets < captured) return `${name} holds ${c.packets} packets but tcpdump captured ${captured}: the end was lost on the way to disk`;
  return null;
}

export type TcpdumpErrorCode =
  | 'tcpdump-missing'
  | 'tcpdump-permission'
  | 'interface-missing'
  | 'interface-down'
  | 'tcpdump-filter'
  | 'tcpdump-timeout'
  | 'tcpdump-exited'
  | 'sudo-password'
  | 'sudo-refused'
  | 'output-error';

export class TcpdumpError extends Error {
  readonly code: TcpdumpErrorCode;
  readonly stderr: string;
  readonly fix: string | undefined;
  constructor(code: TcpdumpErrorCode, message: string, stderr = '', fix?: string) {
    super(message);
    this.name = 'TcpdumpError';
    this.code = code;
    this.stderr = stderr;
    this.fix = fix;
  }
}

function lastLines(text: string, n = 6): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-n).join(' | ');
}

/**
 * Turns tcpdump's (or sudo's, or the shell's) complaint into one error a user can act on.
 * `where` is 'on this host' or 'on the peer (host)'.
 */
export function classifyTcpdumpFailure(
  stderr: string,
  where: string,
  iface: string,
  exit: { code: number | null; signal: string | null },
): TcpdumpError {
  const said = lastLines(stderr);
  if (/a (terminal|password) is required|password is required|askpass/i.test(stderr)) {
    return new TcpdumpError('sudo-password', `sudo asks for a password ${where}`, stderr,
      'allow tcpdump without a password there, e.g. in /etc/sudoers.d/synprobe: "USER ALL=(root) NOPASSWD: /usr/sbin/tcpdump" (or /usr/bin/tcpdump)');
  }
  if (/is not allowed to (run|execute) sudo|not in the sudoers|may not run sudo|sorry, you must have a tty/i.test(stderr)) {
    return new TcpdumpError('sudo-refused', `sudo refused to run tcpdump ${where}: ${said}`, stderr,
      'allow tcpdump for this user in sudoers (NOPASSWD, no requiretty)');
  }
  if (/tcpdump-missing|tcpdump: (command )?not found|tcpdump: No such file|failed to execute .*tcpdump|ENOENT/i.test(stderr)
    || exit.code === 127) {
    return new TcpdumpError('tcpdump-missing', `tcpdump is not installed ${where}`, stderr,
      'install it: apt-get install tcpdump (Debian/Ubuntu) or dnf install tcpdump (Fedora/RHEL/Amazon Linux)');
  }
  if (/permission|Operation not permitted|not permitted|EPERM|EACCES/i.test(stderr)) {
    return new TcpdumpError('tcpdump-permission', `tcpdump is not allowed to capture on ${iface} ${where}: ${said}`, stderr,
      'run as root (sudo synprobe capture ...; --sudo for the peer) or grant the capability: setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)"');
  }
  if (/No such device|doesn't exist|does not exist|no suitable device|SIOCGIFHWADDR/i.test(stderr)) {
    return new TcpdumpError('interface-missing', `interface ${iface} does not exist ${where}`, stderr,
      'list the interfaces with "ip -br link" and pass --interface (this host) or --remote-interface (the peer)');
  }
  if (/is not up|That device is not up/i.test(stderr)) {
    return new TcpdumpError('interface-down', `interface ${iface} is down ${where}`, stderr, `ip link set ${iface} up`);
  }
  if (/syntax error|can't parse filter|illegal/i.test(stderr)) {
    return new TcpdumpError('tcpdump-filter', `tcpdump rejected the capture filter ${where}: ${said}`, stderr);
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  return new TcpdumpError('tcpdump-exited', `tcpdump ${how} ${where}${said ? `: ${said}` : ''}`, stderr);
}

/** Finds an executable on PATH and in the sbin directories (tcpdump lives in /usr/sbin on Debian). */
export async function findExecutable(name: string, extraDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin']): Promise<string | null> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      const st = await stat(candidate);
      if (!st.isFile()) continue;
      await access(candidate, fsConstantsP.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** The argv of a capture: `-U -w -` (pcap on stdout, flushed per packet), no name lookups. */
export function buildTcpdumpArgs(opts: { interface: string; filter: string; snapLen: number; bufferKiB: number }): string[] {
  return [
    '-i', validateInterfaceName(opts.interface),
    '-s', String(opts.snapLen),
    '-B', String(opts.bufferKiB),
    '-n',
    '-U',
    '--immediate-mode',
    '-w', '-',
    opts.filter,
  ];
}

export interface CaptureStopResult {
  stats: TcpdumpStats;
  exitCode: number | null;
  signal: string | null;
  /** Conservative stop (ns): taken just before SIGTERM, or the last time tcpdump was seen alive. */
  stoppedAtNs: bigint;
  stderr: string;
  /** Stopped by our SIGTERM, exit 0, counts printed. */
  clean: boolean;
  /** One line saying why not clean; null when clean. */
  problem: string | null;
  bytes: number | null;
}

export interface LocalCaptureOptions {
  interface: string;
  filter: string;
  /** Path of the pcap to create; it must not exist (created with O_EXCL|O_NOFOLLOW). */
  file: string;
  snapLen?: number;
  bufferKiB?: number;
  listenTimeoutMs?: number;
  /** tcpdump to run; found on PATH and in the sbin directories by default. */
  tcpdumpPath?: string;
}

export interface LocalCapture {
  readonly argv: string[];
  readonly pid: number;
  readonly file: string;
  /** Conservative start (ns): the moment "listening on" was read, rounded up. */
  readonly startedAtNs: bigint;
  /** true once tcpdump has exited (for whatever reason). */
  exited(): boolean;
  /** Called once if tcpdump exits before stop() was asked for. */
  onUnexpectedExit(cb: (info: CaptureStopResult) => void): void;
  /** SIGTERM to tcpdump, wait, check; idempotent. */
  stop(timeoutMs?: number): Promise<CaptureStopResult>;
}

/**
 * The guard against synprobe dying (SIGKILL, crash) with a tcpdump or ssh still running: a tiny
 * sh that reads a pipe only synprobe holds and, when it reads EOF (synprobe is gone), SIGTERMs
 * the guarded process. (prctl's parent-death signal would be simpler, but the kernel clears it
 * when tcpdump drops privileges or is run from a binary with file capabilities — the very setups
 * a capture uses.) The watchdog is killed as soon as the guarded process exits.
 */
const WATCHDOG_SCRIPT = 'trap "" INT HUP; while read -r _; do :; done; kill -TERM "$1" 2>/dev/null';

function startWatchdog(pid: number): { stop(): void } {
  const wd = execa('sh', ['-c', WATCHDOG_SCRIPT, 'synprobe-watchdog', String(pid)], {
    stdin: 'pipe', stdout: 'ignore', stderr: 'ignore', reject: false, buffer: false, detached: true, cleanup: false,
  });
  void wd.catch(() => undefined);
  // the pipe must not keep synprobe's event loop alive
  (wd.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  (wd as unknown as { unref?: () => void }).unref?.();
  return {
    stop(): void {
      signalProcess(wd.pid, 'SIGKILL');
    },
  };
}

/** `promise`, or null after `ms` — whichever comes first; the timer never outlives the race. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => { timer = setTimeout(() => r(null), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What synprobe needs of a spawned process (execa's subprocess is one). */
export interface GuardedChild {
  pid?: number | undefined;
  stdin: NodeJS.WritableStream | null;
  stdout: NodeJS.ReadableStream | null;
  stderr: NodeJS.ReadableStream | null;
  on(ev: 'exit', cb: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(ev: 'error', cb: (err: Error) => void): unknown;
  /** Settles when the process is over, or could not be started at all (then with `failed`). */
  settled?: Promise<{ exitCode?: number | undefined; signal?: string | undefined; failed?: boolean; message?: string }>;
}

/**
 * A process run in its own session (Ctrl-C on the terminal reaches synprobe only, which then
 * stops captures in order), SIGTERMed by a watchdog if synprobe itself dies.
 */
export function spawnGuarded(
  argv: string[],
  stdio: { stdin: 'ignore' | 'pipe'; stdout: number | 'pipe' | 'ignore' },
): { child: GuardedChild; proc: WatchedProcess } {
  const options: Options = {
    stdin: stdio.stdin,
    stdout: stdio.stdout as Options['stdout'],
    stderr: 'pipe',
    reject: false,
    buffer: false,
    detached: true,
    cleanup: false,
  };
  const sub = execa(argv[0]!, argv.slice(1), options);
  // execa's promise settles with the result; we follow the process through its events.
  void sub.catch(() => undefined);
  if (sub.pid !== undefined) {
    const watchdog = startWatchdog(sub.pid);
    sub.on('exit', () => watchdog.stop());
  }
  const child = sub as unknown as GuardedChild;
  // a command that cannot be started emits no 'exit': its settled result says so
  child.settled = sub.then(
    (r) => ({ exitCode: r.exitCode, signal: r.signal, failed: r.failed, message: r.failed ? r.shortMessage : '' }),
    (e: Error) => ({ failed: true, message: e.message }),
  );
  // watched at once: a short-lived process may exit and print before any later await returns
  return { child, proc: watchProcess(child) };
}

export interface WatchedProcess {
  pid: number;
  stderrText(): string;
  /** Resolves with the exit; never rejects. */
  exit: Promise<{ code: number | null; signal: string | null }>;
  exited(): boolean;
  /** ns of the last time the process was seen running (checked every 200 ms). */
  lastAliveNs(): bigint;
  onStderrLine(cb: (line: string) => void): void;
  stop(): void;
}

/** true while `pid` runs (exists and is not a zombie waiting to be reaped). */
export function isRunning(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Follows a spawned process: its stderr (kept, 64 KiB tail), exit, and a liveness heartbeat. */
export function watchProcess(sub: GuardedChild): WatchedProcess {
  let stderr = '';
  let partial = '';
  const lineCbs: Array<(line: string) => void> = [];
  let hasExited = false;
  let lastAlive = nowNs();
  // alive when checked means alive at the time taken just before: a conservative "last seen"
  const heartbeat = setInterval(() => {
    const t = nowNs();
    if (!hasExited && isRunning(sub.pid)) lastAlive = t;
  }, 200);
  heartbeat.unref();
  sub.stderr?.setEncoding?.('utf8');
  sub.stderr?.on('data', (chunk: string | Buffer) => {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    stderr += text;
    if (stderr.length > 65536) stderr = stderr.slice(-65536);
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl).replace(/\r$/, '');
      partial = partial.slice(nl + 1);
      for (const cb of lineCbs) cb(line);
    }
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    let done = false;
    const finish = (code: number | null, signal: string | null): void => {
      if (done) return;
      done = true;
      hasExited = true;
      clearInterval(heartbeat);
      // let the last stderr bytes arrive before anyone reads them
      const flush = (): void => {
        if (partial) { const line = partial; partial = ''; for (const cb of lineCbs) cb(line); }
        resolve({ code, signal });
      };
      if (sub.stderr && !(sub.stderr as NodeJS.ReadableStream & { readableEnded?: boolean }).readableEnded) {
        let settled = false;
        const settle = (): void => { if (!settled) { settled = true; flush(); } };
        sub.stderr.once('end', settle);
        sub.stderr.once('close', settle);
        setTimeout(settle, 1000).unref();
      } else {
        flush();
      }
    };
    sub.on('exit', (code, signal) => finish(code, signal));
    sub.on('error', (err) => { stderr += `\n${err.message}`; finish(127, null); });
    // the 'exit' event may have fired before these listeners were attached: the settled
    // result says the same (and it is the only word on a command that could not be started)
    void sub.settled?.then((r) => {
      if (r.exitCode === undefined && r.signal === undefined) {
        stderr += `\n${r.message ?? 'could not be started'}`;
        finish(127, null);
      } else {
        finish(r.exitCode ?? null, r.signal ?? null);
      }
    });
  });
  return {
    pid: sub.pid ?? -1,
    stderrText: () => stderr,
    exit,
    exited: () => hasExited,
    lastAliveNs: () => lastAlive,
    onStderrLine: (cb) => { lineCbs.push(cb); },
    stop: () => clearInterval(heartbeat),
  };
}

/** Waits for a stderr line matching `re`, the exit, or the timeout — whichever comes first. */
export function waitForLine(
  proc: WatchedProcess,
  re: RegExp,
  timeoutMs: number,
): Promise<{ kind: 'line'; line: string } | { kind: 'exit'; code: number | null; signal: string | null } | { kind: 'timeout' }> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (v: Parameters<typeof resolve>[0]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const already = proc.stderrText().split('\n').find((l) => re.test(l));
    if (already !== undefined) {
      settle({ kind: 'line', line: already });
      return;
    }
    timer = setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
    proc.onStderrLine((line) => { if (re.test(line)) settle({ kind: 'line', line }); });
    void proc.exit.then((e) => settle({ kind: 'exit', ...e }));
  });
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/**
 * Signals one process. Never a group or "every process": a pid that is not a positive integer
 * (a process that never started has none) is ignored — kill(-1) would hit everything we may.
 */
export function signalProcess(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  signalProcess(pid, signal);
}

/**
 * Starts tcpdump on this host and resolves once it is listening. The pcap file is created
 * here (exclusively, without following symlinks) and handed to tcpdump as its stdout.
 */
export async function startLocalCapture(opts: LocalCaptureOptions): Promise<LocalCapture> {
  const iface = validateInterfaceName(opts.interface);
  const snapLen = opts.snapLen ?? DEFAULT_SNAPLEN;
  const bufferKiB = opts.bufferKiB ?? DEFAULT_BUFFER_KIB;
  const tcpdump = opts.tcpdumpPath ?? (await findExecutable('tcpdump'));
  if (!tcpdump) {
    throw new TcpdumpError('tcpdump-missing', 'tcpdump is not installed on this host', '',
      'install it: apt-get install tcpdump (Debian/Ubuntu) or dnf install tcpdump (Fedora/RHEL/Amazon Linux)');
  }
  const args = buildTcpdumpArgs({ interface: iface, filter: opts.filter, snapLen, bufferKiB });
  let fh;
  try {
    fh = await open(opts.file, exclusiveCreateFlags(), 0o644);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TcpdumpError('output-error', `cannot create ${opts.file}: ${e.code === 'EEXIST' ? 'it already exists' : e.message}`, '',
      'choose a new --out directory');
  }
  let proc: WatchedProcess;
  try {
    proc = spawnGuarded([tcpdump, ...args], { stdin: 'ignore', stdout: fh.fd }).proc;
  } finally {
    // tcpdump has its own copy of the descriptor now
    await fh.close();
  }
  const where = 'on this host';
  const first = await waitForLine(proc, /listening on/, opts.listenTimeoutMs ?? DEFAULT_LISTEN_TIMEOUT_MS);
  if (first.kind !== 'line') {
    if (first.kind === 'timeout') {
      killQuietly(proc.pid, 'SIGTERM');
      await within(proc.exit, 2000);
      if (!proc.exited()) killQuietly(proc.pid, 'SIGKILL');
      throw new TcpdumpError('tcpdump-timeout',
        `tcpdump did not start listening on ${iface} within ${Math.round((opts.listenTimeoutMs ?? DEFAULT_LISTEN_TIMEOUT_MS) / 1000)} s ${where}${proc.stderrText().trim() ? `: ${lastLines(proc.stderrText())}` : ''}`,
        proc.stderrText());
    }
    throw classifyTcpdumpFailure(proc.stderrText(), where, iface, first);
  }
  const startedAtNs = nowNsCeil();
  let stopRequested = false;
  let stopping: Promise<CaptureStopResult> | null = null;
  const unexpected: Array<(info: CaptureStopResult) => void> = [];

  const resultFrom = async (e: { code: number | null; signal: string | null }, stoppedAtNs: bigint, asked: boolean): Promise<CaptureStopResult> => {
    const stderr = proc.stderrText();
    const stats = parseTcpdumpStats(stderr);
    let problem: string | null = null;
    if (!asked) problem = `tcpdump stopped by itself during the run (${e.signal ? `signal ${e.signal}` : `exit ${e.code}`})${lastLines(stderr, 3) ? `: ${lastLines(stderr, 3)}` : ''}`;
    else if (e.code !== 0) problem = `tcpdump ${e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code}`} when stopped${lastLines(stderr, 2) ? `: ${lastLines(stderr, 2)}` : ''}`;
    else if (stats.captured === null || stats.droppedByKernel === null) problem = 'tcpdump did not print its packet counts';
    else if (/write error|No space left|pcap_dump|Broken pipe/i.test(stderr)) problem = `tcpdump reported a write error: ${lastLines(stderr, 2)}`;
    else problem = await checkFileAgainstStats(opts.file, basename(opts.file), stats.captured);
    return {
      stats,
      exitCode: e.code,
      signal: e.signal,
      stoppedAtNs,
      stderr: lastLines(stderr, 20).split(' | ').join('\n'),
      clean: problem === null,
      problem,
      bytes: await fileSize(opts.file),
    };
  };

  void proc.exit.then(async (e) => {
    if (stopRequested) return;
    const info = await resultFrom(e, proc.lastAliveNs(), false);
    for (const cb of unexpected) cb(info);
  });

  return {
    argv: [tcpdump, ...args],
    pid: proc.pid,
    file: opts.file,
    startedAtNs,
    exited: () => proc.exited(),
    onUnexpectedExit: (cb) => { unexpected.push(cb); },
    stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<CaptureStopResult> {
      if (stopping) return stopping;
      stopping = (async () => {
        const wasRunning = !proc.exited();
        stopRequested = true;
        let stoppedAtNs = wasRunning ? nowNs() : proc.lastAliveNs();
        if (wasRunning) killQuietly(proc.pid, 'SIGTERM');
        let e = await within(proc.exit, timeoutMs);
        let killed = false;
        if (e === null) {
          killed = true;
          killQuietly(proc.pid, 'SIGKILL');
          e = await proc.exit;
        }
        if (!wasRunning) stoppedAtNs = proc.lastAliveNs();
        const result = await resultFrom(e, stoppedAtNs, wasRunning);
        if (killed) {
          result.clean = false;
          result.problem = `tcpdump did not stop within ${Math.round(timeoutMs / 1000)} s of SIGTERM and was killed`;
        }
        proc.stop();
        return result;
      })();
      return stopping;
    },
  };
}
