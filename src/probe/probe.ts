/**
 * The single-worker probe: one connection at a time (connect, wait for it, keep it, next), every
 * connection held open, stopping at the first failure, at `max`, or when the signal aborts. A
 * single worker makes the first failure unambiguous: every connection before it was
 * established and is still open, so the count held is the ceiling.
 *
 * Several source addresses (`binds`) and destination ports (`ports`) make (source, port) pairs;
 * attempt k uses pair (k-1) mod pairs, still one attempt at a time. Without a source address the
 * kernel picks the local port in connect(), and one local port serves every destination port.
 * With one, bind() would pick a port no other socket of that address uses, whatever the
 * destination: one source would stop at the size of the port range however many destination
 * ports there are. So the probe names the local port itself, walking ip_local_port_range (minus
 * ip_local_reserved_ports) for every pair; a port the kernel will not give (a listener, another
 * connection with the same 4-tuple, a TIME_WAIT) is skipped before any SYN leaves.
 *
 * Two engines follow these rules: 'native' (native/connect.c: blocking connect() on a thread of
 * its own, the speed of a minimal C client) when `npm install` could build it, and 'node' (Node's
 * sockets, about a third of that speed: bench/PERFORMANCE.md). The messages, the result and the
 * checks of the options are this file's, for both.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { constants as osConstants } from 'node:os';
import { parseLocalPortRange, type LocalPortRange } from '../ports.js';
import { nativeEngine, type NativeBinding, type NativeRunResult } from './native.js';

export interface ProbeOptions {
  host: string;
  /** One destination port (or give `ports`). */
  port?: number;
  /** Destination ports; attempts go round them. */
  ports?: number[];
  max: number;
  connectTimeoutMs: number;
  /** One local address to connect from (or give `binds`). */
  bind?: string;
  /** Local addresses to connect from; attempts go round (address, port) pairs. */
  binds?: string[];
  /**
   * The local ports the probe names itself when it binds a source address; default: this
   * host's ip_local_port_range minus ip_local_reserved_ports.
   */
  localPorts?: LocalPortRange;
  onProgress?: (p: ProbeProgress) => void;
  signal?: AbortSignal;
  /**
   * 'auto' (default; or SYNPROBE_PROBE_ENGINE): the native loop when it was built, else Node's
   * sockets. 'native' fails when it was not built.
   */
  engine?: 'auto' | ProbeEngine;
}

/** Which connect loop ran: native/connect.c, or Node's sockets. */
export type ProbeEngine = 'native' | 'node';

export type { LocalPortRange };

export interface ProbeProgress { held: number; attempts: number; elapsedMs: number; ratePerSec: number }

export type FailureKind = 'timeout' | 'refused' | 'local-limit' | 'unreachable' | 'other';

export interface ProbeFailure {
  /** 1-based number of the attempt that failed. */
  attempt: number;
  /** errno name: ETIMEDOUT, ECONNREFUSED, EADDRNOTAVAIL, EMFILE, ECONNRESET, ... */
  code: string;
  message: string;
  /** The local address and port the failing SYN was sent from, when the kernel had bound them. */
  localAddress: string | null;
  localPort: number | null;
  /** The destination port of the failing attempt. */
  remotePort: number;
  /** When the attempt started (ISO 8601). */
  startedAt: string;
  /** How long the attempt took until it failed. */
  elapsedMs: number;
  kind: FailureKind;
}

/** One (source address, destination port) pair and what it got. */
export interface ProbePair {
  /** The bound source address; null: the kernel chose it. */
  source: string | null;
  port: number;
  attempts: number;
  established: number;
}

export interface ProbeResult {
  attempts: number;
  established: number;
  stoppedBy: 'failure' | 'max' | 'aborted';
  failure: ProbeFailure | null;
  /** Every pair, in the order attempts go round them. */
  pairs: ProbePair[];
  /** Local ports the kernel would not give for a bound source (skipped before any SYN left). */
  skippedLocalPorts: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /**
   * Connections established per second, over the run up to the start of the failing attempt (its
   * wait for a timeout is not the rate at which connections were made); the whole run otherwise.
   */
  ratePerSec: number;
  engine: ProbeEngine;
  /** Why the Node engine ran when 'auto' wanted the native one; null otherwise. */
  engineNote: string | null;
}

export interface HeldProbe {
  result: ProbeResult;
  /** Connections still held (established and not closed by us). */
  held(): number;
  /** Closes every held connection. */
  close(): Promise<void>;
}

const PROGRESS_INTERVAL_MS = 250;
/** Node's timers hold at most 2^31-1 ms (a longer one fires after 1 ms); the timer re-arms for the rest. */
const MAX_TIMER_MS = 0x7fff_ffff;
/** A bound source gives up after this many local ports in a row the kernel would not give. */
const MAX_SKIPS_IN_A_ROW = 4096;

/** errno name → what it means for the probe. */
export function classifyError(code: string): FailureKind {
  switch (code) {
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNREFUSED':
      return 'refused';
    case 'EADDRNOTAVAIL':
    case 'EADDRINUSE':
    case 'EMFILE':
    case 'ENFILE':
    case 'ENOBUFS':
    case 'ENOMEM':
      return 'local-limit';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENETDOWN':
    case 'EHOSTDOWN':
      return 'unreachable';
    default:
      return 'other';
  }
}

function targetsOf(opts: ProbeOptions): { ports: number[]; binds: string[] } {
  const ports = opts.ports ?? (opts.port !== undefined ? [opts.port] : []);
  const binds = opts.binds ?? (opts.bind !== undefined ? [opts.bind] : []);
  return { ports, binds };
}

function validateOptions(opts: ProbeOptions): void {
  if (typeof opts.host !== 'string' || opts.host.length === 0) throw new Error('host is required');
  const { ports, binds } = targetsOf(opts);
  if (ports.length === 0) throw new Error('a destination port is required');
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port} (1-65535)`);
  }
  if (new Set(ports).size !== ports.length) throw new Error('a destination port is named twice');
  if (!Number.isInteger(opts.max) || opts.max < 1) throw new Error(`max must be a positive integer, not ${opts.max}`);
  if (!Number.isFinite(opts.connectTimeoutMs) || opts.connectTimeoutMs <= 0) {
    throw new Error(`connectTimeoutMs must be positive, not ${opts.connectTimeoutMs}`);
  }
  for (const b of binds) if (net.isIP(b) === 0) throw new Error(`bind address '${b}' is not an IP address`);
  if (new Set(binds).size !== binds.length) throw new Error('a bind address is named twice');
  const r = opts.localPorts;
  if (r && !(Number.isInteger(r.low) && Number.isInteger(r.high) && r.low >= 1 && r.high <= 65535 && r.low <= r.high)) {
    throw new Error(`invalid local port range ${r.low}-${r.high}`);
  }
}

/** This host's ip_local_port_range minus ip_local_reserved_ports (the kernel's own choice). */
export function readLocalPortRange(): LocalPortRange {
  const rangeText = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  let reservedText = '';
  try { reservedText = readFileSync('/proc/sys/net/ipv4/ip_local_reserved_ports', 'utf8'); } catch { /* none */ }
  const range = parseLocalPortRange(rangeText, reservedText);
  if (!range) throw new Error(`cannot read net.ipv4.ip_local_port_range: '${rangeText.trim()}'`);
  return range;
}

async function resolveHost(host: string): Promise<string> {
  if (net.isIP(host) !== 0) return host;
  // Resolved once: a lookup per attempt would put DNS into every measurement.
  return (await lookup(host)).address;
}

/** What the attempt in flight came to; the Connector calls back the Handler with it. */
interface Handler {
  established(socket: net.Socket): void;
  failed(failure: ProbeFailure): void;
  /** A bound source's local port the kernel would not give: no SYN left; try the next port. */
  portBusy(code: string): void;
  aborted(): void;
}

/** 'connectionAttemptFailed' exists from Node 20.12 (and 21.6). */
const HAS_ATTEMPT_EVENTS = ((): boolean => {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 21 || (major === 21 && minor >= 6) || (major === 20 && minor >= 12);
})();

/**
 * Opens connections one at a time, each reported to the handler. What a held connection costs is
 * its socket and nothing else, and what an attempt costs is kept to what Node needs (measured:
 * bench/PERFORMANCE.md):
 * - the listeners every socket gets are this object's, shared by all sockets, and act only for the
 *   attempt in flight (a held socket's later errors are ignored). None is ever removed: removing
 *   one would turn the socket's listener table into a bigger dictionary;
 * - the socket is paused before it connects, so no read is started (and stopped) once it is up:
 *   nothing is ever read or buffered;
 * - the attempt in flight is this object's fields (nothing is allocated for it), and the outcome
 *   goes to the handler by a plain call (no Promise per attempt);
 * - the local address and port are read (getsockname) only when an attempt fails: in
 *   'connectionAttemptFailed', emitted while the failed socket is still open, or when the timeout
 *   fires;
 * - one timer serves every attempt: armed once, it checks the attempt in flight when it fires and
 *   re-arms itself for what is left of that attempt's time, so nothing is done per attempt.
 */
class Connector {
  private socket: net.Socket | null = null;
  private number = 0;
  private port = 0;
  /** The local port named by the probe (bound sources), or null: the kernel picks it. */
  private namedPort: number | null = null;
  private started = 0;
  /** Date.now() at the start; made into ISO text only if the attempt fails. */
  private startedWall = 0;
  private localAddress: string | null = null;
  private localPort: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private disposed = false;
  private readonly onConnect: (this: net.Socket) => void;
  private readonly onError: (this: net.Socket, err: NodeJS.ErrnoException) => void;
  private readonly onAttemptFailed: (this: net.Socket) => void;
  private readonly onAbort: () => void;
  private readonly onTimer: () => void;
  private readonly recordLocal: () => void;

  constructor(private readonly host: string, private readonly opts: ProbeOptions, private readonly handler: Handler) {
    const connector = this;
    // The kernel picks the local port in connect(); read it while the socket is still open.
    this.recordLocal = () => {
      const socket = this.socket;
      if (socket === null || this.localPort !== null) return;
      const portNow = socket.localPort;
      if (portNow) {
        this.localPort = portNow;
        this.localAddress = socket.localAddress ?? null;
      }
    };
    this.onConnect = function onConnect(this: net.Socket) {
      if (connector.socket !== this) return;
      connector.socket = null;
      connector.handler.established(this);
    };
    // Emitted by Node (20.12+) when connect() fails, before it closes the socket: the failing
    // SYN's local address and port are still there.
    this.onAttemptFailed = function onAttemptFailed(this: net.Socket) {
      if (connector.socket === this) connector.recordLocal();
    };
    this.onError = function onError(this: net.Socket, err: NodeJS.ErrnoException) {
      if (connector.socket !== this) return; // a held connection's later errors change nothing
      // A local port named by the probe that the kernel refused in bind() or connect() (a
      // listener, the same 4-tuple in use or in TIME_WAIT): nothing was sent.
      if (connector.namedPort !== null
        && ((err.syscall === 'bind' && err.code === 'EADDRINUSE') || (err.syscall === 'connect' && err.code === 'EADDRNOTAVAIL'))) {
        connector.end().portBusy(err.code);
        return;
      }
      connector.recordLocal();
      connector.fail(err.code ?? 'EUNKNOWN', err.message);
    };
    this.onAbort = () => {
      if (this.socket !== null) this.end().aborted();
    };
    this.onTimer = () => {
      this.timer = null;
      if (this.disposed || this.socket === null) return;
      const left = this.opts.connectTimeoutMs - (performance.now() - this.started);
      // Timers fire on the loop's millisecond clock: within a millisecond is on time.
      if (left > 1) {
        this.timer = setTimeout(this.onTimer, Math.min(Math.ceil(left), MAX_TIMER_MS));
        return;
      }
      this.recordLocal();
      // Destroying the socket closes it: the kernel stops retransmitting the SYN.
      this.fail('ETIMEDOUT', timeoutMessage(this.host, this.port, this.opts.connectTimeoutMs));
    };
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Starts an attempt; its outcome goes to the handler (never before this returns). */
  connect(number: number, port: number, localAddress: string | undefined, localPort: number | undefined): void {
    const socket = new net.Socket();
    socket.pause();
    this.socket = socket;
    this.number = number;
    this.port = port;
    this.namedPort = localPort ?? null;
    this.started = performance.now();
    this.startedWall = Date.now();
    this.localAddress = localPort !== undefined ? localAddress ?? null : null;
    this.localPort = localPort ?? null;
    socket.on('connect', this.onConnect);
    socket.on('error', this.onError);
    if (HAS_ATTEMPT_EVENTS) socket.on('connectionAttemptFailed', this.onAttemptFailed);
    // Node before 20.12 tells nothing before it closes a failed socket: read the local port the
    // next turn of the loop (after connect() has bound it).
    else setImmediate(this.recordLocal);
    if (this.timer === null) this.timer = setTimeout(this.onTimer, Math.min(this.opts.connectTimeoutMs, MAX_TIMER_MS));
    socket.connect({ host: this.host, port, localAddress, localPort });
    // An abort is reported on the next tick, like every other outcome.
    if (this.opts.signal?.aborted) process.nextTick(this.onAbort);
  }

  /** Stops the timer and the abort listener. */
  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }

  private fail(code: string, message: string): void {
    const failure: ProbeFailure = {
      attempt: this.number, code, message,
      localAddress: this.localAddress, localPort: this.localPort,
      remotePort: this.port,
      startedAt: new Date(this.startedWall).toISOString(),
      elapsedMs: Math.round(performance.now() - this.started),
      kind: classifyError(code),
    };
    this.end().failed(failure);
  }

  /** Ends the attempt in flight (not established): closes its socket. */
  private end(): Handler {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    return this.handler;
  }
}

/** The local ports a bound source walks through, in order, for every destination port. */
class LocalPorts {
  private readonly ports: Uint16Array;
  constructor(range: LocalPortRange) {
    const list: number[] = [];
    for (let p = range.low; p <= range.high; p++) if (!range.reserved?.has(p)) list.push(p);
    this.ports = Uint16Array.from(list);
  }
  get size(): number { return this.ports.length; }
  /** Every port, in order (a copy). */
  list(): Uint16Array { return this.ports.slice(); }
  at(i: number): number | undefined { return i < this.ports.length ? this.ports[i] : undefined; }
}

/** A (source, port) pair's state while the probe runs. */
interface PairState extends ProbePair {
  /** Next position in the local port list (bound sources only). */
  next: number;
  /** Local ports the kernel would not give for this pair. */
  skipped: number;
}

function describePair(pair: ProbePair, host: string): string {
  const dst = net.isIP(host) === 6 ? `[${host}]:${pair.port}` : `${host}:${pair.port}`;
  return pair.source === null ? dst : `${pair.source} to ${dst}`;
}

function timeoutMessage(host: string, port: number, ms: number): string {
  return `connect ETIMEDOUT ${host}:${port} (no answer to the SYN within ${ms} ms)`;
}

function portsExhaustedMessage(pair: PairState, host: string, size: number): string {
  return `no free local port from ${describePair(pair, host)}: the ${size} ports of ip_local_port_range are all used`
    + (pair.skipped > 0 ? ` (${pair.skipped} of them by other sockets, e.g. an ssh session from this address)` : '');
}

function busyMessage(inARow: number, pair: PairState, host: string, code: string): string {
  return `${inARow} local ports in a row refused from ${describePair(pair, host)} (${code}): the ports are taken by other sockets`;
}

/** A failure of the probe's own local-port rules: no SYN was sent. */
function localFailure(attempt: number, pair: PairState, code: string, message: string, startedAt = new Date()): ProbeFailure {
  return {
    attempt, code, message, localAddress: pair.source, localPort: null, remotePort: pair.port,
    startedAt: startedAt.toISOString(), elapsedMs: 0, kind: 'local-limit',
  };
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/**
 * The engine a probe will use: `wanted`, by default SYNPROBE_PROBE_ENGINE or 'auto'; `note` says why
 * Node's sockets when 'auto' wanted the native loop. Throws when 'native' is asked for and is not there.
 */
export function chooseEngine(wanted: string = process.env.SYNPROBE_PROBE_ENGINE || 'auto'): { engine: ProbeEngine; binding: NativeBinding | null; note: string | null } {
  if (wanted === 'node') return { engine: 'node', binding: null, note: null };
  if (wanted !== 'native' && wanted !== 'auto') throw new Error(`unknown probe engine '${wanted}' (auto, native or node)`);
  const { binding, reason } = nativeEngine();
  if (binding) return { engine: 'native', binding, note: null };
  if (wanted === 'native') throw new Error(reason ?? 'the native connect loop is not there');
  return { engine: 'node', binding: null, note: reason };
}

/** How an engine's run ended; runProbe makes the result from it. */
interface EngineOutcome {
  attempts: number;
  established: number;
  skipped: number;
  stoppedBy: ProbeResult['stoppedBy'];
  failure: ProbeFailure | null;
  held(): number;
  close(): Promise<void>;
}

interface EngineRun {
  opts: ProbeOptions;
  host: string;
  pairs: PairState[];
  localPorts: LocalPorts | null;
  started: number;
  /** Reports progress (at most every PROGRESS_INTERVAL_MS unless forced). */
  progress: (force: boolean, held: number, attempts: number) => void;
}


/**
 * Runs the probe. The connections it established stay open until `close()` is called on the
 * result, so the caller decides when the captures stop (before the closing FINs, usually).
 */
export async function runProbe(opts: ProbeOptions): Promise<HeldProbe> {
  validateOptions(opts);
  const chosen = chooseEngine(opts.engine);
  const host = await resolveHost(opts.host);
  const { ports, binds } = targetsOf(opts);
  const localPorts = binds.length > 0 ? new LocalPorts(opts.localPorts ?? readLocalPortRange()) : null;
  const pairs: PairState[] = [];
  for (const source of binds.length > 0 ? binds : [null]) {
    for (const port of ports) pairs.push({ source, port, attempts: 0, established: 0, next: 0, skipped: 0 });
  }
  const started = performance.now();
  const startedAt = new Date();
  let lastProgress = 0;
  const progress = (force: boolean, held: number, attempts: number): void => {
    if (!opts.onProgress) return;
    const now = performance.now();
    if (!force && now - lastProgress < PROGRESS_INTERVAL_MS) return;
    lastProgress = now;
    const elapsedMs = now - started;
    opts.onProgress({ held, attempts, elapsedMs: Math.round(elapsedMs), ratePerSec: elapsedMs > 0 ? (held * 1000) / elapsedMs : 0 });
  };
  const run: EngineRun = { opts, host, pairs, localPorts, started, progress };
  const outcome = chosen.binding ? await runNative(chosen.binding, run) : await runNode(run);
  progress(true, outcome.established, outcome.attempts);

  const durationMs = performance.now() - started;
  const establishingMs = outcome.failure ? Math.max(0, durationMs - outcome.failure.elapsedMs) : durationMs;
  const result: ProbeResult = {
    attempts: outcome.attempts,
    established: outcome.established,
    stoppedBy: outcome.stoppedBy,
    failure: outcome.failure,
    pairs: pairs.map(({ source, port, attempts: a, established }) => ({ source, port, attempts: a, established })),
    skippedLocalPorts: outcome.skipped,
    startedAt: startedAt.toISOString(),
    endedAt: new Date(startedAt.getTime() + durationMs).toISOString(),
    durationMs: Math.round(durationMs),
    ratePerSec: establishingMs > 0 ? Math.round((outcome.established * 1000 * 100) / establishingMs) / 100 : 0,
    engine: chosen.engine,
    engineNote: chosen.note,
  };
  return { result, held: outcome.held, close: outcome.close };
}

/** The native engine: the loop runs on a thread of its own; this side reports and cancels. */
async function runNative(binding: NativeBinding, run: EngineRun): Promise<EngineOutcome> {
  const { opts, host, pairs, localPorts } = run;
  const engine = binding.create({
    host,
    pairs: pairs.map(({ source, port }) => ({ source, port })),
    localPorts: localPorts ? localPorts.list() : null,
    // The loop counts in 32 bits: more than 4e9 connections or 24 days of timeout mean "no limit".
    max: Math.min(opts.max, 0xffff_ffff),
    timeoutMs: Math.min(Math.ceil(opts.connectTimeoutMs), 0x7fff_ffff),
  });
  const onAbort = (): void => binding.cancel(engine);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) binding.cancel(engine);
  const timer = opts.onProgress
    ? setInterval(() => { const [held, attempts] = binding.progress(engine); run.progress(false, held, attempts); }, PROGRESS_INTERVAL_MS)
    : null;
  let r: NativeRunResult;
  try {
    r = await binding.run(engine);
  } finally {
    if (timer) clearInterval(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  pairs.forEach((p, i) => {
    p.attempts = r.pairAttempts[i] ?? 0;
    p.established = r.pairEstablished[i] ?? 0;
    p.skipped = r.pairSkipped[i] ?? 0;
  });
  let failure: ProbeFailure | null = null;
  if (r.stop === 'failure' && r.failure) failure = nativeFailure(r.failure, pairs, host, opts, localPorts);
  return {
    attempts: r.attempts,
    established: r.established,
    skipped: r.skipped,
    stoppedBy: r.stop,
    failure,
    // The loop's count of descriptors it holds; closeAll() closes them and sets it to 0 (again: none).
    held: () => binding.progress(engine)[0],
    close: async () => { binding.closeAll(engine); },
  };
}

/** The native loop's failure in the words the Node engine uses. */
function nativeFailure(f: NonNullable<NativeRunResult['failure']>, pairs: PairState[], host: string, opts: ProbeOptions, localPorts: LocalPorts | null): ProbeFailure {
  const pair = pairs[f.pair]!;
  const code = f.syscall === 'timeout' ? 'ETIMEDOUT' : ERRNO_NAMES.get(f.errno) ?? `errno ${f.errno}`;
  const startedAt = new Date(f.startedWallMs);
  if (f.reason === 'ports-exhausted') return localFailure(f.attempt, pair, code, portsExhaustedMessage(pair, host, localPorts?.size ?? 0), startedAt);
  if (f.reason === 'busy-in-a-row') return localFailure(f.attempt, pair, code, busyMessage(MAX_SKIPS_IN_A_ROW, pair, host, code), startedAt);
  const dst = `${host}:${pair.port}`;
  const message = f.syscall === 'timeout' ? timeoutMessage(host, pair.port, opts.connectTimeoutMs)
    : f.syscall === 'bind' ? `bind ${code} ${pair.source ?? ''}`
      : `${f.syscall} ${code} ${dst}`;
  return {
    attempt: f.attempt, code, message,
    localAddress: f.localAddress ?? (pair.source !== null && f.syscall === 'bind' ? pair.source : null),
    localPort: f.localPort ?? null,
    remotePort: pair.port,
    startedAt: startedAt.toISOString(),
    elapsedMs: Math.round(f.elapsedMs),
    kind: classifyError(code),
  };
}

/** The Node engine: Node's sockets, one Connector, the loop driven by the outcomes. */
async function runNode(run: EngineRun): Promise<EngineOutcome> {
  const { opts, host, pairs, localPorts } = run;
  const sockets: net.Socket[] = [];
  let attempts = 0;
  let skipped = 0;
  let failure: ProbeFailure | null = null;
  let stoppedBy: ProbeResult['stoppedBy'] = 'max';
  /** The pair of the attempt in flight, and the local ports it was refused in a row. */
  let pair = pairs[0]!;
  let busyInARow = 0;

  // The loop is driven by the outcomes: each one starts the next attempt (or ends the run) from
  // the callback that reported it, so nothing waits on a Promise between attempts.
  let finished!: () => void;
  let crashed!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => { finished = resolve; crashed = reject; });
  const stop = (by: ProbeResult['stoppedBy'], f: ProbeFailure | null = null): void => {
    stoppedBy = by;
    failure = f;
    finished();
  };

  /** Connects to the current pair (from its next local port when it has a source). */
  const tryPair = (): void => {
    try {
      connectPair();
    } catch (error) {
      // Called from a socket's event: a throw would be uncaught; the run rejects with it instead.
      crashed(error);
    }
  };
  const connectPair = (): void => {
    if (pair.source === null) {
      connector.connect(attempts, pair.port, undefined, undefined);
      return;
    }
    const localPort = localPorts!.at(pair.next);
    if (localPort === undefined) {
      // Every local port of the range is in use from this source to this port.
      stop('failure', localFailure(attempts, pair, 'EADDRNOTAVAIL', portsExhaustedMessage(pair, host, localPorts!.size)));
      return;
    }
    pair.next++;
    connector.connect(attempts, pair.port, pair.source, localPort);
  };

  /** The next attempt, or the end of the run. */
  const next = (): void => {
    if (sockets.length >= opts.max) { stop('max'); return; }
    if (opts.signal?.aborted) { stop('aborted'); return; }
    pair = pairs[attempts % pairs.length]!;
    attempts++;
    pair.attempts++;
    busyInARow = 0;
    tryPair();
  };

  const connector = new Connector(host, opts, {
    established(socket) {
      sockets.push(socket);
      pair.established++;
      run.progress(false, sockets.length, attempts);
      next();
    },
    failed(f) { stop('failure', f); },
    portBusy(code) {
      skipped++;
      pair.skipped++;
      if (++busyInARow >= MAX_SKIPS_IN_A_ROW) {
        stop('failure', localFailure(attempts, pair, code, busyMessage(busyInARow, pair, host, code)));
        return;
      }
      tryPair();
    },
    // The attempt in flight still counts: its SYN may have left.
    aborted() { stop('aborted'); },
  });
  next();
  try {
    await done;
  } finally {
    connector.dispose();
  }
  return {
    attempts,
    established: sockets.length,
    skipped,
    stoppedBy,
    failure,
    held: () => {
      let n = 0;
      for (const s of sockets) if (!s.destroyed) n++;
      return n;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      sockets.length = 0;
      await new Promise((r) => setImmediate(r));
    },
  };
}
