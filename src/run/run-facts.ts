/**
 * RunFacts: what `synprobe capture` knows about one run, written to `run.json` beside the two
 * captures. The analyzer reads `client.capture` / `server.capture` (startedAt, stoppedAt,
 * droppedByKernel) to know which span each capture covered; the report shows the rest.
 *
 * Times are ISO-8601 strings in UTC with nanoseconds ("2025-11-29T23:03:00.123456789Z").
 * Every capture time is in the clock of the host that took the capture (the clock its pcap
 * timestamps use), and is conservative: `startedAt` is no earlier than the moment the capture
 * was really running, `stoppedAt` no later than the moment it really stopped.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { exclusiveCreateFlags, writeNewFile } from '../files/new-file.js';

/** 2: options.ports (a list) and options.bind (a list, or ['auto']) replace port and bind; probe.pairs. */
export const RUN_FACTS_SCHEMA = 'synprobe-run/2';

/** The phases of a run, in order; `phase` in RunFacts is the last one entered. */
export type RunPhase =
  | 'setup'
  | 'preflight'
  | 'counters-before'
  | 'capture-start'
  | 'probing'
  | 'holding'
  | 'capture-stop'
  | 'counters-after'
  | 'closing'
  | 'analyzing'
  | 'done';

export type RunStatus =
  /** run.json was written while the run went on; if it still says so, synprobe was killed. */
  | 'running'
  /** Probe ran to its end (first failure or --max) and both captures stopped cleanly. */
  | 'completed'
  /** SIGINT/SIGTERM arrived; what was captured so far is kept. */
  | 'interrupted'
  /** Preflight refused the run before anything was started (the fix is in `problems`). */
  | 'refused'
  /** Something broke (ssh, tcpdump, disk); `problems` says what. */
  | 'failed';

export interface RunProblem {
  phase: RunPhase;
  /** Stable code, e.g. 'ssh-auth', 'tcpdump-missing', 'capture-died', 'preflight-refused'. */
  code: string;
  message: string;
  /** What the user should do, when known. */
  fix?: string;
}

export type Clock = 'own' | 'client-estimated';

/** The stop counters tcpdump prints; null when tcpdump did not print them (killed, crashed). */
export interface TcpdumpStats {
  captured: number | null;
  receivedByFilter: number | null;
  droppedByKernel: number | null;
  droppedByInterface: number | null;
}

export interface CaptureFacts extends TcpdumpStats {
  /** File name inside the output directory ('client.pcap' / 'server.pcap'). */
  file: string;
  /** Bytes in the file after the capture stopped. */
  bytes: number | null;
  interface: string;
  filter: string;
  snapLen: number;
  /** tcpdump's argv as run (on the peer: inside the remote script). */
  command: string[];
  /** When the capture was running for sure (after "listening on"), in the capturing host's clock. */
  startedAt: string | null;
  /** When the capture was stopped (just before SIGTERM), or the last moment it was known to be alive. */
  stoppedAt: string | null;
  /** 'own': the capturing host's clock; 'client-estimated': derived from this host's clock. */
  clock: Clock;
  exitCode: number | null;
  signal: string | null;
  /** true when tcpdump stopped on our SIGTERM, exited 0 and printed its counts. */
  clean: boolean;
  /** tcpdump's stderr (last lines), for the report and for diagnosis. */
  stderr: string;
  /** Why the capture is not clean, in one line; null when clean. */
  problem: string | null;
}

export interface PreflightFinding {
  id: string;
  level: 'ok' | 'info' | 'warn' | 'refuse';
  message: string;
  fix?: string;
}

export interface KernelTiming {
  synRetries: number | null;
  synLinearTimeouts: number | null;
  /** Seconds after the first SYN at which the kernel retransmits it. */
  retransmitAt: number[];
  /** Seconds after which connect() fails with ETIMEDOUT when nothing answers. */
  kernelTimeoutSec: number | null;
  /** What --connect-timeout leaves: SYN copies sent before the probe gives up. */
  synCopiesWithinConnectTimeout: number | null;
}

export interface HostPreflight {
  role: 'client' | 'server';
  kernel: string | null;
  tcpdump: { path: string | null; version: string | null };
  user: { uid: number | null; name: string | null };
  openFiles: { soft: number | null; hard: number | null; of: string };
  nrOpen: number | null;
  fileMax: number | null;
  localPortRange: { low: number; high: number; reserved: number; usable: number } | null;
  conntrack: { count: number; max: number } | null;
  timing: KernelTiming;
  /** Server only: is something listening on every probe port (null when it cannot be told). */
  listening: boolean | null;
  /** Server only: the probe ports nothing listens on (empty when all are, or when it cannot be told). */
  notListening?: number[];
  /**
   * Client only: the source addresses the probe binds (--bind, with auto resolved to the
   * addresses of the capture interface); empty: the kernel chooses. `missing`: given but not on this host.
   */
  sources?: { addresses: string[]; how: string; missing: string[] };
  /** The interface tcpdump will use, and how it was chosen. */
  captureInterface: { name: string; how: string } | null;
  findings: PreflightFinding[];
}

export interface CounterSnapshot {
  takenAt: string;
  /** nstat names: TcpExtListenOverflows, TcpExtTCPSynRetrans, ... (from /proc/net/{netstat,snmp,snmp6}). */
  nstat: Record<string, number>;
  conntrack: { count: number; max: number } | null;
  /** `conntrack -S`, summed over CPUs. */
  conntrackStats: Record<string, number> | null;
  /** `ethtool -S <iface>`: *allowance* counters and drop/discard counters. */
  ethtool: { interface: string; counters: Record<string, number> } | null;
  errors: string[];
}

export interface CounterDiff {
  nstat: Record<string, number>;
  conntrackCount: number | null;
  conntrackStats: Record<string, number>;
  ethtool: Record<string, number>;
}

export interface HostCounters {
  before: CounterSnapshot | null;
  after: CounterSnapshot | null;
  /** after - before, non-zero values only. */
  diff: CounterDiff | null;
}

export interface HostFacts {
  role: 'client' | 'server';
  /** How this host was reached: 'local', or the ssh target. */
  reachedAs: string;
  interface: string | null;
  preflight: HostPreflight | null;
  counters: HostCounters;
  capture: CaptureFacts | null;
}

/** The probe's own result (mirrors src/probe/probe.ts ProbeResult, kept loose on purpose). */
export interface ProbeFacts {
  attempts: number;
  established: number;
  stoppedBy: string;
  failure: {
    attempt: number;
    code: string;
    message: string;
    localAddress: string | null;
    localPort: number | null;
    remotePort?: number;
    startedAt: string | number | null;
    elapsedMs: number;
    kind: string;
  } | null;
  startedAt: string | number | null;
  endedAt: string | number | null;
  durationMs: number;
  ratePerSec: number;
  /** Every (source address, destination port) pair: attempts and connections held. */
  pairs?: Array<{ source: string | null; port: number; attempts: number; established: number }>;
  skippedLocalPorts?: number;
  /** Which connect loop ran: 'native' (native/connect.c) or 'node' (Node's sockets). */
  engine?: string;
  /** Why Node's sockets ran when the native loop was wanted. */
  engineNote?: string | null;
}

/** The capture options recorded in run.json as given (CaptureOptions adds how to run and report). */
export interface RecordedOptions {
  /** IP address or host name (validated). */
  peer: string;
  /** Destination ports (--port 8000-8003): attempts go round them. */
  ports: number[];
  /** ssh target `[user@]host`; default: the peer. */
  ssh: string | null;
  /** --ssh-option values. */
  sshOptions: string[];
  interface: string | null;
  remoteInterface: string | null;
  sudo: boolean;
  max: number;
  connectTimeoutMs: number;
  holdMs: number;
  /** --bind as given: source addresses, ['auto'] (every address of the interface), or [] (the kernel chooses). */
  bind: string[];
  /** false with --no-remote. */
  remote: boolean;
}

export interface RunFacts {
  schema: typeof RUN_FACTS_SCHEMA;
  tool: { name: 'synprobe'; version: string };
  /** The command line as typed (argv after `node`). */
  command: string[];
  options: RecordedOptions & {
    /** The peer's address once resolved. */
    peerAddress: string | null;
    /** The output directory actually used. */
    out: string;
  };
  versions: {
    node: string;
    synprobe: string;
    ssh: string | null;
    tcpdumpClient: string | null;
    tcpdumpServer: string | null;
    kernelClient: string | null;
    kernelServer: string | null;
  };
  startedAt: string;
  endedAt: string | null;
  status: RunStatus;
  /** The last phase entered. */
  phase: RunPhase;
  interrupted: { signal: string; phase: RunPhase; at: string } | null;
  problems: RunProblem[];
  client: HostFacts;
  /** null with --no-remote. */
  server: HostFacts | null;
  probe: ProbeFacts | null;
  /** Ssh control connection to the peer (the 4-tuple excluded from the remote capture). */
  ssh: { connection: string | null; controlled: boolean } | null;
  /** Names inside the output directory; null when the file was not made. */
  files: { clientPcap: string | null; serverPcap: string | null; runJson: string; report: string | null };
}

// ---------------------------------------------------------------------------------------------
// Time: integer nanoseconds since the epoch, printed as ISO with 9 fraction digits.

/** Wall clock now, in ns, rounded down to the millisecond (Date.now() is what Node has). */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** A conservative start: the true time is before `nowNs() + 1 ms`. */
export function nowNsCeil(): bigint {
  return BigInt(Date.now() + 1) * 1_000_000n;
}

export function isoFromNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  return `${base.slice(0, 19)}.${frac}Z`;
}

/** Parses "SECONDS.NANOS" (as `date +%s.%N` prints) into ns; null when it is not that. */
export function nsFromEpochText(text: string): { ns: bigint; precise: boolean } | null {
  const m = /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!m) {
    // busybox date prints "%N" literally: keep the seconds, flag the precision.
    const s = /^(\d{1,12})\.%?N?$/.exec(text.trim());
    return s ? { ns: BigInt(s[1]!) * 1_000_000_000n, precise: false } : null;
  }
  const frac = m[2] === undefined ? null : m[2].padEnd(9, '0');
  return { ns: BigInt(m[1]!) * 1_000_000_000n + (frac === null ? 0n : BigInt(frac)), precise: frac !== null };
}

export function nsFromIso(iso: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(iso);
  if (!m) return null;
  const sec = Date.parse(`${m[1]}Z`);
  if (!Number.isFinite(sec)) return null;
  return BigInt(sec) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

// ---------------------------------------------------------------------------------------------
// Writing

export { exclusiveCreateFlags, writeNewFile };

/** Serializes RunFacts (bigints never appear: all times are strings). */
export function formatRunFacts(facts: RunFacts): string {
  return `${JSON.stringify(facts, null, 2)}\n`;
}

export async function writeRunFacts(path: string, facts: RunFacts): Promise<void> {
  await writeNewFile(path, formatRunFacts(facts));
}

/** Space kept for run.json from the start, so that a disk filled by the captures cannot stop it. */
export const RUN_JSON_RESERVE = 1 << 20;

/**
 * run.json, created (exclusively, never through a symlink) when the run starts and rewritten in
 * place as it goes: if synprobe is killed, the file still says how far it got. The file is padded
 * with spaces (valid JSON) to reserve room on the disk until the final write trims it.
 */
export class RunFactsFile {
  private chain: Promise<void> = Promise.resolve();
  private written = 0;
  private closed = false;

  private constructor(private readonly fh: FileHandle, readonly path: string) {}

  static async create(path: string, facts: RunFacts, reserve = RUN_JSON_RESERVE): Promise<RunFactsFile> {
    const fh = await open(path, exclusiveCreateFlags(), 0o644);
    const file = new RunFactsFile(fh, path);
    try {
      await file.writeAt(formatRunFacts(facts));
      const pad = Buffer.alloc(64 * 1024, 0x20);
      for (let at = file.written; at < reserve; at += pad.length) {
        await fh.write(pad, 0, Math.min(pad.length, reserve - at), at);
      }
      await fh.sync().catch(() => undefined);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    return file;
  }

  private async writeAt(text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    // blank what is left of a longer earlier version, so the file stays one JSON value
    const tail = this.written > buf.length ? Buffer.alloc(this.written - buf.length, 0x20) : null;
    await this.fh.write(buf, 0, buf.length, 0);
    if (tail) await this.fh.write(tail, 0, tail.length, buf.length);
    this.written = buf.length;
  }

  /** Rewrites the facts (serialized with earlier writes); errors are returned, not thrown. */
  update(facts: RunFacts): Promise<Error | null> {
    const text = formatRunFacts(facts);
    const p = this.chain.then(async () => {
      if (!this.closed) await this.writeAt(text);
    });
    this.chain = p.catch(() => undefined);
    return p.then(() => null, (e: Error) => e);
  }

  /** The last write: the facts, trimmed to their length, synced, closed. */
  async finish(facts: RunFacts): Promise<void> {
    await this.chain;
    if (this.closed) return;
    this.closed = true;
    try {
      const text = formatRunFacts(facts);
      // written inside the reserved room first, then the padding is cut off
      await this.writeAt(text);
      await this.fh.truncate(Buffer.byteLength(text, 'utf8'));
      await this.fh.sync().catch(() => undefined);
    } finally {
      await this.fh.close().catch(() => undefined);
    }
  }
}
