/**
 * One pass over one capture: every TCP handshake it shows, keyed by the initiator's 4-tuple and
 * initial sequence number. Only SYN, SYN-ACK, RST and FIN segments are kept; everything else is
 * counted and dropped, so memory grows with connection attempts, not with packets.
 *
 * The per-packet path allocates nothing: IPv4 4-tuples are looked up as numbers in an
 * open-addressing table (IPv6 ones, rare, in a Map by string). Per attempt it keeps only what a
 * verdict needs: address strings are shared (one per address), a kind of segment never seen
 * shares one frozen empty Copies, and copy arrays start at their exact length.
 */
import { readCapture } from '../read/open.js';
import type { CaptureSummary, PacketRecord } from '../read/types.js';
import { createDecodedPacket, decodePacket, formatAddress } from '../decode/packet.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/types.js';
import type { DecodeCounts } from './types.js';
import type { TimeBase } from './time.js';

/** Copies of one kind of segment in one flow, each transmission once (see addCopy). */
export interface Copies {
  times: number[];
  tsVals: number[];
  ipIds: number[];
  /** Where each copy was sighted: pcapng interface and link-layer interface index together. */
  ifaces: number[];
}

export interface Flow {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  isn: number;
  syn: Copies;
  synAck: Copies;
  /** RSTs from the responder acknowledging the SYN (a refusal). */
  rst: Copies;
  /** First FIN or RST in either direction after the handshake, or NaN. */
  closedNs: number;
  /** Index of the first SYN packet in the file (1-based). */
  firstPacket: number;
}

export interface HandshakeTable {
  summary: CaptureSummary;
  decode: DecodeCounts;
  /** Every flow that began with a SYN in this capture, in order of its first SYN. */
  flows: Flow[];
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

/** Shared by every flow with no copy of a kind; frozen so that a stray push throws. */
const NO_COPIES: Copies = Object.freeze({
  times: Object.freeze([]) as unknown as number[],
  tsVals: Object.freeze([]) as unknown as number[],
  ipIds: Object.freeze([]) as unknown as number[],
  ifaces: Object.freeze([]) as unknown as number[],
});

/** One copy, in arrays of length 1 (array literals are allocated at their exact length). */
function firstCopy(tNs: number, tsVal: number, ipId: number, iface: number): Copies {
  return { times: [tNs], tsVals: [tsVal], ipIds: [ipId], ifaces: [iface] };
}

/** `copies` with one more copy (see addCopy): a new Copies when it was the shared empty one. */
function withCopy(copies: Copies, tNs: number, tsVal: number, ipId: number, iface: number): Copies {
  if (copies === NO_COPIES) return firstCopy(tNs, tsVal, ipId, iface);
  addCopy(copies, tNs, tsVal, ipId, iface);
  return copies;
}

/** Adds a copy unless it is another interface's sighting of a transmission already counted. */
export function addCopy(copies: Copies, tNs: number, tsVal: number, ipId: number, iface: number): void {
  // Only the latest copies can be sightings of this one: walk back until the window is passed,
  // so a flood of copies of one SYN costs no more than its length.
  for (let i = copies.times.length - 1; i >= 0; i--) {
    if (tNs - copies.times[i] >= SAME_TRANSMISSION_WINDOW_NS) break;
    if (copies.ifaces[i] === iface || Math.abs(copies.times[i] - tNs) >= SAME_TRANSMISSION_WINDOW_NS) continue;
    if (copies.tsVals[i] === tsVal && copies.ipIds[i] === ipId) return;
  }
  copies.times.push(tNs);
  copies.tsVals.push(tsVal);
  copies.ipIds.push(ipId);
  copies.ifaces.push(iface);
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

const TABLE_INITIAL_CAPACITY = 1 << 12;

/**
 * IPv4 4-tuple → flow number, by open addressing with linear probing over typed arrays: a lookup
 * allocates nothing. Each endpoint is one number, address * 65536 + port (48 bits, exact).
 */
class Ipv4TupleTable {
  private src = new Float64Array(TABLE_INITIAL_CAPACITY);
  private dst = new Float64Array(TABLE_INITIAL_CAPACITY);
  /** Flow number + 1; 0 marks an empty slot. */
  private values = new Int32Array(TABLE_INITIAL_CAPACITY);
  private mask = TABLE_INITIAL_CAPACITY - 1;
  private size = 0;

  /** The flow number stored for the tuple, or -1. */
  get(srcAddr: number, srcPort: number, dstAddr: number, dstPort: number): number {
    const src = srcAddr * 65536 + srcPort;
    const dst = dstAddr * 65536 + dstPort;
    for (let i = hashTuple(srcAddr, srcPort, dstAddr, dstPort) & this.mask; ; i = (i + 1) & this.mask) {
      const value = this.values[i];
      if (value === 0) return -1;
      if (this.src[i] === src && this.dst[i] === dst) return value - 1;
    }
  }

  /** Stores (or replaces) the flow number for the tuple. */
  set(srcAddr: number, srcPort: number, dstAddr: number, dstPort: number, flow: number): void {
    if (2 * (this.size + 1) > this.values.length) this.grow();
    const src = srcAddr * 65536 + srcPort;
    const dst = dstAddr * 65536 + dstPort;
    let i = hashTuple(srcAddr, srcPort, dstAddr, dstPort) & this.mask;
    while (this.values[i] !== 0 && !(this.src[i] === src && this.dst[i] === dst)) i = (i + 1) & this.mask;
    if (this.values[i] === 0) this.size++;
    this.src[i] = src;
    this.dst[i] = dst;
    this.values[i] = flow + 1;
  }

  private grow(): void {
    const { src, dst, values } = this;
    const capacity = values.length * 2;
    this.src = new Float64Array(capacity);
    this.dst = new Float64Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let j = 0; j < values.length; j++) {
      if (values[j] === 0) continue;
      const srcAddr = Math.floor(src[j] / 65536);
      const dstAddr = Math.floor(dst[j] / 65536);
      let i = hashTuple(srcAddr, src[j] - srcAddr * 65536, dstAddr, dst[j] - dstAddr * 65536) & this.mask;
      while (this.values[i] !== 0) i = (i + 1) & this.mask;
      this.src[i] = src[j];
      this.dst[i] = dst[j];
      this.values[i] = values[j];
    }
  }
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
 * The latest flow per initiator 4-tuple: IPv4 tuples in an Ipv4TupleTable, IPv6 ones in a Map
 * keyed by the tuple as text. Also hands out one shared string per IPv4 address.
 */
class FlowIndex {
  readonly flows: Flow[] = [];
  private readonly ipv4 = new Ipv4TupleTable();
  private readonly ipv6 = new Map<string, Flow>();
  private readonly ipv4Names = new Map<number, string>();

  /** The flow whose initiator sent `d` (from: 'src'), or whose initiator `d` is sent to (from: 'dst'). */
  find(d: DecodedPacket, from: 'src' | 'dst'): Flow | undefined {
    const forward = from === 'src';
    if (d.ipVersion === 4) {
      const n = forward
        ? this.ipv4.get(d.src4, d.srcPort, d.dst4, d.dstPort)
        : this.ipv4.get(d.dst4, d.dstPort, d.src4, d.srcPort);
      return n < 0 ? undefined : this.flows[n];
    }
    if (this.ipv6.size === 0) return undefined;
    const src = formatAddress(d, 'src');
    const dst = formatAddress(d, 'dst');
    return this.ipv6.get(forward ? tupleKey(src, d.srcPort, dst, d.dstPort) : tupleKey(dst, d.dstPort, src, d.srcPort));
  }

  /** Adds `flow` (begun by the SYN in `d`) as the latest one of its 4-tuple. */
  add(d: DecodedPacket, flow: Flow): void {
    const n = this.flows.length;
    this.flows.push(flow);
    if (d.ipVersion === 4) this.ipv4.set(d.src4, d.srcPort, d.dst4, d.dstPort, n);
    else this.ipv6.set(tupleKey(flow.src, flow.srcPort, flow.dst, flow.dstPort), flow);
  }

  /** The address as text, one string per IPv4 address. */
  address(d: DecodedPacket, which: 'src' | 'dst'): string {
    if (d.ipVersion !== 4) return formatAddress(d, which);
    const addr = which === 'src' ? d.src4 : d.dst4;
    let name = this.ipv4Names.get(addr);
    if (name === undefined) {
      name = formatAddress(d, which);
      this.ipv4Names.set(addr, name);
    }
    return name;
  }
}

const isEstablished = (f: Flow): boolean => f.synAck.times.length > 0;

/** Builds the handshake table of one capture file. Throws only CaptureFileError (file unusable). */
export async function readHandshakes(file: string, time: TimeBase): Promise<HandshakeTable> {
  const decoded = createDecodedPacket();
  const decode = newDecodeCounts();
  const index = new FlowIndex();
  let firstNs = NaN;
  let lastNs = NaN;
  let synPackets = 0;
  let synAckPackets = 0;
  let strayReplies = 0;

  const onPacket = (p: PacketRecord): void => {
    const status = decodePacket(p.linkType, p.buf, p.offset, p.caplen, decoded);
    countStatus(decode, decoded);
    let tNs = NaN;
    if (p.hasTimestamp) {
      tNs = time.rel(p.tsSec, p.tsNsec);
      if (!(tNs >= firstNs)) firstNs = Number.isNaN(firstNs) ? tNs : Math.min(firstNs, tNs);
      if (!(tNs <= lastNs)) lastNs = Number.isNaN(lastNs) ? tNs : Math.max(lastNs, tNs);
    } else {
      decode.untimed++;
    }
    if (status !== 'tcp') return;
    const flags = decoded.flags;
    if ((flags & (TCP_SYN | TCP_RST | TCP_FIN)) === 0) return;
    if (Number.isNaN(tNs)) return; // an untimed packet cannot be placed in a handshake
    const tsVal = decoded.hasTimestamp ? decoded.tsVal : -1;
    const ipId = decoded.ipId;
    const iface = p.interfaceId * 0x100000000 + (decoded.ifIndex + 1);

    if ((flags & TCP_SYN) !== 0 && (flags & (TCP_ACK | TCP_RST)) === 0) {
      synPackets++;
      const flow = index.find(decoded, 'src');
      if (flow === undefined || flow.isn !== decoded.seq) {
        index.add(decoded, {
          src: index.address(decoded, 'src'), srcPort: decoded.srcPort,
          dst: index.address(decoded, 'dst'), dstPort: decoded.dstPort, isn: decoded.seq,
          syn: firstCopy(tNs, tsVal, ipId, iface), synAck: NO_COPIES, rst: NO_COPIES, closedNs: NaN, firstPacket: p.index,
        });
      } else {
        flow.syn = withCopy(flow.syn, tNs, tsVal, ipId, iface);
      }
      return;
    }

    // A reply travels from the responder to the initiator; FINs and RSTs after the handshake may go either way.
    const reverse = index.find(decoded, 'dst');
    if ((flags & TCP_SYN) !== 0 && (flags & TCP_ACK) !== 0 && (flags & TCP_RST) === 0) {
      synAckPackets++;
      if (reverse !== undefined && decoded.ack === ((reverse.isn + 1) >>> 0)) reverse.synAck = withCopy(reverse.synAck, tNs, tsVal, ipId, iface);
      else strayReplies++;
      return;
    }
    if ((flags & TCP_RST) !== 0 && reverse !== undefined && !isEstablished(reverse)) {
      if ((flags & TCP_ACK) !== 0 && decoded.ack === ((reverse.isn + 1) >>> 0)) reverse.rst = withCopy(reverse.rst, tNs, tsVal, ipId, iface);
      else strayReplies++;
      return;
    }
    const flow = reverse ?? index.find(decoded, 'src');
    if (flow !== undefined && isEstablished(flow) && Number.isNaN(flow.closedNs)) flow.closedNs = tNs;
  };

  const summary = await readCapture(file, onPacket);
  return { summary, decode, flows: index.flows, firstNs, lastNs, synPackets, synAckPackets, strayReplies };
}
