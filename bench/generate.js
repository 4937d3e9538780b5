/**
 * Capture generator for the benchmark: writes a realistic pair of captures, one taken on the client
 * host and one on the server host, of a client that opens connections to one server port and holds
 * them, until a stateful middlebox in the path is full and new SYNs stop arriving at the server.
 *
 * What the pair holds, in time order (the same packets in both files where they crossed the path):
 * - handshakes (SYN with Linux's options, SYN-ACK, ACK) from several source addresses (one address
 *   has only ~28,000 ephemeral ports);
 * - data on the open connections (small requests and replies, some full-MSS segments, each acked);
 * - short-lived connections that close with FIN, FIN/ACK, ACK;
 * - retransmitted SYNs: some first SYNs die in the path (client sends 2, server sees 1), some
 *   SYN-ACKs do (server sees 2 SYNs and sends 2 SYN-ACKs, client sees 1);
 * - an ARP exchange now and then;
 * - at the end, the ceiling: `ceiling` connections held, then `failures` attempts, one after another,
 *   each a SYN sent 7 times over 127 s (Linux, tcp_syn_retries = 6) that never reaches the server,
 *   while data on the held connections goes on.
 *
 * Both files are written in one pass through a fixed-size buffer (memory does not grow with the
 * packet count). Everything is decided by a seeded PRNG: the same options give byte-identical files.
 * The server clock runs `serverClockOffsetNs` ahead of the client's. pcap: microsecond, Ethernet,
 * as `tcpdump -w` writes it. pcapng: nanosecond (if_tsresol 9), Ethernet, with an interface
 * statistics block (start, end, drops 0) at the end, as dumpcap writes it.
 *
 * CLI: node bench/generate.js DIR [--packets N] [--ceiling N] [--failures N] [--format pcap|pcapng] [--seed N]
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

/** 2026-11-29T23:01:42Z, in the client's clock. */
const BASE_SEC = 1_795_993_302;
const SERVER_PORT = 8000;
const PORTS_PER_ADDRESS = 28_000;
const FIRST_PORT = 32_768;
const MSS = 1448;
/** Linux SYN retransmissions after 1, 3, 7, 15, 31, 63 s; connect() fails at 127 s. */
const SYN_SCHEDULE_S = [0, 1, 3, 7, 15, 31, 63];
const CONNECT_TIMEOUT_S = 127;
const RTO_NS = 1_000_000_000;
/** Opens between a short-lived connection's handshake and its close. */
const SHORT_LIFE_OPENS = 100;
/** One ARP exchange every this many steps. */
const ARP_EVERY = 20_000;

const ETH_LEN = 14;
const IP_LEN = 20;
const OUT_BUFFER = 8 << 20;

const CLIENT_MAC = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];
const CLIENT_GW_MAC = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const SERVER_GW_MAC = [0x02, 0x00, 0x5e, 0x20, 0x00, 0x01];
const SERVER_MAC = [0x02, 0x00, 0x5e, 0x20, 0x00, 0x02];
/** 198.18.0.2 + n for the client's addresses, 198.19.0.2 for the server, 198.18.0.1 / 198.19.0.1 the router. */
const CLIENT_NET = (198 << 24) | (18 << 16);
const SERVER_ADDR = ((198 << 24) | (19 << 16) | 2) >>> 0;
const CLIENT_GW = (CLIENT_NET | 1) >>> 0;
const SERVER_GW = ((198 << 24) | (19 << 16) | 1) >>> 0;

const FLAG_FIN = 0x01;
const FLAG_SYN = 0x02;
const FLAG_PSH = 0x08;
const FLAG_ACK = 0x10;

const TWO_32 = 2 ** 32;

/** mulberry32: small, fast, deterministic. */
function createRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_32;
  };
}

/**
 * Writes one capture file through a fixed buffer. Times are nanoseconds since BASE_SEC in this
 * host's clock (integers below 2^53).
 */
class CaptureWriter {
  constructor(file, format, { ifName, clockBaseSec }) {
    this.file = file;
    this.format = format;
    this.fd = openSync(file, 'w');
    this.buf = Buffer.alloc(OUT_BUFFER);
    this.pos = 0;
    this.packets = 0;
    this.bytes = 0;
    this.firstNs = NaN;
    this.lastNs = NaN;
    this.baseSec = clockBaseSec;
    // pcapng nanosecond timestamps split into 32-bit words: base * 1e9 = baseHigh * 2^32 + baseLow.
    const baseNs = BigInt(clockBaseSec) * 1_000_000_000n;
    this.baseHigh = Number(baseNs >> 32n);
    this.baseLow = Number(baseNs & 0xffffffffn);
    if (format === 'pcap') this.writePcapHeader();
    else this.writePcapngHeader(ifName);
  }

  ensure(n) {
    if (this.pos + n > this.buf.length) this.flush();
  }

  flush() {
    let at = 0;
    while (at < this.pos) at += writeSync(this.fd, this.buf, at, this.pos - at);
    this.bytes += this.pos;
    this.pos = 0;
  }

  writePcapHeader() {
    const b = this.buf;
    b.writeUInt32LE(0xa1b2c3d4, 0);
    b.writeUInt16LE(2, 4);
    b.writeUInt16LE(4, 6);
    b.writeInt32LE(0, 8);
    b.writeUInt32LE(0, 12);
    b.writeUInt32LE(262144, 16);
    b.writeUInt32LE(1, 20);
    this.pos = 24;
  }

  writePcapngHeader(ifName) {
    const b = this.buf;
    // Section header block: no options.
    b.writeUInt32LE(0x0a0d0d0a, 0);
    b.writeUInt32LE(28, 4);
    b.writeUInt32LE(0x1a2b3c4d, 8);
    b.writeUInt16LE(1, 12);
    b.writeUInt16LE(0, 14);
    b.writeInt32LE(-1, 16);
    b.writeInt32LE(-1, 20);
    b.writeUInt32LE(28, 24);
    // Interface description block: Ethernet, snaplen 262144, if_name, if_tsresol 9, opt_endofopt.
    const name = Buffer.from(ifName, 'utf8');
    const namePadded = (name.length + 3) & ~3;
    const length = 16 + 4 + namePadded + 8 + 4 + 4;
    let at = 28;
    b.writeUInt32LE(1, at);
    b.writeUInt32LE(length, at + 4);
    b.writeUInt16LE(1, at + 8);
    b.writeUInt16LE(0, at + 10);
    b.writeUInt32LE(262144, at + 12);
    at += 16;
    b.writeUInt16LE(2, at);
    b.writeUInt16LE(name.length, at + 2);
    b.fill(0, at + 4, at + 4 + namePadded);
    name.copy(b, at + 4);
    at += 4 + namePadded;
    b.writeUInt16LE(9, at);
    b.writeUInt16LE(1, at + 2);
    b.writeUInt32LE(9, at + 4); // the value byte 9, then padding
    at += 8;
    b.writeUInt32LE(0, at);
    at += 4;
    b.writeUInt32LE(length, at);
    this.pos = at + 4;
  }

  /** Reserves a record for a frame of `frameLength` bytes at `tNs`; returns where the frame starts. */
  beginRecord(tNs, frameLength) {
    if (this.packets === 0) this.firstNs = tNs;
    this.lastNs = tNs;
    this.packets++;
    const sec = Math.floor(tNs / 1e9);
    const ns = tNs - sec * 1e9;
    if (this.format === 'pcap') {
      this.ensure(16 + frameLength);
      const b = this.buf;
      const at = this.pos;
      b.writeUInt32LE(this.baseSec + sec, at);
      b.writeUInt32LE(Math.floor(ns / 1000), at + 4);
      b.writeUInt32LE(frameLength, at + 8);
      b.writeUInt32LE(frameLength, at + 12);
      this.pos = at + 16 + frameLength;
      return at + 16;
    }
    const padded = (frameLength + 3) & ~3;
    const blockLength = 32 + padded;
    this.ensure(blockLength);
    const b = this.buf;
    const at = this.pos;
    const [high, low] = this.splitNs(tNs);
    b.writeUInt32LE(6, at);
    b.writeUInt32LE(blockLength, at + 4);
    b.writeUInt32LE(0, at + 8);
    b.writeUInt32LE(high, at + 12);
    b.writeUInt32LE(low, at + 16);
    b.writeUInt32LE(frameLength, at + 20);
    b.writeUInt32LE(frameLength, at + 24);
    if (padded !== frameLength) b.fill(0, at + 28 + frameLength, at + 28 + padded);
    b.writeUInt32LE(blockLength, at + 28 + padded);
    this.pos = at + blockLength;
    return at + 28;
  }

  /** base * 1e9 + tNs as [high, low] 32-bit words, exactly. */
  splitNs(tNs) {
    const highPart = Math.floor(tNs / TWO_32);
    let low = this.baseLow + (tNs - highPart * TWO_32);
    let high = this.baseHigh + highPart;
    if (low >= TWO_32) {
      low -= TWO_32;
      high += 1;
    }
    return [high, low];
  }

  /** pcapng: an interface statistics block with start/end times and zero drops. */
  writeStatistics(startNs, endNs) {
    if (this.format !== 'pcapng') return;
    const length = 24 + 3 * 12 + 2 * 12 + 4;
    this.ensure(length);
    const b = this.buf;
    let at = this.pos;
    const [high, low] = this.splitNs(endNs);
    b.writeUInt32LE(5, at);
    b.writeUInt32LE(length, at + 4);
    b.writeUInt32LE(0, at + 8);
    b.writeUInt32LE(high, at + 12);
    b.writeUInt32LE(low, at + 16);
    at += 20;
    const option = (code, h, l) => {
      b.writeUInt16LE(code, at);
      b.writeUInt16LE(8, at + 2);
      b.writeUInt32LE(h, at + 4);
      b.writeUInt32LE(l, at + 8);
      at += 12;
    };
    option(2, ...this.splitNs(startNs)); // isb_starttime
    option(3, high, low); // isb_endtime
    option(4, 0, this.packets); // isb_ifrecv
    option(5, 0, 0); // isb_ifdrop
    option(7, 0, 0); // isb_osdrop
    b.writeUInt32LE(0, at);
    b.writeUInt32LE(length, at + 4);
    this.pos = at + 8;
  }

  close() {
    this.flush();
    closeSync(this.fd);
  }
}

function writeMac(b, at, mac) {
  for (let i = 0; i < 6; i++) b[at + i] = mac[i];
}

/** Ones-complement sum of 16-bit words in b[from, to). */
function sum16(b, from, to, sum) {
  for (let i = from; i < to; i += 2) sum += (b[i] << 8) | b[i + 1];
  return sum;
}

function fold(sum) {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/**
 * Writes an Ethernet + IPv4 + TCP frame. `options`: 'syn' (MSS, SACK permitted, timestamps, NOP,
 * window scale: Linux's order) or 'ts' (NOP, NOP, timestamps). The payload is zeros, so the TCP
 * checksum (header and pseudo-header only) is the real one.
 */
function writeTcpFrame(w, tNs, seg) {
  const optionLength = seg.options === 'syn' ? 20 : 12;
  const tcpLength = 20 + optionLength + seg.payload;
  const frameLength = ETH_LEN + IP_LEN + tcpLength;
  const at = w.beginRecord(tNs, frameLength);
  const b = w.buf;
  writeMac(b, at, seg.dstMac);
  writeMac(b, at + 6, seg.srcMac);
  b[at + 12] = 0x08;
  b[at + 13] = 0x00;
  const ip = at + ETH_LEN;
  b[ip] = 0x45;
  b[ip + 1] = 0;
  b.writeUInt16BE(IP_LEN + tcpLength, ip + 2);
  b.writeUInt16BE(seg.ipId & 0xffff, ip + 4);
  b[ip + 6] = 0x40; // don't fragment
  b[ip + 7] = 0;
  b[ip + 8] = seg.ttl;
  b[ip + 9] = 6;
  b[ip + 10] = 0;
  b[ip + 11] = 0;
  b.writeUInt32BE(seg.src, ip + 12);
  b.writeUInt32BE(seg.dst, ip + 16);
  b.writeUInt16BE(fold(sum16(b, ip, ip + IP_LEN, 0)), ip + 10);
  const tcp = ip + IP_LEN;
  b.writeUInt16BE(seg.srcPort, tcp);
  b.writeUInt16BE(seg.dstPort, tcp + 2);
  b.writeUInt32BE(seg.seq >>> 0, tcp + 4);
  b.writeUInt32BE(seg.ack >>> 0, tcp + 8);
  b[tcp + 12] = ((20 + optionLength) / 4) << 4;
  b[tcp + 13] = seg.flags;
  b.writeUInt16BE(seg.window, tcp + 14);
  b[tcp + 16] = 0;
  b[tcp + 17] = 0;
  b[tcp + 18] = 0;
  b[tcp + 19] = 0;
  let o = tcp + 20;
  if (seg.options === 'syn') {
    b[o] = 2; b[o + 1] = 4; b.writeUInt16BE(MSS + 12, o + 2); // MSS 1460
    b[o + 4] = 4; b[o + 5] = 2; // SACK permitted
    b[o + 6] = 8; b[o + 7] = 10;
    b.writeUInt32BE(seg.tsVal >>> 0, o + 8);
    b.writeUInt32BE(seg.tsEcr >>> 0, o + 12);
    b[o + 16] = 1; // NOP
    b[o + 17] = 3; b[o + 18] = 3; b[o + 19] = 7; // window scale 7
    o += 20;
  } else {
    b[o] = 1; b[o + 1] = 1;
    b[o + 2] = 8; b[o + 3] = 10;
    b.writeUInt32BE(seg.tsVal >>> 0, o + 4);
    b.writeUInt32BE(seg.tsEcr >>> 0, o + 8);
    o += 12;
  }
  if (seg.payload > 0) b.fill(0, o, o + seg.payload);
  // Pseudo-header + TCP header (the zero payload adds nothing).
  let sum = (seg.src >>> 16) + (seg.src & 0xffff) + (seg.dst >>> 16) + (seg.dst & 0xffff) + 6 + tcpLength;
  sum = sum16(b, tcp, tcp + 20 + optionLength, sum);
  b.writeUInt16BE(fold(sum), tcp + 16);
}

/** An ARP request (broadcast) or reply, padded to 60 bytes as on the wire. */
function writeArpFrame(w, tNs, reply, senderMac, senderIp, targetMac, targetIp) {
  const at = w.beginRecord(tNs, 60);
  const b = w.buf;
  b.fill(0, at, at + 60);
  if (reply) writeMac(b, at, targetMac);
  else b.fill(0xff, at, at + 6);
  writeMac(b, at + 6, senderMac);
  b[at + 12] = 0x08;
  b[at + 13] = 0x06;
  const p = at + 14;
  b.writeUInt16BE(1, p);
  b.writeUInt16BE(0x0800, p + 2);
  b[p + 4] = 6;
  b[p + 5] = 4;
  b.writeUInt16BE(reply ? 2 : 1, p + 6);
  writeMac(b, p + 8, senderMac);
  b.writeUInt32BE(senderIp >>> 0, p + 14);
  if (reply) writeMac(b, p + 18, targetMac);
  b.writeUInt32BE(targetIp >>> 0, p + 24);
}

/**
 * Generates a client/server capture pair. Returns the file names and what they contain, including
 * the ceiling `synprobe analyze` must find.
 *
 * @param {object} opts
 * @param {string} opts.dir  where to write `<name>-client.<ext>` and `<name>-server.<ext>`
 * @param {number} opts.packets  packets in the client capture (the server's differs by the lost SYNs)
 * @param {number} opts.ceiling  connections held when the first attempt fails
 * @param {'pcap'|'pcapng'} [opts.format]
 * @param {number} [opts.failures]  failed attempts at the end (default 3)
 * @param {number} [opts.seed]
 * @param {string} [opts.name]
 * @param {number} [opts.closedFraction]  short-lived connections, as a fraction of `ceiling` (default 0.05)
 * @param {number} [opts.synLossFraction]  attempts whose first SYN dies in the path (default 0.01)
 * @param {number} [opts.synAckLossFraction]  attempts whose first SYN-ACK dies (default 0.005)
 */
export function generateCapturePair(opts) {
  const format = opts.format ?? 'pcap';
  const failures = opts.failures ?? 3;
  const seed = opts.seed ?? 1;
  const name = opts.name ?? `gen-${opts.packets}`;
  const ceiling = opts.ceiling;
  const shortLived = Math.round(ceiling * (opts.closedFraction ?? 0.05));
  const opens = ceiling + shortLived;
  const synLoss = opts.synLossFraction ?? 0.01;
  const synAckLoss = opts.synAckLossFraction ?? 0.005;
  const random = createRandom(seed);
  const serverOffsetNs = opts.serverClockOffsetNs ?? 3_217_400;
  const serverBaseSec = BASE_SEC + Math.floor(serverOffsetNs / 1e9);
  const serverShiftNs = serverOffsetNs - Math.floor(serverOffsetNs / 1e9) * 1e9;

  const fixedPackets = 3 * opens + 3 * shortLived + opens * (synLoss + 2 * synAckLoss) + 7 * failures;
  if (opts.packets < fixedPackets) {
    throw new Error(`${opts.packets} packets are too few for a ceiling of ${ceiling}: at least ${Math.ceil(fixedPackets)} needed`);
  }
  const attemptsTotal = opens + failures;
  if (Math.ceil(attemptsTotal / PORTS_PER_ADDRESS) > 250) throw new Error('too many attempts for the client address range');

  const ext = format === 'pcap' ? 'pcap' : 'pcapng';
  const clientFile = join(opts.dir, `${name}-client.${ext}`);
  const serverFile = join(opts.dir, `${name}-server.${ext}`);
  const client = new CaptureWriter(clientFile, format, { ifName: 'eth0', clockBaseSec: BASE_SEC });
  const server = new CaptureWriter(serverFile, format, { ifName: 'eth0', clockBaseSec: serverBaseSec });

  // Per-connection state, by attempt number.
  const addr = new Uint32Array(attemptsTotal);
  const port = new Uint16Array(attemptsTotal);
  const cSeq = new Uint32Array(attemptsTotal);
  const sSeq = new Uint32Array(attemptsTotal);
  const cTsOff = new Uint32Array(attemptsTotal);
  const sTsOff = new Uint32Array(attemptsTotal);
  const cId = new Uint16Array(attemptsTotal);
  const sId = new Uint16Array(attemptsTotal);
  const portBase = Math.floor(random() * PORTS_PER_ADDRESS);
  for (let i = 0; i < attemptsTotal; i++) {
    const a = Math.floor(i / PORTS_PER_ADDRESS);
    addr[i] = (CLIENT_NET | (2 + a)) >>> 0;
    port[i] = FIRST_PORT + ((portBase + i) % PORTS_PER_ADDRESS);
    cSeq[i] = Math.floor(random() * TWO_32);
    sSeq[i] = Math.floor(random() * TWO_32);
    cTsOff[i] = Math.floor(random() * TWO_32);
    sTsOff[i] = Math.floor(random() * TWO_32);
    cId[i] = Math.floor(random() * 65536);
    sId[i] = Math.floor(random() * 65536);
  }

  // Open connections, for picking one to carry data: a dense list with positions for O(1) removal.
  const openList = new Int32Array(attemptsTotal);
  const openAt = new Int32Array(attemptsTotal).fill(-1);
  let openCount = 0;
  const markOpen = (c) => { openAt[c] = openCount; openList[openCount++] = c; };
  const markClosed = (c) => {
    const at = openAt[c];
    const last = openList[--openCount];
    openList[at] = last;
    openAt[last] = at;
    openAt[c] = -1;
  };

  // Time (client clock, ns since BASE_SEC) at which the next step may start.
  let now = 1_000_000;
  const delay = () => 80_000 + Math.floor(random() * 40_000);
  const turnaround = () => 10_000 + Math.floor(random() * 20_000);
  const gap = () => 5_000 + Math.floor(random() * 35_000);
  const sTime = (t) => t + serverShiftNs;
  const cTs = (c, t) => (cTsOff[c] + Math.floor(t / 1e6)) >>> 0;
  const sTs = (c, t) => (sTsOff[c] + Math.floor(sTime(t) / 1e6)) >>> 0;

  // One reused segment description.
  const seg = {
    srcMac: CLIENT_MAC, dstMac: CLIENT_GW_MAC, src: 0, dst: 0, srcPort: 0, dstPort: 0, seq: 0, ack: 0,
    flags: 0, window: 0, ipId: 0, ttl: 64, tsVal: 0, tsEcr: 0, payload: 0, options: 'ts',
  };
  /** A segment from the client: written to the client file at t, and to the server file at `arrive` (if it arrives). */
  const fromClient = (c, t, arrive, flags, seq, ack, payload, options, tsEcr) => {
    seg.src = addr[c]; seg.dst = SERVER_ADDR; seg.srcPort = port[c]; seg.dstPort = SERVER_PORT;
    seg.seq = seq; seg.ack = ack; seg.flags = flags; seg.payload = payload; seg.options = options;
    seg.window = options === 'syn' ? 64240 : 502; seg.ipId = cId[c]++; seg.tsVal = cTs(c, t); seg.tsEcr = tsEcr;
    seg.srcMac = CLIENT_MAC; seg.dstMac = CLIENT_GW_MAC; seg.ttl = 64;
    writeTcpFrame(client, t, seg);
    if (arrive < 0) return seg.tsVal;
    seg.srcMac = SERVER_GW_MAC; seg.dstMac = SERVER_MAC; seg.ttl = 63;
    writeTcpFrame(server, sTime(arrive), seg);
    return seg.tsVal;
  };
  /** A segment from the server, sent at t (client-clock time), seen by the client at `arrive` (if it arrives). */
  const fromServer = (c, t, arrive, flags, seq, ack, payload, options, tsEcr) => {
    seg.src = SERVER_ADDR; seg.dst = addr[c]; seg.srcPort = SERVER_PORT; seg.dstPort = port[c];
    seg.seq = seq; seg.ack = ack; seg.flags = flags; seg.payload = payload; seg.options = options;
    seg.window = options === 'syn' ? 65160 : 509; seg.tsVal = sTs(c, t); seg.tsEcr = tsEcr;
    seg.ipId = flags === (FLAG_SYN | FLAG_ACK) ? 0 : sId[c]++;
    seg.srcMac = SERVER_MAC; seg.dstMac = SERVER_GW_MAC; seg.ttl = 64;
    writeTcpFrame(server, sTime(t), seg);
    if (arrive < 0) return seg.tsVal;
    seg.srcMac = CLIENT_GW_MAC; seg.dstMac = CLIENT_MAC; seg.ttl = 63;
    writeTcpFrame(client, arrive, seg);
    return seg.tsVal;
  };

  /** SYN (arrives) → SYN-ACK → ACK from `t`; returns the end time. */
  const completeHandshake = (t, c) => {
    const d1 = delay();
    const synTs = fromClient(c, t, t + d1, FLAG_SYN, cSeq[c], 0, 0, 'syn', 0);
    const tSynAck = t + d1 + turnaround();
    const d2 = delay();
    const synAckTs = fromServer(c, tSynAck, tSynAck + d2, FLAG_SYN | FLAG_ACK, sSeq[c], cSeq[c] + 1, 0, 'syn', synTs);
    const tAck = tSynAck + d2 + turnaround();
    const d3 = delay();
    fromClient(c, tAck, tAck + d3, FLAG_ACK, cSeq[c] + 1, sSeq[c] + 1, 0, 'ts', synAckTs);
    cSeq[c] = (cSeq[c] + 1) >>> 0;
    sSeq[c] = (sSeq[c] + 1) >>> 0;
    markOpen(c);
    return tAck + d3;
  };

  const dataLength = () => {
    const r = random();
    if (r < 0.7) return 16 + Math.floor(random() * 184);
    if (r < 0.9) return 200 + Math.floor(random() * 400);
    return MSS;
  };

  /** A request or a reply on a random open connection, and its ACK. */
  const dataStep = (t) => {
    const c = openList[Math.floor(random() * openCount)];
    const length = dataLength();
    const d1 = delay();
    const d2 = delay();
    if (random() < 0.5) {
      const ts = fromClient(c, t, t + d1, FLAG_PSH | FLAG_ACK, cSeq[c], sSeq[c], length, 'ts', 0);
      cSeq[c] = (cSeq[c] + length) >>> 0;
      const tAck = t + d1 + turnaround();
      fromServer(c, tAck, tAck + d2, FLAG_ACK, sSeq[c], cSeq[c], 0, 'ts', ts);
      return tAck + d2;
    }
    const ts = fromServer(c, t, t + d1, FLAG_PSH | FLAG_ACK, sSeq[c], cSeq[c], length, 'ts', 0);
    sSeq[c] = (sSeq[c] + length) >>> 0;
    const tAck = t + d1 + turnaround();
    fromClient(c, tAck, tAck + d2, FLAG_ACK, cSeq[c], sSeq[c], 0, 'ts', ts);
    return tAck + d2;
  };

  /** The client closes: FIN, the server's FIN/ACK, the last ACK. */
  const closeStep = (t, c) => {
    const d1 = delay();
    const ts = fromClient(c, t, t + d1, FLAG_FIN | FLAG_ACK, cSeq[c], sSeq[c], 0, 'ts', 0);
    cSeq[c] = (cSeq[c] + 1) >>> 0;
    const tFin = t + d1 + turnaround();
    const d2 = delay();
    const ts2 = fromServer(c, tFin, tFin + d2, FLAG_FIN | FLAG_ACK, sSeq[c], cSeq[c], 0, 'ts', ts);
    sSeq[c] = (sSeq[c] + 1) >>> 0;
    const tAck = tFin + d2 + turnaround();
    const d3 = delay();
    fromClient(c, tAck, tAck + d3, FLAG_ACK, cSeq[c], sSeq[c], 0, 'ts', ts2);
    markClosed(c);
    return tAck + d3;
  };

  let steps = 0;
  const arpStep = (t) => {
    writeArpFrame(client, t, false, CLIENT_MAC, addr[0], null, CLIENT_GW);
    writeArpFrame(client, t + 30_000, true, CLIENT_GW_MAC, CLIENT_GW, CLIENT_MAC, addr[0]);
    writeArpFrame(server, sTime(t), false, SERVER_MAC, SERVER_ADDR, null, SERVER_GW);
    writeArpFrame(server, sTime(t) + 30_000, true, SERVER_GW_MAC, SERVER_GW, SERVER_MAC, SERVER_ADDR);
    return t + 30_000;
  };
  const step = (fn, ...args) => {
    steps++;
    if (steps % ARP_EVERY === 0) now = arpStep(now + gap());
    now = fn(now + gap(), ...args);
  };

  // Handshakes whose first SYN (or SYN-ACK) died: finished 1 s (the initial RTO) later. Due times
  // only grow, so a FIFO keeps them in order.
  const deferredConn = [];
  const deferredDue = [];
  let deferredHead = 0;
  const runDeferred = (force) => {
    while (deferredHead < deferredConn.length && (force || deferredDue[deferredHead] <= now)) {
      const c = deferredConn[deferredHead];
      if (now < deferredDue[deferredHead]) now = deferredDue[deferredHead];
      deferredHead++;
      // The retransmitted SYN arrives and is answered ('synack-lost': the server answers it again).
      step(completeHandshake, c);
    }
    if (deferredHead > 4096) {
      deferredConn.splice(0, deferredHead);
      deferredDue.splice(0, deferredHead);
      deferredHead = 0;
    }
  };
  /** First transmission of a handshake that will need a retransmission. */
  const lossyStart = (t, c, kind) => {
    const d1 = delay();
    if (kind === 'syn-lost') {
      fromClient(c, t, -1, FLAG_SYN, cSeq[c], 0, 0, 'syn', 0);
      deferredConn.push(c); deferredDue.push(t + RTO_NS);
      return t + d1;
    }
    const synTs = fromClient(c, t, t + d1, FLAG_SYN, cSeq[c], 0, 0, 'syn', 0);
    const tSynAck = t + d1 + turnaround();
    fromServer(c, tSynAck, -1, FLAG_SYN | FLAG_ACK, sSeq[c], cSeq[c] + 1, 0, 'syn', synTs);
    deferredConn.push(c); deferredDue.push(t + RTO_NS);
    return tSynAck + delay();
  };

  // Data steps: spread over the opens, with ~1% kept for the tail (the held connections stay busy).
  const fixedExpected = 3 * opens + 3 * shortLived + opens * (synLoss + 2 * synAckLoss) + 7 * failures + 4 * Math.floor(opens / ARP_EVERY);
  const dataSteps = Math.max(0, Math.floor((opts.packets - fixedExpected) / 2));
  const dataPerOpen = (dataSteps * 0.99) / opens;
  let dataCredit = 0;

  // Short-lived connections: exactly `shortLived` of the opens (selection sampling), each closed
  // SHORT_LIFE_OPENS opens later.
  let shortLeft = shortLived;
  const closeConn = [];
  const closeDue = [];
  let closeHead = 0;

  for (let i = 0; i < opens; i++) {
    runDeferred(false);
    while (closeHead < closeConn.length && closeDue[closeHead] <= i) {
      const c = closeConn[closeHead++];
      if (openAt[c] >= 0) {
        step(closeStep, c);
      } else {
        // Its handshake waits for a retransmission: close it later.
        closeConn.push(c);
        closeDue.push(i + SHORT_LIFE_OPENS);
      }
    }
    dataCredit += dataPerOpen;
    while (dataCredit >= 1 && openCount > 0) {
      step(dataStep);
      dataCredit -= 1;
    }
    if (random() < shortLeft / (opens - i)) {
      shortLeft--;
      closeConn.push(i);
      closeDue.push(i + SHORT_LIFE_OPENS);
    }
    const r = random();
    if (r < synLoss) step(lossyStart, i, 'syn-lost');
    else if (r < synLoss + synAckLoss) step(lossyStart, i, 'synack-lost');
    else step(completeHandshake, i);
  }
  runDeferred(true);
  while (closeHead < closeConn.length) step(closeStep, closeConn[closeHead++]);

  // The tail: failed attempts (SYNs that never reach the server), data on the held connections between them.
  const tailStart = now;
  const synTimes = [];
  for (let f = 0; f < failures; f++) {
    const start = tailStart + 2_000_000 + f * (CONNECT_TIMEOUT_S * 1e9 + 500_000);
    for (const s of SYN_SCHEDULE_S) synTimes.push([start + s * 1e9, opens + f]);
  }
  const tailEnd = synTimes.length > 0 ? synTimes[synTimes.length - 1][0] + (CONNECT_TIMEOUT_S - 63) * 1e9 : tailStart;
  const tailData = Math.max(0, Math.floor((opts.packets - client.packets - synTimes.length) / 2));
  const spacing = (tailEnd - tailStart) / (tailData + 1);
  let nextSyn = 0;
  for (let k = 0; k < tailData || nextSyn < synTimes.length; ) {
    const dataAt = k < tailData ? tailStart + (k + 1) * spacing : Infinity;
    if (nextSyn < synTimes.length && synTimes[nextSyn][0] <= dataAt) {
      const [at, c] = synTimes[nextSyn++];
      const t = Math.max(at, now + 1000);
      fromClient(c, t, -1, FLAG_SYN, cSeq[c], 0, 0, 'syn', 0);
      now = t;
    } else {
      now = Math.max(now, dataAt - 5_000); // step() adds a gap
      step(dataStep);
      k++;
    }
  }
  const endNs = Math.max(now, tailEnd);
  client.writeStatistics(-500_000_000, endNs + 500_000_000);
  server.writeStatistics(-500_000_000 + serverShiftNs, sTime(endNs) + 500_000_000);
  client.close();
  server.close();
  return {
    format,
    clientFile,
    serverFile,
    clientPackets: client.packets,
    serverPackets: server.packets,
    clientBytes: client.bytes,
    serverBytes: server.bytes,
    ceiling,
    attempts: attemptsTotal,
    established: opens,
    shortLived,
    failures,
    serverClockOffsetMs: serverOffsetNs / 1e6,
    spanSec: (endNs + 1e9) / 1e9,
  };
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      packets: { type: 'string', default: '1000000' },
      ceiling: { type: 'string', default: '100000' },
      failures: { type: 'string', default: '3' },
      format: { type: 'string', default: 'pcap' },
      seed: { type: 'string', default: '1' },
      name: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new Error('usage: node bench/generate.js DIR [--packets N] [--ceiling N] [--failures N] [--format pcap|pcapng] [--seed N]');
  if (values.format !== 'pcap' && values.format !== 'pcapng') throw new Error('--format is pcap or pcapng');
  const started = performance.now();
  const result = generateCapturePair({
    dir: positionals[0],
    packets: Number(values.packets),
    ceiling: Number(values.ceiling),
    failures: Number(values.failures),
    format: values.format,
    seed: Number(values.seed),
    name: values.name,
  });
  process.stdout.write(`${JSON.stringify({ ...result, generateMs: Math.round(performance.now() - started) })}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`generate: ${error.message}\n`);
    process.exit(2);
  }
}
