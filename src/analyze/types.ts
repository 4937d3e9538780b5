/** The data `synprobe analyze` returns; every report format is rendered from this alone. */
import type { CaptureFormat } from '../read/types.js';

export const VERDICTS = [
  'established',
  'established-after-loss',
  'lost-in-path',
  'synack-lost',
  'unanswered-at-server',
  'refused',
  'no-reply',
  'outside-capture',
] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Verdicts that mean packets were lost between the two capture points (exit status 1). */
export const PATH_LOSS_VERDICTS: ReadonlySet<Verdict> = new Set<Verdict>([
  'lost-in-path',
  'synack-lost',
  'established-after-loss',
]);

export interface FourTuple {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
}

export interface DecodeCounts {
  tcp: number;
  notTcp: number;
  notIp: number;
  fragment: number;
  truncated: number;
  malformed: number;
  unsupportedLink: number;
  /** TCP headers whose options were cut by the snap length (still decoded as TCP). */
  optionsTruncated: number;
  /** Packets without a timestamp (pcapng SPB): decoded but not placed in time. */
  untimed: number;
}

export interface CaptureFacts {
  role: 'client' | 'server';
  file: string;
  format: CaptureFormat;
  byteOrder: string;
  nanosecond: boolean;
  linkTypes: string[];
  snapLen: number;
  packets: number;
  decode: DecodeCounts;
  /** ISO-8601 with nanoseconds, in the capturing host's clock; null for an empty capture. */
  firstPacketAt: string | null;
  lastPacketAt: string | null;
  /** What the capture covered, in its own host's clock, and where each bound came from. */
  coverStart: string | null;
  coverStartSource: 'run.json' | 'pcapng-isb' | 'first-packet' | 'option' | null;
  coverEnd: string | null;
  coverEndSource: 'run.json' | 'pcapng-isb' | 'last-packet' | 'assumed' | 'option' | null;
  /** Packets tcpdump/dumpcap reported as dropped; null when the file does not say and no run.json does. */
  kernelDrops: number | null;
  kernelDropsSource: 'run.json' | 'pcapng-isb' | 'option' | null;
  /** Reading stopped early: 'cut-short' (killed mid-write) or 'corrupt', at a byte offset. */
  readProblem: { kind: string; offset: number; message: string } | null;
  warnings: string[];
  synPackets: number;
  synAckPackets: number;
}

export interface Transmission {
  /** ISO-8601 with nanoseconds, in the clock of the capture it was seen in. */
  at: string;
  /** Milliseconds after the attempt's first SYN, in the client's clock (server times shifted by the offset). */
  relMs: number;
  /** TCP timestamp value, or null. */
  tsVal: number | null;
  ipId: number | null;
  /** Position of the same transmission in the other capture's list (SYN sent ↔ SYN seen, SYN-ACK sent ↔ seen), or null: never arrived. */
  match: number | null;
}

export interface Attempt {
  index: number;
  /** The client's initial sequence number (unsigned 32-bit). */
  isn: number;
  client: FourTuple;
  /** The same attempt as the server saw it (may differ behind NAT); null when the server capture has no trace of it. */
  server: FourTuple | null;
  verdict: Verdict;
  /** Why no verdict could be given (outside-capture), or a note on the verdict. */
  reason: string | null;
  synSent: number;
  /** null without a server capture. */
  synSeen: number | null;
  synAckSent: number | null;
  synAckSeen: number;
  rstSeen: number;
  /** Whether the client's handshake completed (a SYN-ACK reached it). */
  established: boolean;
  /** FIN or RST seen on the connection after it was established (ISO, client clock), or null. */
  closedAt: string | null;
  synSentTimes: Transmission[];
  synSeenTimes: Transmission[];
  synAckSentTimes: Transmission[];
  synAckSeenTimes: Transmission[];
}

export interface ClockOffset {
  /** Server clock minus client clock, milliseconds. */
  offsetMs: number;
  /** Half-width of the interval the offset is known to lie in. */
  uncertaintyMs: number;
  method: 'round-trip' | 'one-way' | 'option' | 'assumed-zero';
  /** Attempts whose packets were used. */
  samples: number;
}

export interface PairCeiling {
  /** Source address of the attempts, as the client sent them. */
  source: string;
  port: number;
  attempts: number;
  established: number;
  /** Connections of this pair open when the first failing attempt (of any pair) was sent; null when none failed. */
  ceiling: number | null;
  /** Whether the first failing attempt was of this pair. */
  failedHere: boolean;
}

export interface Summary {
  attempts: number;
  established: number;
  /** Connections established and still open when the first failing attempt was sent; null when none failed. */
  ceiling: number | null;
  firstFailedAttempt: number | null;
  verdicts: Record<Verdict, number>;
  /** SYN copies sent by the client that the server capture never shows (covered attempts only); 0 without a server capture. */
  lostSynTransmissions: number;
  /** SYN-ACK copies the server sent that never reached the client. */
  lostSynAckTransmissions: number;
  clockOffsetMs: number | null;
  clockOffsetUncertaintyMs: number | null;
  clockOffsetMethod: ClockOffset['method'] | null;
  /** The span both captures cover, in the client's clock (ISO), or null. */
  commonSpan: { start: string; end: string; durationMs: number; endAssumed: boolean } | null;
  /** The first of `ports`. */
  port: number;
  /** Destination ports of the attempts. */
  ports: number[];
  portChosen: 'option' | 'most-syns';
  /**
   * With several (client source address, destination port) pairs: each pair's attempts, and
   * connections open when the first failing attempt was sent; null with one pair.
   */
  pairs: PairCeiling[] | null;
  /**
   * From run.json: the probe's next attempt failed on the client host itself (a local limit such
   * as EADDRNOTAVAIL: no local port left, or EMFILE) and sent no SYN; null otherwise.
   */
  clientLimit: { attempt: number; code: string } | null;
  peer: string | null;
  /** The one-sentence verdict a user pastes. */
  sentence: string;
  pathLoss: boolean;
}

export interface AnalysisResult {
  tool: { name: 'synprobe'; version: string };
  summary: Summary;
  captures: CaptureFacts[];
  /** Every attempt, in the order the client sent its first SYN. */
  attempts: Attempt[];
  warnings: string[];
}
