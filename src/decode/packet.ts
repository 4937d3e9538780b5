/**
 * Entry point of the packet decoders: link layer, then IPv4 or IPv6, then TCP, each decoded in
 * place into one reused DecodedPacket (gopacket's DecodingLayerParser idea).
 *
 * The per-packet path allocates nothing: bytes are read with index arithmetic on the caller's
 * Uint8Array, layers hand over through one module-level Cursor, and a problem is written into one
 * reused DecodeProblem object per DecodedPacket (created on that packet's first problem). Its
 * `message` is a getter, so no string is built unless someone reads it. `out.problem` points at
 * that object until the next decode: copy it if you keep it.
 */
import type { DecodedPacket, DecodeProblem, DecodeStatus, Layer } from './types.js';
import { decodeLink, ETHERTYPE_IPV4, ETHERTYPE_IPV6, LINKTYPE_ETHERNET } from './link.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';
import { decodeOptions, decodeTcp } from './tcp.js';

/** What a layer decoder returns: a final status, or 'next' when the layer named in the Cursor follows. */
export type LayerResult = DecodeStatus | 'next';

/** Handed from layer to layer: where the next header starts and how far its bytes go. */
export interface Cursor {
  /** Offset in buf of the next header. */
  offset: number;
  /** End (exclusive) of the bytes the next layer may read. IP lowers it to the IP length (drops padding). */
  end: number;
  /** Set by the link layer: ETHERTYPE_IPV4 (IP version read from the first nibble, as tshark does), ETHERTYPE_IPV6, or NETWORK_IP_ANY. */
  network: number;
  /** Set by IP: transport bytes according to the IP header (not the captured length). */
  segmentLength: number;
  /** Set by IP: the segment is a first fragment with more to come (its TCP header may not be all there). */
  firstFragment: boolean;
  /** TCP options are decoded when the segment's flags share a bit with this mask; -1: always. */
  optionsFor: number;
}

/** How layers record a problem. Both return the status to hand back, for `return report.truncated(...)`. */
export interface ProblemReporter {
  /** Ran out of bytes: `required` bytes from the start of `layer`'s header were needed, `available` were there; `field` set the bound. */
  truncated(layer: Layer, required: number, available: number, field: string): 'truncated';
  /** `field` holds the impossible `value`; `reason` is a constant phrase (no per-packet string building). */
  malformed(layer: Layer, field: string, value: number, reason: string): 'malformed';
}

/** The reused problem object. `kind`, `value` and `reason` are extra to DecodeProblem; `message` is built on demand. */
class Problem implements DecodeProblem {
  kind: 'truncated' | 'malformed' = 'truncated';
  layer: Layer = 'link';
  required = 0;
  available = 0;
  field = '';
  value = 0;
  reason = '';

  get message(): string {
    if (this.kind === 'truncated') {
      return `${this.layer}: truncated: ${this.field} requires ${this.required} bytes, ${this.available} available`;
    }
    return `${this.layer}: malformed ${this.field} (${this.value}): ${this.reason}`;
  }

  toJSON(): DecodeProblem {
    return { layer: this.layer, required: this.required, available: this.available, field: this.field, message: this.message };
  }
}

const problems = new WeakMap<DecodedPacket, Problem>();

function problemFor(out: DecodedPacket): Problem {
  let problem = problems.get(out);
  if (problem === undefined) {
    problem = new Problem();
    problems.set(out, problem);
  }
  out.problem = problem;
  return problem;
}

/** The one reporter; `out` is the packet being decoded (decoding is synchronous, so one is enough). */
const reporter = {
  out: null as DecodedPacket | null,
  truncated(layer: Layer, required: number, available: number, field: string): 'truncated' {
    const problem = problemFor(this.out as DecodedPacket);
    problem.kind = 'truncated';
    problem.layer = layer;
    problem.required = required;
    problem.available = available;
    problem.field = field;
    problem.value = 0;
    problem.reason = '';
    return 'truncated';
  },
  malformed(layer: Layer, field: string, value: number, reason: string): 'malformed' {
    const problem = problemFor(this.out as DecodedPacket);
    problem.kind = 'malformed';
    problem.layer = layer;
    problem.required = 0;
    problem.available = 0;
    problem.field = field;
    problem.value = value;
    problem.reason = reason;
    return 'malformed';
  },
} satisfies ProblemReporter & { out: DecodedPacket | null };

const cursor: Cursor = { offset: 0, end: 0, network: 0, segmentLength: 0, firstFragment: false, optionsFor: -1 };

const EMPTY = new Uint8Array(0);
const PROTOCOL_TCP = 6;

/** A DecodedPacket to reuse for every packet (all fields in their "nothing decoded" state). */
export function createDecodedPacket(): DecodedPacket {
  // A full literal, so every packet object has the same shape from the start.
  return {
    status: 'not-ip',
    problem: null,
    buf: EMPTY,
    vlan: -1,
    ifIndex: -1,
    ipVersion: 0,
    srcAddrOffset: -1,
    dstAddrOffset: -1,
    src4: 0,
    dst4: 0,
    ipId: -1,
    ttl: 0,
    ipPayloadLength: 0,
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: -1,
    payloadLength: 0,
    mss: -1,
    windowScale: -1,
    sackPermitted: false,
    hasTimestamp: false,
    tsVal: 0,
    tsEcr: 0,
    tcpOptionsTruncated: false,
  };
}

/** The TCP option fields as createDecodedPacket sets them (none seen yet). */
function resetTcpOptions(out: DecodedPacket): void {
  out.mss = -1;
  out.windowScale = -1;
  out.sackPermitted = false;
  out.hasTimestamp = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  out.tcpOptionsTruncated = false;
}

/** Sets every field to its createDecodedPacket value (keep the two lists alike: a test compares them). */
function resetDecodedPacket(out: DecodedPacket, buf: Uint8Array): void {
  out.status = 'not-ip';
  out.problem = null;
  out.buf = buf;
  out.vlan = -1;
  out.ifIndex = -1;
  out.ipVersion = 0;
  out.srcAddrOffset = -1;
  out.dstAddrOffset = -1;
  out.src4 = 0;
  out.dst4 = 0;
  out.ipId = -1;
  out.ttl = 0;
  out.ipPayloadLength = 0;
  out.srcPort = 0;
  out.dstPort = 0;
  out.seq = 0;
  out.ack = 0;
  out.flags = 0;
  out.window = -1;
  out.payloadLength = 0;
  resetTcpOptions(out);
}

/**
 * Decodes the packet buf[offset, offset + length) captured on a link of type `linkType` (LINKTYPE_
 * value) into `out`, after resetting every field of `out`. Never throws on packet content.
 *
 * `optionsFor`: decode the TCP options (MSS, window scale, SACK permitted, timestamps) only of
 * segments whose flags share a bit with this mask (e.g. TCP_SYN | TCP_RST | TCP_FIN); the others
 * keep the option fields at their reset values and a bad option goes unreported. The status and
 * every other field, `tcpOptionsTruncated` included, are the same either way. Default: always.
 */
export function decodePacket(linkType: number, buf: Uint8Array, offset: number, length: number, out: DecodedPacket, optionsFor = -1): DecodeStatus {
  // Never trust the caller's numbers either: clamp to the buffer (NaN counts as 0).
  const start = clampToInteger(offset, 0, buf.length);
  const end = start + clampToInteger(length, 0, buf.length - start);
  if (linkType === LINKTYPE_ETHERNET && decodeEthernetIpv4Tcp(buf, start, end, out, optionsFor)) return 'tcp';
  return decodeLayers(linkType, buf, start, end, out, optionsFor);
}

/**
 * The layer by layer decode of buf[start, end) (decodePacket clamped the bounds): every link type,
 * every header, every problem. decodePacket's result for any packet, also those decodeEthernetIpv4Tcp
 * takes; exported so that a test can hold the two to each other.
 */
export function decodeLayers(linkType: number, buf: Uint8Array, start: number, end: number, out: DecodedPacket, optionsFor = -1): DecodeStatus {
  resetDecodedPacket(out, buf);
  reporter.out = out;
  cursor.offset = start;
  cursor.end = end;
  cursor.network = 0;
  cursor.segmentLength = 0;
  cursor.firstFragment = false;
  cursor.optionsFor = optionsFor;

  let result: LayerResult = decodeLink(linkType, buf, cursor, out, reporter);
  if (result === 'next') result = decodeIP(buf, cursor, out, reporter);
  if (result === 'next') result = decodeTcp(buf, cursor, out, reporter);
  out.status = result === 'next' ? 'tcp' : result;
  reporter.out = null;
  return out.status;
}

function u16(buf: Uint8Array, i: number): number {
  return (buf[i] << 8) | buf[i + 1];
}

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

/**
 * Where the TCP header of a packet of the common case starts: Ethernet without tags, IPv4 not
 * fragmented, TCP with its whole header captured (buf[start, end), Ethernet link). -1 for any
 * other packet. The one test of what decodeEthernetIpv4Tcp takes, shared with peekTcpFlags.
 */
function simpleTcpHeaderAt(buf: Uint8Array, start: number, end: number): number {
  const ip = start + 14;
  if (end - ip < 40 || buf[start + 12] !== 0x08 || buf[start + 13] !== 0x00) return -1;
  const versionIhl = buf[ip];
  if (versionIhl >> 4 !== 4) return -1;
  const ipHeaderLength = (versionIhl & 0x0f) * 4;
  if (ipHeaderLength < 20 || buf[ip + 9] !== PROTOCOL_TCP || (u16(buf, ip + 6) & 0x3fff) !== 0) return -1;
  const totalLength = ipTotalLength(buf, ip, end);
  const ipEnd = Math.min(end, ip + totalLength);
  const tcp = ip + ipHeaderLength;
  const segmentLength = totalLength - ipHeaderLength;
  if (segmentLength < 20 || ipEnd - tcp < 20) return -1;
  const tcpHeaderLength = (buf[tcp + 12] >> 4) * 4;
  if (tcpHeaderLength < 20 || tcpHeaderLength > segmentLength || tcp + tcpHeaderLength > ipEnd) return -1;
  return tcp;
}

/** The IPv4 total length at `ip`; 0 (TSO, offloaded segments) stands for the bytes captured. */
function ipTotalLength(buf: Uint8Array, ip: number, end: number): number {
  const totalLength = u16(buf, ip + 2);
  return totalLength === 0 ? end - ip : totalLength;
}

/**
 * The TCP flags of the packet buf[offset, offset + length) when decodePacket would decode it in its
 * one step (Ethernet link, IPv4 not fragmented, whole TCP header), else -1. For such a packet
 * decodePacket returns 'tcp' with `tcpOptionsTruncated` false unless it decodes the options: a
 * caller that needs only some segments (SYNs, say) can count the others by their flags alone,
 * without decoding them. Reads nothing else and never throws.
 */
export function peekTcpFlags(linkType: number, buf: Uint8Array, offset: number, length: number): number {
  if (linkType !== LINKTYPE_ETHERNET) return -1;
  const start = clampToInteger(offset, 0, buf.length);
  const end = start + clampToInteger(length, 0, buf.length - start);
  const tcp = simpleTcpHeaderAt(buf, start, end);
  return tcp < 0 ? -1 : buf[tcp + 13];
}

/**
 * The common case in one step (simpleTcpHeaderAt's packets). Fills `out` exactly as decodeLayers
 * would (every field, the options by the same decodeOptions) and returns true; returns false,
 * having changed nothing, for anything else, which decodeLayers then decodes. About twice as fast
 * as going through the layers.
 */
function decodeEthernetIpv4Tcp(buf: Uint8Array, start: number, end: number, out: DecodedPacket, optionsFor: number): boolean {
  const tcp = simpleTcpHeaderAt(buf, start, end);
  if (tcp < 0) return false;
  const ip = start + 14;
  const segmentLength = ipTotalLength(buf, ip, end) - (tcp - ip);
  const tcpHeaderLength = (buf[tcp + 12] >> 4) * 4;

  out.status = 'tcp';
  out.problem = null;
  out.buf = buf;
  out.vlan = -1;
  out.ifIndex = -1;
  out.ipVersion = 4;
  out.srcAddrOffset = ip + 12;
  out.dstAddrOffset = ip + 16;
  out.src4 = u32(buf, ip + 12);
  out.dst4 = u32(buf, ip + 16);
  out.ipId = u16(buf, ip + 4);
  out.ttl = buf[ip + 8];
  out.ipPayloadLength = segmentLength;
  out.srcPort = u16(buf, tcp);
  out.dstPort = u16(buf, tcp + 2);
  out.seq = u32(buf, tcp + 4);
  out.ack = u32(buf, tcp + 8);
  const flags = buf[tcp + 13];
  out.flags = flags;
  out.window = u16(buf, tcp + 14);
  out.payloadLength = segmentLength - tcpHeaderLength;
  resetTcpOptions(out);
  if (tcpHeaderLength > 20 && (optionsFor < 0 || (flags & optionsFor) !== 0)) {
    reporter.out = out;
    decodeOptions(buf, tcp + 20, tcp + tcpHeaderLength, tcp + tcpHeaderLength, out, reporter);
    reporter.out = null;
  }
  return true;
}

function clampToInteger(n: number, low: number, high: number): number {
  if (!(n >= low)) return low;
  if (n >= high) return high;
  return Math.floor(n);
}

/** Chooses the IP decoder: the link named IPv6, or IPv4/raw IP where the first nibble decides (tshark's "ip" dissector does the same). */
function decodeIP(buf: Uint8Array, cur: Cursor, out: DecodedPacket, report: ProblemReporter): LayerResult {
  if (cur.network === ETHERTYPE_IPV6) return decodeIPv6(buf, cur, out, report);
  if (cur.offset >= cur.end) return report.truncated('ipv4', 20, 0, 'header');
  const version = buf[cur.offset] >> 4;
  if (version === 4) return decodeIPv4(buf, cur, out, report);
  if (version === 6) return decodeIPv6(buf, cur, out, report);
  return report.malformed(cur.network === ETHERTYPE_IPV4 ? 'ipv4' : 'link', 'version', version, 'IP version is neither 4 nor 6');
}

/**
 * The source or destination address as text: dotted quad for IPv4, RFC 5952 for IPv6
 * (lower case, no leading zeros, the longest run of two or more zero groups as '::', the first
 * of equal runs; IPv4-mapped addresses as ::ffff:a.b.c.d). '' when no IP header was decoded.
 * Allocates: call it only for packets you keep.
 */
export function formatAddress(out: DecodedPacket, which: 'src' | 'dst'): string {
  const at = which === 'src' ? out.srcAddrOffset : out.dstAddrOffset;
  if (out.ipVersion === 4) return formatIPv4(out.buf, at);
  if (out.ipVersion === 6) return formatIPv6(out.buf, at);
  return '';
}

function formatIPv4(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function formatIPv6(buf: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((buf[at + 2 * i] << 8) | buf[at + 2 * i + 1]);

  // IPv4-mapped (::ffff:0:0/96), RFC 5952 section 5.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(buf, at + 12)}`;
  }

  let bestStart = -1;
  let bestLength = 1; // a single zero group is not shortened (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }

  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
