/**
 * One pass over one capture: every TCP handshake it shows, keyed by the initiator's 4-tuple and
 * initial sequence number. Only SYN, SYN-ACK, RST and FIN segments are kept; everything else is
 * counted and dropped, so memory grows with connection attempts, not with packets.
 *
 * The table is columnar: a flow is a number (0, 1, ... in order of its first SYN) indexing typed
 * arrays, and the copies of its segments sit in shared typed arrays (no object per flow, none per
 * copy: about 60 bytes per flow and 20 per copy, where objects took 700 per flow). The per-packet
 * path allocates nothing: IPv4 4-tuples are looked up as numbers in an open-addressing table
 * (IPv6 ones, rare, in a Map by string), and an address becomes text once, when first seen.
 */
import { statSync } from 'node:fs';
import { readCapture } from '../read/open.js';
import { CaptureFileError, type CaptureSummary, type PacketRecord } from '../read/types.js';
import { createDecodedPacket, decodePacket, formatAddress, peekTcpFlags } from '../decode/packet.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/types.js';
import type { DecodeCounts } from './types.js';
import type { TimeBase } from './time.js';
import { endEarlyWorker, readInWorker, wantWorker } from './read-worker.js';

/** The kinds of segment kept per flow: the initiator's SYN, the responder's SYN-ACK, and its RST refusing the SYN. */
export const SYN = 0;
export const SYN_ACK = 1;
export const RST = 2;
export type CopyKind = typeof SYN | typeof SYN_ACK | typeof RST;
const KINDS = 3;

/**
 * The handshakes of one capture, column by column. Flow `f`'s copies of kind `k` (each
 * transmission once, see addCopy) are entries copyStart[f * 3 + k] ... + copyCount[f * 3 + k] - 1
 * of the copy columns, in capture order.
 */
export class FlowTable {
  constructor(
    /** Flows, numbered in order of their first SYN. */
    readonly length: number,
    /** Address text by address number (one string per address). */
    readonly addresses: readonly string[],
    readonly srcAddr: Int32Array,
    readonly dstAddr: Int32Array,
    readonly srcPort: Uint16Array,
    readonly dstPort: Uint16Array,
    /** The initiator's initial sequence number (unsigned 32-bit). */
    readonly isn: Uint32Array,
    /** First FIN or RST in either direction after the handshake (relative ns), or NaN. */
    readonly closedNs: Float64Array,
    readonly copyStart: Int32Array,
    readonly copyCount: Int32Array,
    /** Relative ns in this capture's clock. */
    readonly times: Float64Array,
    /** TCP timestamp value, or -1. */
    readonly tsVals: Float64Array,
    /** IPv4 identification, or -1. */
    readonly ipIds: Int32Array,
    /** Whether flow numbers are in order of first SYN (false when the capture's timestamps step back). */
    readonly ordered: boolean,
  ) {}

  src(f: number): string {
    return this.addresses[this.srcAddr[f]];
  }

  dst(f: number): string {
    return this.addresses[this.dstAddr[f]];
  }

  /** Copies of kind `k` in flow `f`. */
  count(f: number, k: CopyKind): number {
    return this.copyCount[f * KINDS + k];
  }

  /** Index in the copy columns of flow `f`'s first copy of kind `k` (its copies follow it). */
  start(f: number, k: CopyKind): number {
    return this.copyStart[f * KINDS + k];
  }

  /** Time of flow `f`'s first copy of kind `k`, or NaN. */
  firstTime(f: number, k: CopyKind): number {
    return this.copyCount[f * KINDS + k] > 0 ? this.times[this.copyStart[f * KINDS + k]] : NaN;
  }

  /** Flow numbers in order, those `keep` accepts (every flow without it). */
  select(keep?: (f: number) => boolean): number[] {
    const out: number[] = [];
    for (let f = 0; f < this.length; f++) if (keep === undefined || keep(f)) out.push(f);
    return out;
  }

  /**
   * Of `flows`, those to one of `ports`, in order of their first SYN. Flow numbers follow the
   * capture, which is that order unless its timestamps step back: only then is there a sort
   * (stable, as a sort by first-SYN time of any order of them would be).
   */
  attemptsTo(flows: readonly number[], ports: ReadonlySet<number>): number[] {
    const out: number[] = [];
    for (let i = 0; i < flows.length; i++) if (ports.has(this.dstPort[flows[i]])) out.push(flows[i]);
    if (this.ordered) return out;
    let previous = -Infinity;
    for (let i = 0; i < out.length; i++) {
      const t = this.firstTime(out[i], SYN);
      if (t < previous) return out.sort((a, b) => this.firstTime(a, SYN) - this.firstTime(b, SYN));
      previous = t;
    }
    return out;
  }

  /** Whether a SYN-ACK reached the initiator. */
  established(f: number): boolean {
    return this.copyCount[f * KINDS + SYN_ACK] > 0;
  }
}

export interface HandshakeTable {
  summary: CaptureSummary;
  decode: DecodeCounts;
  /** Every flow that began with a SYN in this capture. */
  flows: FlowTable;
  /** Relative ns of the first and last timestamped packet, NaN when there was none. */
  firstNs: number;
  lastNs: number;
  synPackets: number;
  synAckPackets: number;
  /** SYN-ACKs and RSTs that answered no SYN in this capture. */
  strayReplies: number;
}

/**
 * One transmission is sighted twice only by a capture on two interfaces (tcpdump -i any across
 * a bridge or a VLAN device, a pcapng with several interfaces): the same TSval and IP ID on
 * another interface, close in time. On one interface every packet is its own transmission, even
 * with identical headers: a server may send two SYN-ACKs within the same millisecond (its timer
 * and a retransmitted SYN), with one TSval and IP ID 0 (seen in the lab).
 */
const SAME_TRANSMISSION_WINDOW_NS = 200e6;

/**
 * Flows first made room for: a guess from the file size (one attempt per 2 kB), at most 131,072
 * (the room then takes 17 MB, whatever the file's size), then doubled as needed.
 */
const MIN_FLOWS = 1 << 12;
const MAX_INITIAL_FLOWS = 1 << 17;
const BYTES_PER_FLOW_GUESS = 2048;

function initialFlows(fileSize: number): number {
  let n = MIN_FLOWS;
  while (n < MAX_INITIAL_FLOWS && n * BYTES_PER_FLOW_GUESS < fileSize) n *= 2;
  return n;
}

/** The column `a` copied into a new zero-filled array of the same type and `length` (a table that grew). */
function grown<T extends Float64Array | Uint32Array | Int32Array | Uint16Array>(a: T, length: number): T {
  const b = new (a.constructor as new (length: number) => T)(length);
  b.set(a);
  return b;
}

/**
 * The table while the capture is read: columns that double when full; each flow's copies of a
 * kind as a list linked backwards from its latest copy (addCopy looks at the latest ones); and the
 * IPv4 4-tuple index, chains of flows by tuple hash (see FlowIndex). Links and chain heads hold a
 * number + 1, so that a fresh (zeroed) array means "none".
 */
class FlowTableBuilder {
  length = 0;
  private capacity: number;
  readonly addresses: string[] = [];
  srcAddr: Int32Array;
  dstAddr: Int32Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  isn: Uint32Array;
  closedNs: Float64Array;
  /** Per flow and kind: the latest copy + 1 (0: none) and the number of copies. */
  latest: Int32Array;
  counts: Int32Array;
  /**
   * IPv4 flows: addresses as numbers (signed 32-bit: small integers for V8, compared and passed
   * unboxed), the tuple's hash, and the next older flow + 1 in its hash chain.
   */
  src4: Int32Array;
  dst4: Int32Array;
  tupleHash: Int32Array;
  chain: Int32Array;

  /** Whether every flow's first SYN came no earlier than the one before (see FlowTable.ordered). */
  ordered = true;
  private lastFirstSyn = -Infinity;

  copies = 0;
  private copyCapacity: number;
  times: Float64Array;
  tsVals: Float64Array;
  ipIds: Int32Array;
  /** pcapng interface and link-layer interface index together: where a copy was sighted. */
  ifaces: Float64Array;
  /** The flow's copy of the same kind before this one + 1, or 0. */
  previous: Int32Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.srcAddr = new Int32Array(capacity);
    this.dstAddr = new Int32Array(capacity);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.isn = new Uint32Array(capacity);
    this.closedNs = new Float64Array(capacity);
    this.latest = new Int32Array(capacity * KINDS);
    this.counts = new Int32Array(capacity * KINDS);
    this.src4 = new Int32Array(capacity);
    this.dst4 = new Int32Array(capacity);
    this.tupleHash = new Int32Array(capacity);
    this.chain = new Int32Array(capacity);
    this.copyCapacity = capacity * 2;
    this.times = new Float64Array(this.copyCapacity);
    this.tsVals = new Float64Array(this.copyCapacity);
    this.ipIds = new Int32Array(this.copyCapacity);
    this.ifaces = new Float64Array(this.copyCapacity);
    this.previous = new Int32Array(this.copyCapacity);
  }

  addFlow(srcAddr: number, srcPort: number, dstAddr: number, dstPort: number, isn: number): number {
    if (this.length === this.capacity) this.growFlows();
    const f = this.length++;
    this.srcAddr[f] = srcAddr;
    this.srcPort[f] = srcPort;
    this.dstAddr[f] = dstAddr;
    this.dstPort[f] = dstPort;
    this.isn[f] = isn;
    this.closedNs[f] = NaN;
    return f;
  }

  established(f: number): boolean {
    return this.counts[f * KINDS + SYN_ACK] > 0;
  }

  /** Adds a copy unless it is another interface's sighting of a transmission already counted. */
  addCopy(f: number, k: CopyKind, tNs: number, tsVal: number, ipId: number, iface: number): void {
    const slot = f * KINDS + k;
    // Only the latest copies can be sightings of this one: walk back until the window is passed,
    // so a flood of copies of one SYN costs no more than its length.
    for (let i = this.latest[slot] - 1; i >= 0; i = this.previous[i] - 1) {
      const t = this.times[i];
      if (tNs - t >= SAME_TRANSMISSION_WINDOW_NS) break;
      if (this.ifaces[i] === iface || Math.abs(t - tNs) >= SAME_TRANSMISSION_WINDOW_NS) continue;
      if (this.tsVals[i] === tsVal && this.ipIds[i] === ipId) return;
    }
    if (this.copies === this.copyCapacity) this.growCopies();
    if (k === SYN && this.latest[slot] === 0) {
      if (tNs < this.lastFirstSyn) this.ordered = false;
      this.lastFirstSyn = tNs;
    }
    const c = this.copies++;
    this.times[c] = tNs;
    this.tsVals[c] = tsVal;
    this.ipIds[c] = ipId;
    this.ifaces[c] = iface;
    this.previous[c] = this.latest[slot];
    this.latest[slot] = c + 1;
    this.counts[slot]++;
  }

  /**
   * The finished table: each flow's copies of a kind side by side. The flow columns are views of
   * the builder's (no copy); copyStart takes the place of the latest-copy links it replaces.
   */
  finish(): FlowTable {
    const n = this.length;
    const copyCount = this.counts.subarray(0, n * KINDS);
    const copyStart = this.latest.subarray(0, n * KINDS);
    const times = new Float64Array(this.copies);
    const tsVals = new Float64Array(this.copies);
    const ipIds = new Int32Array(this.copies);
    const previous = this.previous;
    let at = 0;
    for (let slot = 0; slot < n * KINDS; slot++) {
      const count = copyCount[slot];
      for (let i = copyStart[slot] - 1, j = at + count - 1; i >= 0; i = previous[i] - 1, j--) {
        times[j] = this.times[i];
        tsVals[j] = this.tsVals[i];
        ipIds[j] = this.ipIds[i];
      }
      copyStart[slot] = at;
      at += count;
    }
    return new FlowTable(
      n, this.addresses, this.srcAddr.subarray(0, n), this.dstAddr.subarray(0, n), this.srcPort.subarray(0, n), this.dstPort.subarray(0, n),
      this.isn.subarray(0, n), this.closedNs.subarray(0, n), copyStart, copyCount, times, tsVals, ipIds, this.ordered,
    );
  }

  private growFlows(): void {
    const capacity = this.capacity * 2;
    this.srcAddr = grown(this.srcAddr, capacity);
    this.dstAddr = grown(this.dstAddr, capacity);
    this.srcPort = grown(this.srcPort, capacity);
    this.dstPort = grown(this.dstPort, capacity);
    this.isn = grown(this.isn, capacity);
    this.closedNs = grown(this.closedNs, capacity);
    this.latest = grown(this.latest, capacity * KINDS);
    this.counts = grown(this.counts, capacity * KINDS);
    this.src4 = grown(this.src4, capacity);
    this.dst4 = grown(this.dst4, capacity);
    this.tupleHash = grown(this.tupleHash, capacity);
    this.chain = grown(this.chain, capacity);
    this.capacity = capacity;
  }

  private growCopies(): void {
    const capacity = this.copyCapacity * 2;
    this.times = grown(this.times, capacity);
    this.tsVals = grown(this.tsVals, capacity);
    this.ipIds = grown(this.ipIds, capacity);
    this.ifaces = grown(this.ifaces, capacity);
    this.previous = grown(this.previous, capacity);
    this.copyCapacity = capacity;
  }
}

function newDecodeCounts(): DecodeCounts {
  return { tcp: 0, notTcp: 0, notIp: 0, fragment: 0, truncated: 0, malformed: 0, unsupportedLink: 0, optionsTruncated: 0, untimed: 0 };
}

function countStatus(counts: DecodeCounts, d: DecodedPacket): void {
  switch (d.status) {
    case 'tcp':
      counts.tcp++;
      if (d.tcpOptionsTruncated) counts.optionsTruncated++;
      break;
    case 'not-tcp': counts.notTcp++; break;
    case 'not-ip': counts.notIp++; break;
    case 'fragment': counts.fragment++; break;
    case 'truncated': counts.truncated++; break;
    case 'malformed': counts.malformed++; break;
    case 'unsupported-link': counts.unsupportedLink++; break;
  }
}

function tupleKey(src: string, srcPort: number, dst: string, dstPort: number): string {
  return `${src}|${srcPort}|${dst}|${dstPort}`;
}

/** A 32-bit mix of the tuple (murmur3's finalizer over the xor of the multiplied parts). */
function hashTuple(srcAddr: number, srcPort: number, dstAddr: number, dstPort: number): number {
  let h = Math.imul(srcAddr | 0, 0x9e3779b1) ^ Math.imul(dstAddr | 0, 0x85ebca6b) ^ Math.imul((srcPort << 16) | dstPort, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The latest flow per initiator 4-tuple, and the address numbers. IPv4 tuples are found through
 * chains of flows by tuple hash (heads in a table about as big as the flow count, links in the
 * flow columns, newest flow first): a lookup allocates nothing, compares the hash stored with each
 * flow before its tuple, and the flows a reply is looked up for are mostly recent, their columns
 * in the cache. IPv6 tuples, rare, are kept in a Map keyed by the tuple as text.
 */
class FlowIndex {
  readonly table: FlowTableBuilder;
  /** Chain heads: a flow number + 1, 0 for none. */
  private heads: Int32Array;
  private mask: number;
  private ipv4Flows = 0;
  /** The IPv4 flow added last (the newest of its tuple), -1 before the first. */
  private lastIpv4Flow = -1;
  private readonly ipv6 = new Map<string, number>();
  private readonly ipv4Numbers = new Map<number, number>();
  private readonly ipv6Numbers = new Map<string, number>();
  /** The last IPv4 source and destination address looked up, and their numbers (-1: none yet). */
  private readonly lastIpv4 = new Float64Array([-1, -1]);
  private readonly lastIpv4Number = new Int32Array(2);

  constructor(capacity: number) {
    this.table = new FlowTableBuilder(capacity);
    this.heads = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  /** The flow whose initiator sent `d` (from: 'src'), or whose initiator `d` is sent to (from: 'dst'); -1 when none. */
  find(d: DecodedPacket, from: 'src' | 'dst'): number {
    const forward = from === 'src';
    if (d.ipVersion === 4) {
      return forward
        ? this.findIpv4(d.src4 | 0, d.srcPort, d.dst4 | 0, d.dstPort)
        : this.findIpv4(d.dst4 | 0, d.dstPort, d.src4 | 0, d.srcPort);
    }
    if (this.ipv6.size === 0) return -1;
    const src = formatAddress(d, 'src');
    const dst = formatAddress(d, 'dst');
    return this.ipv6.get(forward ? tupleKey(src, d.srcPort, dst, d.dstPort) : tupleKey(dst, d.dstPort, src, d.srcPort)) ?? -1;
  }

  /** `srcAddr`, `dstAddr`: IPv4 addresses as signed 32-bit numbers (`| 0`). */
  private findIpv4(srcAddr: number, srcPort: number, dstAddr: number, dstPort: number): number {
    const t = this.table;
    const h = hashTuple(srcAddr, srcPort, dstAddr, dstPort);
    // The flow added last first: a SYN-ACK or a retransmitted SYN mostly follows its SYN closely
    // (a probe connects one at a time), and that flow's columns are in the cache, the chain head not.
    const last = this.lastIpv4Flow;
    if (last >= 0 && t.tupleHash[last] === h && t.src4[last] === srcAddr && t.dst4[last] === dstAddr && t.srcPort[last] === srcPort && t.dstPort[last] === dstPort) return last;
    for (let f = this.heads[h & this.mask] - 1; f >= 0; f = t.chain[f] - 1) {
      if (t.tupleHash[f] === h && t.src4[f] === srcAddr && t.dst4[f] === dstAddr && t.srcPort[f] === srcPort && t.dstPort[f] === dstPort) return f;
    }
    return -1;
  }

  /** Adds a flow begun by the SYN in `d` as the latest one of its 4-tuple. */
  add(d: DecodedPacket): number {
    const t = this.table;
    const f = t.addFlow(this.address(d, 'src'), d.srcPort, this.address(d, 'dst'), d.dstPort, d.seq);
    if (d.ipVersion === 4) {
      t.src4[f] = d.src4;
      t.dst4[f] = d.dst4;
      t.tupleHash[f] = hashTuple(d.src4, d.srcPort, d.dst4, d.dstPort);
      if (++this.ipv4Flows > this.heads.length) this.rechain();
      this.link(f);
      this.lastIpv4Flow = f;
    } else {
      this.ipv6.set(tupleKey(formatAddress(d, 'src'), d.srcPort, formatAddress(d, 'dst'), d.dstPort), f);
    }
    return f;
  }

  private link(f: number): void {
    const t = this.table;
    const b = t.tupleHash[f] & this.mask;
    t.chain[f] = this.heads[b];
    this.heads[b] = f + 1;
  }

  /**
   * Twice the chain heads: each chain splits in two (by the next bit of the hash), each keeping
   * its order (newest flow first).
   */
  private rechain(): void {
    const t = this.table;
    const old = this.heads;
    const n = old.length;
    const heads = new Int32Array(n * 2);
    const mask = n * 2 - 1;
    for (let b = 0; b < n; b++) {
      let lowTail = 0;
      let highTail = 0;
      for (let f = old[b] - 1; f >= 0; ) {
        const next = t.chain[f] - 1;
        t.chain[f] = 0;
        if ((t.tupleHash[f] & mask) === b) {
          if (lowTail === 0) heads[b] = f + 1;
          else t.chain[lowTail - 1] = f + 1;
          lowTail = f + 1;
        } else {
          if (highTail === 0) heads[b + n] = f + 1;
          else t.chain[highTail - 1] = f + 1;
          highTail = f + 1;
        }
        f = next;
      }
    }
    this.heads = heads;
    this.mask = mask;
  }

  /** The address's number, its text stored once. */
  private address(d: DecodedPacket, which: 'src' | 'dst'): number {
    const addresses = this.table.addresses;
    if (d.ipVersion === 4) {
      const addr = which === 'src' ? d.src4 : d.dst4;
      // Most flows share their addresses with the flow before.
      if (addr === this.lastIpv4[0]) return this.lastIpv4Number[0];
      if (addr === this.lastIpv4[1]) return this.lastIpv4Number[1];
      let n = this.ipv4Numbers.get(addr);
      if (n === undefined) {
        n = addresses.push(formatAddress(d, which)) - 1;
        this.ipv4Numbers.set(addr, n);
      }
      const k = which === 'src' ? 0 : 1;
      this.lastIpv4[k] = addr;
      this.lastIpv4Number[k] = n;
      return n;
    }
    const text = formatAddress(d, which);
    let n = this.ipv6Numbers.get(text);
    if (n === undefined) {
      n = addresses.push(text) - 1;
      this.ipv6Numbers.set(text, n);
    }
    return n;
  }
}

/** Builds the handshake table of one capture file. Throws only CaptureFileError (file unusable). */
export async function readHandshakes(file: string, time: TimeBase): Promise<HandshakeTable> {
  const decoded = createDecodedPacket();
  const decode = newDecodeCounts();
  let fileSize = 0;
  try {
    fileSize = statSync(file).size;
  } catch {
    // readCapture says what is wrong with it
  }
  const index = new FlowIndex(initialFlows(fileSize));
  const table = index.table;
  // First and last timestamp, and the time of the packet at hand: in a typed array, as a double in
  // a closure variable would be boxed (allocated) at every store.
  const span = new Float64Array([NaN, NaN, NaN]);
  let synPackets = 0;
  let synAckPackets = 0;
  let strayReplies = 0;

  /**
   * The packet's time (relative ns; NaN when it has none) into span[2], the span stretched to it.
   * Stored, not returned: a double returned from a function V8 does not inline is allocated.
   */
  const place = (p: PacketRecord): void => {
    if (!p.hasTimestamp) {
      decode.untimed++;
      span[2] = NaN;
      return;
    }
    const tNs = time.rel(p.tsSec, p.tsNsec);
    span[2] = tNs;
    if (!(tNs >= span[0])) span[0] = Number.isNaN(span[0]) ? tNs : Math.min(span[0], tNs);
    if (!(tNs <= span[1])) span[1] = Number.isNaN(span[1]) ? tNs : Math.max(span[1], tNs);
  };

  const onPacket = (p: PacketRecord): void => {
    // Most segments carry data: no SYN, RST or FIN. Those decodePacket would take in one step are
    // counted (as it would count them: TCP, options not decoded) and timed, not decoded.
    const peeked = peekTcpFlags(p.linkType, p.buf, p.offset, p.caplen);
    if (peeked >= 0 && (peeked & (TCP_SYN | TCP_RST | TCP_FIN)) === 0) {
      decode.tcp++;
      place(p);
      return;
    }
    const status = decodePacket(p.linkType, p.buf, p.offset, p.caplen, decoded, TCP_SYN | TCP_RST | TCP_FIN);
    countStatus(decode, decoded);
    place(p);
    if (status !== 'tcp') return;
    const flags = decoded.flags;
    if ((flags & (TCP_SYN | TCP_RST | TCP_FIN)) === 0) return;
    const tNs = span[2];
    if (Number.isNaN(tNs)) return; // an untimed packet cannot be placed in a handshake
    const tsVal = decoded.hasTimestamp ? decoded.tsVal : -1;
    const ipId = decoded.ipId;
    const iface = p.interfaceId * 0x100000000 + (decoded.ifIndex + 1);

    if ((flags & TCP_SYN) !== 0 && (flags & (TCP_ACK | TCP_RST)) === 0) {
      synPackets++;
      let f = index.find(decoded, 'src');
      if (f < 0 || table.isn[f] !== decoded.seq) f = index.add(decoded);
      table.addCopy(f, SYN, tNs, tsVal, ipId, iface);
      return;
    }

    // A reply travels from the responder to the initiator; FINs and RSTs after the handshake may go either way.
    const reverse = index.find(decoded, 'dst');
    const answers = reverse >= 0 && decoded.ack === ((table.isn[reverse] + 1) >>> 0);
    if ((flags & TCP_SYN) !== 0 && (flags & TCP_ACK) !== 0 && (flags & TCP_RST) === 0) {
      synAckPackets++;
      if (answers) table.addCopy(reverse, SYN_ACK, tNs, tsVal, ipId, iface);
      else strayReplies++;
      return;
    }
    if ((flags & TCP_RST) !== 0 && reverse >= 0 && !table.established(reverse)) {
      if ((flags & TCP_ACK) !== 0 && answers) table.addCopy(reverse, RST, tNs, tsVal, ipId, iface);
      else strayReplies++;
      return;
    }
    const f = reverse >= 0 ? reverse : index.find(decoded, 'src');
    if (f >= 0 && table.established(f) && Number.isNaN(table.closedNs[f])) table.closedNs[f] = tNs;
  };

  const summary = await readCapture(file, onPacket);
  return { summary, decode, flows: table.finish(), firstNs: span[0], lastNs: span[1], synPackets, synAckPackets, strayReplies };
}

/** A HandshakeTable as a worker thread posts it: the columns' buffers are moved, not copied. */
export interface PostedTable {
  summary: CaptureSummary;
  decode: DecodeCounts;
  firstNs: number;
  lastNs: number;
  synPackets: number;
  synAckPackets: number;
  strayReplies: number;
  flows: {
    length: number;
    addresses: readonly string[];
    columns: [Int32Array, Int32Array, Uint16Array, Uint16Array, Uint32Array, Float64Array, Int32Array, Int32Array, Float64Array, Float64Array, Int32Array];
    ordered: boolean;
  };
}

export function postableTable(h: HandshakeTable): { table: PostedTable; transfer: ArrayBuffer[] } {
  const t = h.flows;
  const columns: PostedTable['flows']['columns'] = [t.srcAddr, t.dstAddr, t.srcPort, t.dstPort, t.isn, t.closedNs, t.copyStart, t.copyCount, t.times, t.tsVals, t.ipIds];
  const { flows: _flows, ...rest } = h;
  return { table: { ...rest, flows: { length: t.length, addresses: t.addresses, columns, ordered: t.ordered } }, transfer: columns.map((c) => c.buffer as ArrayBuffer) };
}

export function tableFromPost(p: PostedTable): HandshakeTable {
  const { flows, ...rest } = p;
  return { ...rest, flows: new FlowTable(flows.length, flows.addresses, ...flows.columns, flows.ordered) };
}

/** Moves every time of `h` by `ns` (a table read with another base second). */
function shiftTimes(h: HandshakeTable, ns: number): void {
  if (ns === 0) return;
  const { times, closedNs } = h.flows;
  for (let i = 0; i < times.length; i++) times[i] += ns;
  for (let i = 0; i < closedNs.length; i++) closedNs[i] += ns;
  h.firstNs += ns;
  h.lastNs += ns;
}

type WorkerAnswer = { table: PostedTable; baseSec: number | null } | { error: { file: string; offset: number | null; code: CaptureFileError['code']; message: string } };

/**
 * Starts reading `file` in a worker thread, when that is worth it and possible (read-worker.ts's
 * wantWorker): `answer` is its result, or null when the worker failed (the caller then reads the
 * file itself). Null when no worker was started. An early worker (startEarlyWorker) is taken, or
 * ended when none is needed.
 */
function startWorkerRead(clientFile: string, file: string): { answer: Promise<WorkerAnswer | null>; stop(): void } | null {
  if (!wantWorker(clientFile, file)) {
    endEarlyWorker();
    return null;
  }
  const worker = readInWorker(file);
  if (worker === null) return null;
  const answer = new Promise<WorkerAnswer | null>((resolve) => {
    worker.once('message', (m: WorkerAnswer) => resolve(m));
    worker.once('error', () => resolve(null));
    worker.once('exit', () => resolve(null));
  });
  return { answer, stop: () => void worker.terminate() };
}

/** The two tables as they become ready (PairReading.server once the client's is: see readHandshakePair). */
export interface PairReading {
  client: Promise<HandshakeTable>;
  /** null without a server capture; settles after `client`, and rejects with it when the client capture cannot be read. */
  server: Promise<HandshakeTable | null>;
}

/**
 * Reads the handshake tables of the client capture and, if given, the server capture, timed
 * against one base second (`time`). Large pairs are read in parallel: the server capture in a
 * worker thread, so the caller may start on the client's table while the server's is finishing.
 * The same tables either way; a file that cannot be read rejects with its CaptureFileError, the
 * client's first.
 */
export function readHandshakePair(clientFile: string, serverFile: string | null, time: TimeBase): PairReading {
  if (serverFile === null) endEarlyWorker();
  const worker = serverFile === null ? null : startWorkerRead(clientFile, serverFile);
  const client = readHandshakes(clientFile, time);
  let server: Promise<HandshakeTable | null>;
  if (serverFile === null) {
    server = client.then(() => null);
  } else if (worker === null) {
    server = client.then(() => readHandshakes(serverFile, time));
  } else {
    server = client.then(
      () => tableFromWorker(worker, serverFile, time),
      (error: unknown) => {
        worker.stop();
        throw error;
      },
    );
  }
  // When the client's table fails, the caller learns it from `client`: not an unhandled rejection.
  server.catch(() => {});
  return { client, server };
}

/** The worker's table, its times moved to `time`'s base second; read here if the worker failed. */
async function tableFromWorker(worker: { answer: Promise<WorkerAnswer | null> }, file: string, time: TimeBase): Promise<HandshakeTable> {
  const answer = await worker.answer;
  if (answer === null) return readHandshakes(file, time);
  if ('error' in answer) {
    const { file: name, offset, code, message } = answer.error;
    const error = new CaptureFileError(name, offset, code, '');
    error.message = message;
    throw error;
  }
  const table = tableFromPost(answer.table);
  if (answer.baseSec !== null) {
    time.adopt(answer.baseSec);
    shiftTimes(table, (answer.baseSec - time.sec!) * 1e9);
  }
  return table;
}
