/**
 * Hand-built captures for the cases a real lab cannot produce on demand: a capture that reports
 * kernel drops, a middlebox that rewrites sequence numbers, a server clock an hour off, the same
 * SYN sighted twice. These are mocks in the sense of the guide (no tcpdump wrote them); every
 * other analysis test runs on real fixtures.
 */
import { ethernet, ipv4, opt, tcp } from '../decode/build.js';
import { buildPcap, buildPcapng, epb, idb, isb, makeTempDir, type BlockWriter } from '../read/build.js';

export const SYN = 0x02;
export const ACK = 0x10;
export const FIN = 0x01;
export const RST = 0x04;

export interface Seg {
  /** Seconds since the scenario's start (in the capturing host's clock). */
  t: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  tsVal?: number;
  ipId?: number;
  /** pcapng interface the segment was sighted on (pcapngOf writes two interfaces). */
  iface?: number;
}

const BASE_SEC = 1_780_000_000;

export function frame(s: Seg): Uint8Array {
  const options = s.tsVal !== undefined ? [...opt.nop(), ...opt.nop(), ...opt.ts(s.tsVal, 0)] : [];
  const segment = tcp({ srcPort: s.sport, dstPort: s.dport, seq: s.seq, ack: s.ack ?? 0, flags: s.flags, options });
  return ethernet(0x0800, ipv4({ src: s.src, dst: s.dst, id: s.ipId ?? 0, dontFragment: true }, segment));
}

export function pcapOf(segs: Seg[], shiftSec = 0): Buffer {
  return buildPcap({
    nanosecond: true,
    records: [...segs].sort((a, b) => a.t - b.t).map((s) => {
      const t = BASE_SEC + shiftSec + s.t;
      const sec = Math.floor(t);
      return { tsSec: sec, tsFrac: Math.round((t - sec) * 1e9), data: frame(s) };
    }),
  });
}

/** pcapng (ns) with an ISB carrying start/end times and drop counts. */
export function pcapngOf(segs: Seg[], isbSpec: { start?: number; end?: number; ifDrop?: number } = {}, shiftSec = 0): Buffer {
  const ns = (t: number): bigint => BigInt(Math.round((BASE_SEC + shiftSec + t) * 1e9));
  const blocks: BlockWriter[] = [idb({ linkType: 1, tsresol: 9, name: 'eth0' }), idb({ linkType: 1, tsresol: 9, name: 'br0' })];
  for (const s of [...segs].sort((a, b) => a.t - b.t)) blocks.push(epb({ ts: ns(s.t), data: frame(s), interfaceId: s.iface ?? 0 }));
  blocks.push(isb({
    start: isbSpec.start !== undefined ? ns(isbSpec.start) : undefined,
    end: isbSpec.end !== undefined ? ns(isbSpec.end) : undefined,
    ifDrop: isbSpec.ifDrop !== undefined ? BigInt(isbSpec.ifDrop) : undefined,
    ts: ns(isbSpec.end ?? 0),
  }));
  return buildPcapng([{ littleEndian: true, blocks }]);
}

export const CLIENT = '192.0.2.10';
export const SERVER = '192.0.2.20';
export const PORT = 8000;

export interface Plan {
  /** Attempts that get through, one every 10 ms from t = 1 s. */
  ok: number;
  /** What happens to the attempt after them. */
  failure: 'lost' | 'synack-lost' | 'unanswered' | 'none';
  /** Copies of the failing SYN (1 s apart). */
  failCopies?: number;
  /** Server ISN for attempt i: identity by default; a middlebox may rewrite it. */
  serverSeq?: (clientIsn: number) => number;
  /** Sight every client SYN twice in the client capture, the second time on interface 1 (a bridge). */
  duplicateSightings?: boolean;
  /** When the failing attempt sends its first SYN (default: 10 ms after the last that got through). */
  failAt?: number;
  /** Close these attempts (1-based) with a FIN before the failure. */
  closed?: number[];
}

export interface Pair {
  client: Seg[];
  server: Seg[];
}

/** The segments both hosts see for a plan. Server times are in the client's clock here; shift when writing. */
export function planSegments(plan: Plan): Pair {
  const client: Seg[] = [];
  const server: Seg[] = [];
  const add = (i: number, t: number, copies: number, outcome: 'ok' | Plan['failure']): void => {
    const isn = (0x10000000 + i * 7919) >>> 0;
    const sport = 40000 + i;
    const sSeq = plan.serverSeq ? plan.serverSeq(isn) : isn;
    const serverIsn = (0x50000000 + i) >>> 0;
    for (let c = 0; c < copies; c++) {
      const syn: Seg = { t: t + c, src: CLIENT, dst: SERVER, sport, dport: PORT, seq: isn, flags: SYN, tsVal: 1000 + i * 10 + c * 1000, ipId: (i * 3 + c) & 0xffff };
      client.push(syn);
      if (plan.duplicateSightings) client.push({ ...syn, t: syn.t + 0.00001, iface: 1 });
      if (outcome !== 'lost') server.push({ ...syn, seq: sSeq, t: syn.t + 0.0002 });
      if (outcome === 'ok' || outcome === 'synack-lost') {
        const sa: Seg = { t: syn.t + 0.0003, src: SERVER, dst: CLIENT, sport: PORT, dport: sport, seq: serverIsn, ack: (sSeq + 1) >>> 0, flags: SYN | ACK, tsVal: 5000 + i + c, ipId: 0 };
        server.push(sa);
        if (outcome === 'ok') {
          client.push({ ...sa, ack: (isn + 1) >>> 0, t: sa.t + 0.0002 });
          break;
        }
      }
    }
  };
  for (let i = 1; i <= plan.ok; i++) add(i, 1 + i * 0.01, 1, 'ok');
  const tFail = plan.failAt ?? 1 + (plan.ok + 1) * 0.01;
  for (const i of plan.closed ?? []) {
    const fin: Seg = { t: 1 + (plan.ok + 0.5) * 0.01, src: CLIENT, dst: SERVER, sport: 40000 + i, dport: PORT, seq: 1, ack: 1, flags: FIN | ACK };
    client.push(fin);
    server.push({ ...fin, t: fin.t + 0.0002 });
  }
  if (plan.failure !== 'none') add(plan.ok + 1, tFail, plan.failCopies ?? 4, plan.failure);
  return { client, server };
}

export function writePair(files: { client: Buffer; server: Buffer }): { dir: string; client: string; server: string; remove(): void } {
  const tmp = makeTempDir();
  return { dir: tmp.dir, client: tmp.write('client.pcap', files.client), server: tmp.write('server.cap', files.server), remove: tmp.remove };
}
