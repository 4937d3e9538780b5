/**
 * `synprobe analyze` as a library: reads the client capture and (optionally) the server capture,
 * pairs every connection attempt across them, and returns the data every report is drawn from.
 */
import { canonicalAddress } from '../address.js';
import { readHandshakePair, type FlowTable, type HandshakeTable } from './handshakes.js';
import { matchServerFlows } from './match.js';
import { estimateClockOffset } from './clock.js';
import { prepareAttempts, settleAttempts } from './attempts.js';
import { findCoverage, type Coverage, type RecordedCapture } from './coverage.js';
import type { VerdictContext } from './verdict.js';
import { findCeiling } from './ceiling.js';
import { summarize } from './sentence.js';
import { TimeBase, parseIsoNs } from './time.js';
import { describeLinkType } from '../read/open.js';
import { PATH_LOSS_VERDICTS, type AnalysisResult, type CaptureFacts, type ClockOffset, type Summary } from './types.js';
import { readVersion } from '../version.js';

export * from './types.js';

/** The part of run.json (written by `synprobe capture`) the analyzer reads. */
export interface RunCoverageFacts {
  client?: { capture?: RunCaptureFacts | null } | null;
  server?: { capture?: RunCaptureFacts | null } | null;
  /** The capture's options: the ports it probed. */
  options?: { ports?: number[] | null } | null;
  /** How the probe stopped: a local limit (no SYN sent) is said in the verdict sentence. */
  probe?: { failure?: { attempt: number; code: string; kind: string; localPort?: number | null } | null } | null;
}
export interface RunCaptureFacts {
  startedAt?: string | null;
  stoppedAt?: string | null;
  droppedByKernel?: number | null;
  /**
   * Which clock startedAt/stoppedAt were read from: 'own' (the capturing host's; the default) or
   * 'client-estimated' (this host's clock, e.g. when a line from the remote tcpdump arrived).
   */
  clock?: 'own' | 'client-estimated' | null;
}

export interface CaptureTimesOption {
  start?: [number, number] | null;
  stop?: [number, number] | null;
  drops?: number | null;
}

export interface AnalyzeOptions {
  clientFile: string;
  serverFile?: string | null;
  /** Destination port of the attempts; default: the port that received the most SYNs. */
  port?: number | null;
  /** Destination ports of the attempts (several listener ports); overrides `port`. */
  ports?: readonly number[] | null;
  /** Only attempts to this address (as the client saw it). */
  peer?: string | null;
  run?: RunCoverageFacts | null;
  /** Facts given on the command line (override run.json). Server times are in the server's clock. */
  client?: CaptureTimesOption;
  server?: CaptureTimesOption;
  /** Server clock minus client clock, when known better than synprobe can measure it. */
  clockOffsetMs?: number | null;
}

/** Path delay allowed at the end of the server capture's coverage, on top of the clock-offset slack. */
const PATH_DELAY_NS = 50e6;

function choosePort(table: FlowTable, flows: number[]): number | null {
  const counts = new Int32Array(65536);
  for (let i = 0; i < flows.length; i++) counts[table.dstPort[flows[i]]]++;
  // The most SYNs; of ports with as many, the lowest.
  let best: number | null = null;
  let bestCount = 0;
  for (let port = 0; port < counts.length; port++) {
    if (counts[port] > bestCount) {
      best = port;
      bestCount = counts[port];
    }
  }
  return best;
}

function recordedFrom(run: RunCaptureFacts | null | undefined, opt: CaptureTimesOption | undefined): RecordedCapture | undefined {
  if (opt && (opt.start || opt.stop || (opt.drops !== undefined && opt.drops !== null))) {
    return { start: opt.start ?? null, stop: opt.stop ?? null, drops: opt.drops ?? null, source: 'option' };
  }
  if (!run) return undefined;
  return {
    start: run.startedAt ? parseIsoNs(run.startedAt) : null,
    stop: run.stoppedAt ? parseIsoNs(run.stoppedAt) : null,
    drops: run.droppedByKernel ?? null,
    source: 'run.json',
  };
}

function captureFacts(role: 'client' | 'server', table: HandshakeTable, cov: Coverage, time: TimeBase): CaptureFacts {
  const s = table.summary;
  const iso = (ns: number): string | null => (Number.isNaN(ns) ? null : time.iso(ns));
  return {
    role,
    file: s.file,
    format: s.format,
    byteOrder: s.byteOrder,
    nanosecond: s.nanosecond,
    linkTypes: s.linkTypes.map((l) => describeLinkType(l)),
    snapLen: s.snapLen,
    packets: s.packets,
    decode: table.decode,
    firstPacketAt: iso(table.firstNs),
    lastPacketAt: iso(table.lastNs),
    coverStart: iso(cov.start),
    coverStartSource: Number.isNaN(cov.start) ? null : cov.startSource,
    coverEnd: iso(cov.end),
    coverEndSource: Number.isNaN(cov.end) ? null : cov.endSource,
    kernelDrops: cov.drops,
    kernelDropsSource: cov.dropsSource,
    readProblem: s.problem ? { kind: s.problem.kind, offset: s.problem.offset, message: s.problem.message } : null,
    warnings: [...s.warnings],
    synPackets: table.synPackets,
    synAckPackets: table.synAckPackets,
  };
}

/**
 * The probe's last attempt failed on this host (EADDRNOTAVAIL, EMFILE, ...) before its SYN left:
 * the captures cannot show it, so run.json says it. Only when the captures hold no later attempt.
 */
function clientLimitOf(run: RunCoverageFacts | null | undefined, attemptsSeen: number): Summary['clientLimit'] {
  const f = run?.probe?.failure;
  if (!f || f.kind !== 'local-limit' || typeof f.attempt !== 'number' || f.attempt <= attemptsSeen) return null;
  return { attempt: f.attempt, code: String(f.code) };
}

export async function analyzeCaptures(opts: AnalyzeOptions): Promise<AnalysisResult> {
  const time = new TimeBase();
  const warnings: string[] = [];
  // The server capture is read meanwhile (in parallel when large): what needs the client's alone comes first.
  const reading = readHandshakePair(opts.clientFile, opts.serverFile || null, time);
  const client = await reading.client;

  // The attempts: SYNs the client sent to the peer's port.
  const peer = opts.peer ? canonicalAddress(opts.peer) : null;
  const cf = client.flows;
  const toPeer = cf.select(peer ? (f) => cf.dst(f) === peer : undefined);
  if (peer && toPeer.length === 0 && client.flows.length > 0) warnings.push(`no SYN in the client capture went to ${peer}`);
  const given = opts.ports && opts.ports.length > 0 ? [...opts.ports] : opts.port ? [opts.port] : null;
  const ports = given ?? [choosePort(cf, toPeer) ?? 0];
  const portSet = new Set(ports);
  const attemptFlows = cf.attemptsTo(toPeer, portSet);
  let establishedAttempts = 0;
  for (let i = 0; i < attemptFlows.length; i++) if (cf.established(attemptFlows[i])) establishedAttempts++;

  // The records of the attempts, made while the server capture may still be read; settled below.
  const prepared = prepareAttempts(cf, time, attemptFlows);
  const server = await reading.server;

  // Clock offset from attempts seen in both captures.
  const matches = server ? matchServerFlows(cf, attemptFlows, server.flows) : null;
  let clock: ClockOffset | null = null;
  if (opts.clockOffsetMs !== undefined && opts.clockOffsetMs !== null) {
    clock = { offsetMs: opts.clockOffsetMs, uncertaintyMs: 0, method: 'option', samples: 0 };
  } else if (server && matches) {
    clock = estimateClockOffset(cf, attemptFlows, server.flows, matches);
  }
  const offsetNs = clock ? Math.round(clock.offsetMs * 1e6) : null;

  // Coverage of each capture.
  const runClient = opts.run?.client?.capture ?? null;
  const runServer = opts.run?.server?.capture ?? null;
  const clientCov = findCoverage(client.summary, client.firstNs, client.lastNs, time, recordedFrom(runClient, opts.client), undefined);
  let serverCov: Coverage | null = null;
  let serverTimesInClientClock = false;
  if (server) {
    const recorded = recordedFrom(runServer, opts.server);
    serverTimesInClientClock = recorded?.source === 'run.json' && runServer?.clock === 'client-estimated';
    const shiftToServer = serverTimesInClientClock ? 0 : offsetNs ?? 0;
    serverCov = findCoverage(server.summary, server.firstNs, server.lastNs, time, recorded, clientCov.end + shiftToServer);
  }

  // What can stop a claim of loss.
  let blocker: string | null = null;
  const dropNotes: string[] = [];
  if (clientCov.drops) dropNotes.push(`the client capture reported ${clientCov.drops} packets dropped by the kernel`);
  if (serverCov?.drops) dropNotes.push(`the server capture reported ${serverCov.drops} packets dropped by the kernel`);
  if (dropNotes.length > 0) blocker = dropNotes.join(' and ');
  if (server) {
    const unknown = [clientCov.drops === null ? 'client' : null, serverCov?.drops === null ? 'server' : null].filter(Boolean);
    if (unknown.length > 0) {
      warnings.push(`kernel drop counts are unknown for the ${unknown.join(' and ')} capture (a classic pcap does not record them); verdicts assume none — capture with synprobe capture, or pass --client-drops/--server-drops`);
    }
    if (serverCov?.endSource === 'assumed') {
      warnings.push('the server capture has no recorded stop time: it was assumed to cover the client capture\'s whole span — capture with synprobe capture (run.json), or pass --server-stop, to make it certain');
    }
    if (establishedAttempts > 0 && matches!.every((s) => s < 0) && opts.clockOffsetMs == null) {
      blocker = 'none of the established attempts appears in the server capture: it was taken on another host or interface, or a middlebox rewrites sequence numbers, so its silence proves nothing';
      warnings.push(blocker);
    }
    if (client.summary.problem) warnings.push(`${client.summary.file}: ${client.summary.problem.message} at byte offset ${client.summary.problem.offset}; read up to there`);
    if (server.summary.problem) warnings.push(`${server.summary.file}: ${server.summary.problem.message} at byte offset ${server.summary.problem.offset}; read up to there`);
  } else if (client.summary.problem) {
    warnings.push(`${client.summary.file}: ${client.summary.problem.message} at byte offset ${client.summary.problem.offset}; read up to there`);
  }
  if (server?.summary.problem && serverCov) {
    // Past a damaged or cut record nothing is known: coverage ends at the last whole packet.
    serverCov.end = server.lastNs;
    serverCov.endSource = 'last-packet';
  }

  const clockSlackNs = Math.round((clock?.uncertaintyMs ?? 0) * 1e6) + 1000;
  const toClient = (ns: number): number => (serverTimesInClientClock ? ns : ns - (offsetNs ?? 0));
  const ctx: VerdictContext = {
    hasServerCapture: server !== null,
    offsetNs,
    clockSlackNs,
    pathDelayNs: PATH_DELAY_NS,
    serverStartC: serverCov ? toClient(serverCov.start) : NaN,
    // Without a recorded stop the server capture is taken to cover the client capture's whole span (design.md).
    serverEndC: serverCov ? (serverCov.endSource === 'assumed' ? Infinity : toClient(serverCov.end)) : NaN,
    blocker,
  };

  const { firstFailed, ceiling, pairs } = findCeiling(cf, attemptFlows);
  // One record per attempt; its times are computed when read (analyze/attempts.ts).
  const { attempts, verdicts, lostSyn, lostSynAck } = settleAttempts(prepared, server?.flows ?? null, offsetNs ?? 0, matches, ctx);

  let commonSpan: Summary['commonSpan'] = null;
  if (serverCov && !Number.isNaN(clientCov.start)) {
    const start = Math.max(clientCov.start, ctx.serverStartC);
    const end = Math.min(clientCov.end, ctx.serverEndC); // an assumed server stop is the client's end
    if (end >= start) commonSpan = { start: time.iso(start), end: time.iso(end), durationMs: (end - start) / 1e6, endAssumed: serverCov.endSource === 'assumed' };
  }

  const partial: Omit<Summary, 'sentence' | 'pathLoss'> = {
    attempts: attempts.length,
    established: establishedAttempts,
    ceiling,
    firstFailedAttempt: firstFailed >= 0 ? firstFailed + 1 : null,
    verdicts,
    lostSynTransmissions: lostSyn,
    lostSynAckTransmissions: lostSynAck,
    clockOffsetMs: clock ? clock.offsetMs : null,
    clockOffsetUncertaintyMs: clock ? clock.uncertaintyMs : null,
    clockOffsetMethod: clock ? clock.method : null,
    commonSpan,
    port: ports[0]!,
    ports,
    portChosen: given ? 'option' : 'most-syns',
    pairs: pairs.length > 1 ? pairs : null,
    clientLimit: clientLimitOf(opts.run, attempts.length),
    peer,
  };
  const pathLoss = [...PATH_LOSS_VERDICTS].some((v) => verdicts[v] > 0);
  const summary: Summary = {
    ...partial,
    sentence: summarize(attempts, partial, firstFailed >= 0 ? attempts[firstFailed] : null, server !== null),
    pathLoss,
  };

  const captures = [captureFacts('client', client, clientCov, time)];
  if (server && serverCov) captures.push(captureFacts('server', server, serverCov, time));
  return { tool: { name: 'synprobe', version: readVersion() }, summary, captures, attempts, warnings };
}
