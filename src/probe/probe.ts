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

function ignoreError(): void { /* a held connection's later errors change nothing */ }

function connectOnce(host: string, opts: ProbeOptions, attempt: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const startedAt = new Date().toISOString();
    let localAddress: string | null = null;
    let localPort: number | null = null;
    let done = false;

    const socket = net.connect({ host, port: opts.port, localAddress: opts.bind });
    // The kernel picks the local port in connect(); read it right after, before a failure
    // closes the handle (a refusal on loopback arrives before the next event loop turn).
    const recordLocal = (): void => {
      if (localPort !== null || done) return;
      const portNow = socket.localPort;
      if (portNow) {
        localPort = portNow;
        localAddress = socket.localAddress ?? null;
      }
    };
    const onAttempt = (): void => { process.nextTick(recordLocal); };
    const immediate = setImmediate(recordLocal);

    const finish = (outcome: Outcome): void => {
      if (done) return;
      recordLocal();
      done = true;
      clearTimeout(timer);
      clearImmediate(immediate);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.removeListener('connectionAttempt', onAttempt);
      socket.removeListener('connect', onConnect);
      socket.removeListener('error', onError);
      socket.on('error', ignoreError);
      if (outcome.kind !== 'established') socket.destroy();
      resolve(outcome);
    };
    const fail = (code: string, message: string): void => {
      finish({
        kind: 'failed',
        failure: {
          attempt, code, message, localAddress, localPort, startedAt,
          elapsedMs: Math.round(performance.now() - started),
          kind: classifyError(code),
        },
      });
    };
    const onConnect = (): void => {
      // Never read: nothing is buffered, and the connection just stays open.
      socket.pause();
      finish({ kind: 'established', socket });
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      // Record before `fail` so the port of a connection refused at once is kept when known.
      recordLocal();
      fail(err.code ?? 'EUNKNOWN', err.message);
    };
    const onAbort = (): void => { finish({ kind: 'aborted' }); };
    const timer = setTimeout(() => {
      recordLocal();
      // Destroying the socket closes it: the kernel stops retransmitting the SYN.
      fail('ETIMEDOUT', `connect ETIMEDOUT ${host}:${opts.port} (no answer to the SYN within ${opts.connectTimeoutMs} ms)`);
    }, opts.connectTimeoutMs);

    socket.on('connectionAttempt', onAttempt);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
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

  while (sockets.length < opts.max) {
    if (opts.signal?.aborted) { stoppedBy = 'aborted'; break; }
    attempts++;
    const outcome = await connectOnce(host, opts, attempts);
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
