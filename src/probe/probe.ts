/**
 * The single-worker probe: one connection at a time (connect, wait for it, keep it, next), every
 * connection held open, stopping at the first failure, at `max`, or when the signal aborts. A
 * single worker makes the first failure unambiguous: every connection before it was
 * established and is still open, so the count held is the ceiling.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';

export interface ProbeOptions {
  host: string;
  port: number;
  max: number;
  connectTimeoutMs: number;
  /** Local address to connect from (more source addresses, more local ports). */
  bind?: string;
  onProgress?: (p: ProbeProgress) => void;
  signal?: AbortSignal;
}

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
  /** When the attempt started (ISO 8601). */
  startedAt: string;
  /** How long the attempt took until it failed. */
  elapsedMs: number;
  kind: FailureKind;
}

export interface ProbeResult {
  attempts: number;
  established: number;
  stoppedBy: 'failure' | 'max' | 'aborted';
  failure: ProbeFailure | null;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Connections established per second over the whole run. */
  ratePerSec: number;
}

export interface HeldProbe {
  result: ProbeResult;
  /** Connections still held (established and not closed by us). */
  held(): number;
  /** Closes every held connection. */
  close(): Promise<void>;
}

const PROGRESS_INTERVAL_MS = 250;

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

function validateOptions(opts: ProbeOptions): void {
  if (typeof opts.host !== 'string' || opts.host.length === 0) throw new Error('host is required');
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new Error(`invalid port ${opts.port} (1-65535)`);
  if (!Number.isInteger(opts.max) || opts.max < 1) throw new Error(`max must be a positive integer, not ${opts.max}`);
  if (!Number.isFinite(opts.connectTimeoutMs) || opts.connectTimeoutMs <= 0) {
    throw new Error(`connectTimeoutMs must be positive, not ${opts.connectTimeoutMs}`);
  }
  if (opts.bind !== undefined && net.isIP(opts.bind) === 0) throw new Error(`bind address '${opts.bind}' is not an IP address`);
}

async function resolveHost(host: string): Promise<string> {
  if (net.isIP(host) !== 0) return host;
  // Resolved once: a lookup per attempt would put DNS into every measurement.
  return (await lookup(host)).address;
}

type Outcome =
  | { kind: 'established'; socket: net.Socket }
  | { kind: 'failed'; failure: ProbeFailure }
  | { kind: 'aborted' };

/** The attempt in flight. */
interface Attempt {
  number: number;
  socket: net.Socket;
  started: number;
  /** Date.now() at the start; made into ISO text only if the attempt fails. */
  startedWall: number;
  localAddress: string | null;
  localPort: number | null;
  resolve: (outcome: Outcome) => void;
}

/** 'connectionAttempt' exists from Node 20.12 (and 21.6). */
const HAS_CONNECTION_ATTEMPT = ((): boolean => {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 21 || (major === 21 && minor >= 6) || (major === 20 && minor >= 12);
})();

/**
 * Opens connections one at a time. What a held connection costs is its socket and nothing else:
 * - the listeners every socket gets are this object's, shared by all sockets, and act only for the
 *   attempt in flight (a held socket's later errors are ignored). None is ever removed: removing
 *   one would turn the socket's listener table into a bigger dictionary;
 * - the socket is paused before it connects, so no read is started (and stopped) once it is up:
 *   nothing is ever read or buffered;
 * - one timer serves every attempt, re-armed with refresh().
 */
class Connector {
  private current: Attempt | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly onAttempt: () => void;
  private readonly onConnect: (this: net.Socket) => void;
  private readonly onError: (this: net.Socket, err: NodeJS.ErrnoException) => void;
  private readonly onAbort: () => void;
  private readonly recordLocal: () => void;

  constructor(private readonly host: string, private readonly opts: ProbeOptions) {
    // The kernel picks the local port in connect(); read it right after, before a failure
    // closes the handle (a refusal on loopback arrives before the next event loop turn).
    this.recordLocal = () => {
      const attempt = this.current;
      if (attempt === null || attempt.localPort !== null) return;
      const portNow = attempt.socket.localPort;
      if (portNow) {
        attempt.localPort = portNow;
        attempt.localAddress = attempt.socket.localAddress ?? null;
      }
    };
    this.onAttempt = () => { process.nextTick(this.recordLocal); };
    const connector = this;
    this.onConnect = function onConnect(this: net.Socket) {
      if (connector.current?.socket === this) connector.finish({ kind: 'established', socket: this });
    };
    this.onError = function onError(this: net.Socket, err: NodeJS.ErrnoException) {
      if (connector.current?.socket !== this) return; // a held connection's later errors change nothing
      // Record before failing so the port of a connection refused at once is kept when known.
      connector.recordLocal();
      connector.fail(err.code ?? 'EUNKNOWN', err.message);
    };
    this.onAbort = () => { this.finish({ kind: 'aborted' }); };
    this.timer = setTimeout(() => {
      if (this.current === null) return;
      this.recordLocal();
      // Destroying the socket closes it: the kernel stops retransmitting the SYN.
      this.fail('ETIMEDOUT', `connect ETIMEDOUT ${host}:${opts.port} (no answer to the SYN within ${opts.connectTimeoutMs} ms)`);
    }, opts.connectTimeoutMs);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** One attempt: resolves once it is established, has failed, or the signal aborted it. */
  connect(number: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const socket = new net.Socket();
      socket.pause();
      this.current = { number, socket, started: performance.now(), startedWall: Date.now(), localAddress: null, localPort: null, resolve };
      socket.on('connectionAttempt', this.onAttempt);
      socket.on('connect', this.onConnect);
      socket.on('error', this.onError);
      this.timer.refresh();
      // Node before 20.12 emits no 'connectionAttempt': then the next turn of the loop reads it.
      if (!HAS_CONNECTION_ATTEMPT) setImmediate(this.recordLocal);
      socket.connect({ host: this.host, port: this.opts.port, localAddress: this.opts.bind });
      if (this.opts.signal?.aborted) this.onAbort();
    });
  }

  /** Stops the timer and the abort listener. */
  dispose(): void {
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }

  private fail(code: string, message: string): void {
    const attempt = this.current;
    if (attempt === null) return;
    this.finish({
      kind: 'failed',
      failure: {
        attempt: attempt.number, code, message,
        localAddress: attempt.localAddress, localPort: attempt.localPort,
        startedAt: new Date(attempt.startedWall).toISOString(),
        elapsedMs: Math.round(performance.now() - attempt.started),
        kind: classifyError(code),
      },
    });
  }

  private finish(outcome: Outcome): void {
    const attempt = this.current;
    if (attempt === null) return;
    this.recordLocal();
    this.current = null;
    if (outcome.kind !== 'established') attempt.socket.destroy();
    attempt.resolve(outcome);
  }
}

/**
 * Runs the probe. The connections it established stay open until `close()` is called on the
 * result, so the caller decides when the captures stop (before the closing FINs, usually).
 */
export async function runProbe(opts: ProbeOptions): Promise<HeldProbe> {
  validateOptions(opts);
  const host = await resolveHost(opts.host);
  const sockets: net.Socket[] = [];
  const started = performance.now();
  const startedAt = new Date();
  let attempts = 0;
  let failure: ProbeFailure | null = null;
  let stoppedBy: ProbeResult['stoppedBy'] = 'max';
  let lastProgress = 0;

  const progress = (force: boolean): void => {
    if (!opts.onProgress) return;
    const now = performance.now();
    if (!force && now - lastProgress < PROGRESS_INTERVAL_MS) return;
    lastProgress = now;
    const elapsedMs = now - started;
    opts.onProgress({
      held: sockets.length,
      attempts,
      elapsedMs: Math.round(elapsedMs),
      ratePerSec: elapsedMs > 0 ? (sockets.length * 1000) / elapsedMs : 0,
    });
  };

  const connector = new Connector(host, opts);
  while (sockets.length < opts.max) {
    if (opts.signal?.aborted) { stoppedBy = 'aborted'; break; }
    attempts++;
    const outcome = await connector.connect(attempts);
    if (outcome.kind === 'established') {
      sockets.push(outcome.socket);
      progress(false);
      continue;
    }
    if (outcome.kind === 'aborted') {
      // The attempt in flight still counts: its SYN may have left.
      stoppedBy = 'aborted';
      break;
    }
    failure = outcome.failure;
    stoppedBy = 'failure';
    break;
  }
  connector.dispose();
  progress(true);

  const durationMs = performance.now() - started;
  const result: ProbeResult = {
    attempts,
    established: sockets.length,
    stoppedBy,
    failure,
    startedAt: startedAt.toISOString(),
    endedAt: new Date(startedAt.getTime() + durationMs).toISOString(),
    durationMs: Math.round(durationMs),
    ratePerSec: durationMs > 0 ? Math.round((sockets.length * 1000 * 100) / durationMs) / 100 : 0,
  };
  return {
    result,
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
