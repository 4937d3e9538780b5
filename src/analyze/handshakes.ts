/**
 * One pass over one capture: every TCP handshake it shows, keyed by the initiator's 4-tuple and
 * initial sequence number. Only SYN, SYN-ACK, RST and FIN segments are kept; everything else is
 * counted and dropped, so memory grows with connection attempts, not with packets.
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

function newCopies(): Copies {
  return { times: [], tsVals: [], ipIds: [], ifaces: [] };
}

/** Adds a copy unless it is another interface's sighting of a transmission already counted. */
export function addCopy(copies: Copies, tNs: number, tsVal: number, ipId: number, iface: number): void {
  const n = copies.times.length;
  for (let i = 0; i < n; i++) {
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

/** Builds the handshake table of one capture file. Throws only CaptureFileError (file unusable). */
export async function readHandshakes(file: string, time: TimeBase): Promise<HandshakeTable> {
  const decoded = createDecodedPacket();
  const decode = newDecodeCounts();
  const flows: Flow[] = [];
  /** Latest flow per initiator 4-tuple. */
  const byTuple = new Map<string, Flow>();
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
    const src = formatAddress(decoded, 'src');
    const dst = formatAddress(decoded, 'dst');

    if ((flags & TCP_SYN) !== 0 && (flags & (TCP_ACK | TCP_RST)) === 0) {
      synPackets++;
      const key = tupleKey(src, decoded.srcPort, dst, decoded.dstPort);
      let flow = byTuple.get(key);
      if (flow === undefined || flow.isn !== decoded.seq) {
        flow = {
          src, srcPort: decoded.srcPort, dst, dstPort: decoded.dstPort, isn: decoded.seq,
          syn: newCopies(), synAck: newCopies(), rst: newCopies(), closedNs: NaN, firstPacket: p.index,
        };
        byTuple.set(key, flow);
        flows.push(flow);
      }
      addCopy(flow.syn, tNs, tsVal, ipId, iface);
      return;
    }

    // A reply travels from the responder to the initiator; FINs and RSTs after the handshake may go either way.
    const reverse = byTuple.get(tupleKey(dst, decoded.dstPort, src, decoded.srcPort));
    if ((flags & TCP_SYN) !== 0 && (flags & TCP_ACK) !== 0 && (flags & TCP_RST) === 0) {
      synAckPackets++;
      if (reverse !== undefined && decoded.ack === ((reverse.isn + 1) >>> 0)) addCopy(reverse.synAck, tNs, tsVal, ipId, iface);
      else strayReplies++;
      return;
    }
    const established = (f: Flow): boolean => f.synAck.times.length > 0;
    if ((flags & TCP_RST) !== 0 && reverse !== undefined && !established(reverse)) {
      if ((flags & TCP_ACK) !== 0 && decoded.ack === ((reverse.isn + 1) >>> 0)) addCopy(reverse.rst, tNs, tsVal, ipId, iface);
      else strayReplies++;
      return;
    }
    const flow = reverse ?? byTuple.get(tupleKey(src, decoded.srcPort, dst, decoded.dstPort));
    if (flow !== undefined && established(flow) && Number.isNaN(flow.closedNs)) flow.closedNs = tNs;
  };

  const summary = await readCapture(file, onPacket);
  return { summary, decode, flows, firstNs, lastNs, synPackets, synAckPackets, strayReplies };
}
