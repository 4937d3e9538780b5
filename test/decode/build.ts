/** Builders for hand-made frames: each returns a fresh Uint8Array, headers in network byte order. */

export type Bytes = Uint8Array | number[];

export function concat(...parts: Bytes[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function be16(n: number): number[] {
  return [(n >>> 8) & 0xff, n & 0xff];
}

export function be32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

export function le16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}

export function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

export function ip4(text: string): number[] {
  return text.split('.').map(Number);
}

/** Parses an IPv6 address written with at most one '::' (no embedded IPv4). */
export function ip6(text: string): number[] {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups].map((g) => parseInt(g, 16));
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${text}`);
  return groups.flatMap(be16);
}

// ---------------------------------------------------------------- TCP

export const opt = {
  eol: (): number[] => [0],
  nop: (): number[] => [1],
  mss: (mss: number): number[] => [2, 4, ...be16(mss)],
  ws: (shift: number): number[] => [3, 3, shift],
  sackPermitted: (): number[] => [4, 2],
  sack: (...edges: number[]): number[] => [5, 2 + 4 * edges.length, ...edges.flatMap(be32)],
  ts: (val: number, ecr: number): number[] => [8, 10, ...be32(val), ...be32(ecr)],
  raw: (kind: number, length: number, data: number[] = []): number[] => [kind, length, ...data],
};

export interface TcpSpec {
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** Option bytes; padded with EOL to a multiple of 4 unless dataOffset is given. */
  options?: number[];
  /** Overrides the data offset nibble. */
  dataOffset?: number;
  payload?: Bytes;
}

export function tcp(spec: TcpSpec = {}): Uint8Array {
  const options = [...(spec.options ?? [])];
  if (spec.dataOffset === undefined) while (options.length % 4 !== 0) options.push(0);
  const dataOffset = spec.dataOffset ?? 5 + options.length / 4;
  return concat(
    be16(spec.srcPort ?? 40000),
    be16(spec.dstPort ?? 443),
    be32(spec.seq ?? 0x01020304),
    be32(spec.ack ?? 0),
    [(dataOffset & 0x0f) << 4, spec.flags ?? 0x02],
    be16(spec.window ?? 64240),
    [0, 0, 0, 0], // checksum, urgent pointer
    options,
    spec.payload ?? [],
  );
}

/** A client SYN with MSS, SACK permitted, timestamps, NOP, window scale (Linux order), 40-byte header. */
export function synWithOptions(spec: TcpSpec = {}): Uint8Array {
  return tcp({
    seq: 0xfedcba98,
    options: [...opt.mss(1460), ...opt.sackPermitted(), ...opt.ts(0xdeadbeef, 0), ...opt.nop(), ...opt.ws(7)],
    ...spec,
  });
}

// ---------------------------------------------------------------- IP

export interface IPv4Spec {
  src?: string;
  dst?: string;
  id?: number;
  ttl?: number;
  protocol?: number;
  /** Option bytes, padded with EOL to a multiple of 4. */
  options?: number[];
  moreFragments?: boolean;
  dontFragment?: boolean;
  /** In 8-byte units. */
  fragmentOffset?: number;
  /** Overrides. */
  ihl?: number;
  totalLength?: number;
  version?: number;
}

export function ipv4(spec: IPv4Spec, payload: Bytes): Uint8Array {
  const options = [...(spec.options ?? [])];
  while (options.length % 4 !== 0) options.push(0);
  const ihl = spec.ihl ?? 5 + options.length / 4;
  const headerLength = 20 + options.length;
  const flags = (spec.moreFragments ? 0x2000 : 0) | (spec.dontFragment ? 0x4000 : 0) | ((spec.fragmentOffset ?? 0) & 0x1fff);
  return concat(
    [((spec.version ?? 4) << 4) | (ihl & 0x0f), 0],
    be16(spec.totalLength ?? headerLength + payload.length),
    be16(spec.id ?? 0x1234),
    be16(flags),
    [spec.ttl ?? 64, spec.protocol ?? 6],
    [0, 0],
    ip4(spec.src ?? '192.0.2.1'),
    ip4(spec.dst ?? '198.51.100.2'),
    options,
    payload,
  );
}

export interface IPv6Spec {
  src?: string;
  dst?: string;
  hopLimit?: number;
  /** Next header after the fixed header (defaults to the first extension header's type, or 6). */
  next?: number;
  /** Overrides the payload length field. */
  payloadLength?: number;
  version?: number;
}

export function ipv6(spec: IPv6Spec, payload: Bytes): Uint8Array {
  return concat(
    [((spec.version ?? 6) << 4) | 0, 0, 0, 0],
    be16(spec.payloadLength ?? payload.length),
    [spec.next ?? 6, spec.hopLimit ?? 64],
    ip6(spec.src ?? '2001:db8::1'),
    ip6(spec.dst ?? '2001:db8::2'),
    payload,
  );
}

/** Hop-by-hop / routing / destination options style header: (next, len in 8-byte units - 1, data). Data is padded to fit. */
export function ext6(next: number, data: number[] = []): number[] {
  const bytes = [next, 0, ...data];
  while (bytes.length % 8 !== 0) bytes.push(0);
  bytes[1] = bytes.length / 8 - 1;
  return bytes;
}

export function frag6(next: number, offsetUnits: number, more: boolean, id = 0xabcdef01): number[] {
  return [next, 0, ...be16((offsetUnits << 3) | (more ? 1 : 0)), ...be32(id)];
}

/** AH: payload length in 4-byte units minus 2; 12 fixed bytes + ICV. */
export function ah6(next: number, icvLength = 12): number[] {
  const length = 12 + icvLength;
  return [next, length / 4 - 2, 0, 0, ...be32(0x100), ...be32(1), ...Array<number>(icvLength).fill(0xaa)];
}

// ---------------------------------------------------------------- link layers

export interface VlanTag {
  tpid: number;
  id: number;
  pcp?: number;
}

/** Ethernet II; `vlans` are tags outermost first (their TPIDs chain in front of `type`). */
export function ethernet(type: number, payload: Bytes, vlans: VlanTag[] = []): Uint8Array {
  const firstType = vlans.length > 0 ? vlans[0].tpid : type;
  const tags: number[] = [];
  for (let i = 0; i < vlans.length; i++) {
    const nextType = i + 1 < vlans.length ? vlans[i + 1].tpid : type;
    tags.push(...be16(((vlans[i].pcp ?? 0) << 13) | vlans[i].id), ...be16(nextType));
  }
  return concat([0x02, 0, 0, 0, 0, 0x02], [0x02, 0, 0, 0, 0, 0x01], be16(firstType), tags, payload);
}

/** 802.3 frame with a length field and LLC/SNAP (OUI 0) carrying `type`. */
export function ethernetSnap(type: number, payload: Bytes): Uint8Array {
  const llc = [0xaa, 0xaa, 0x03, 0, 0, 0, ...be16(type)];
  return concat([0x02, 0, 0, 0, 0, 0x02], [0x02, 0, 0, 0, 0, 0x01], be16(llc.length + payload.length), llc, payload);
}

export function sll(protocol: number, payload: Bytes): Uint8Array {
  return concat(be16(0), be16(1), be16(6), [0x02, 0, 0, 0, 0, 0x01, 0, 0], be16(protocol), payload);
}

export function sll2(protocol: number, payload: Bytes): Uint8Array {
  return concat(be16(protocol), be16(0), be32(2), be16(1), [0, 6], [0x02, 0, 0, 0, 0, 0x01, 0, 0], payload);
}

export function nullLoopback(family: number, payload: Bytes, littleEndian = true): Uint8Array {
  return concat(littleEndian ? le32(family) : be32(family), payload);
}

export function loop(family: number, payload: Bytes): Uint8Array {
  return concat(be32(family), payload);
}

export function ppp(protocol: number, payload: Bytes, addressControl = true): Uint8Array {
  return concat(addressControl ? [0xff, 0x03] : [], protocol < 0x100 && !addressControl ? [protocol] : be16(protocol), payload);
}

export function cHdlc(type: number, payload: Bytes): Uint8Array {
  return concat([0x0f, 0x00], be16(type), payload);
}

/** LINKTYPE_IPOIB as libpcap writes it: 40 bytes (20 of them the destination address), then ethertype and 2 reserved bytes. */
export function ipoib(type: number, payload: Bytes): Uint8Array {
  const prefix = new Uint8Array(40);
  prefix.set([0x80, 0x00, 0x05, 0x50, 0xfe, 0x80], 20);
  return concat(prefix, be16(type), [0, 0], payload);
}

/** FDDI: frame control, destination, source, then LLC/SNAP carrying `type`. */
export function fddi(type: number, payload: Bytes): Uint8Array {
  return concat([0x50], [0x55, 0, 0x20, 0, 0xc1, 0xe5], [0x55, 0, 0x20, 0, 0x41, 0xe5], [0xaa, 0xaa, 0x03, 0, 0, 0], be16(type), payload);
}

/** NFLOG with a prefix TLV (type 10) before the payload TLV (type 9); TLV headers little-endian. */
export function nflog(family: number, payload: Bytes): Uint8Array {
  const prefix = [...le16(4 + 4), ...le16(10), 0x66, 0x6f, 0x6f, 0];
  const payloadTlv = [...le16(4 + payload.length), ...le16(9)];
  const padding = Array<number>((4 - (payload.length % 4)) % 4).fill(0);
  return concat([family, 0, ...be16(0)], prefix, payloadTlv, payload, padding);
}
