/**
 * The result of decoding one packet's link, IP and TCP headers. One DecodedPacket is reused for
 * every packet: `decodePacket` resets every field it may set before decoding, so nothing from an
 * earlier packet survives. Addresses are not copied: they are offsets into the packet's buffer
 * (`buf`), valid until the next decode.
 */
export type DecodeStatus =
  /** A TCP header was decoded (fully, or at least up to and including the flags byte). */
  | 'tcp'
  /** IP decoded, but the payload is not TCP (UDP, ICMP, ...). */
  | 'not-tcp'
  /** A non-first IP fragment, or a first fragment too short to hold the TCP header: never decoded as TCP. */
  | 'fragment'
  /** Link layer decoded, but it carries neither IPv4 nor IPv6 (ARP, LLDP, ...). */
  | 'not-ip'
  /** Ran out of bytes before the TCP flags: see `error`. */
  | 'truncated'
  /** A header field holds an impossible value (IP version, IHL < 5, data offset < 5, ...): see `error`. */
  | 'malformed'
  /** The link type is not one synprobe decodes. */
  | 'unsupported-link';

export type Layer = 'link' | 'ipv4' | 'ipv6' | 'tcp';

export interface DecodeProblem {
  layer: Layer;
  /** For truncated: bytes the layer needed and bytes that were there. For malformed: 0/0. */
  required: number;
  available: number;
  /** The header field that set the bound or holds the bad value, e.g. 'IHL', 'total length', 'data offset'. */
  field: string;
  message: string;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export interface DecodedPacket {
  status: DecodeStatus;
  /** Set for 'truncated' and 'malformed' (and for a TCP header whose options were cut: status stays 'tcp', see tcpOptionsTruncated). */
  problem: DecodeProblem | null;

  buf: Uint8Array;
  /** Outermost 802.1Q/802.1ad VLAN id, or -1. */
  vlan: number;
  /** Interface index the link header names (Linux SLL2, tcpdump -i any), or -1. */
  ifIndex: number;

  /** 4 or 6 (0 when no IP header was decoded). */
  ipVersion: 0 | 4 | 6;
  /** Offsets in buf of the source and destination addresses (4 or 16 bytes). */
  srcAddrOffset: number;
  dstAddrOffset: number;
  /** IPv4 addresses as unsigned 32-bit numbers (0 for IPv6). */
  src4: number;
  dst4: number;
  /** IPv4 identification, or -1 for IPv6. */
  ipId: number;
  ttl: number;
  /** IP payload length per the IP header (not the captured length). */
  ipPayloadLength: number;

  srcPort: number;
  dstPort: number;
  /** Unsigned 32-bit. */
  seq: number;
  ack: number;
  /** The 8 flag bits (CWR ECE URG ACK PSH RST SYN FIN). */
  flags: number;
  window: number;
  /** TCP payload length per the IP length, minus the TCP header length. */
  payloadLength: number;

  /** TCP options; -1 / false when absent. */
  mss: number;
  windowScale: number;
  sackPermitted: boolean;
  hasTimestamp: boolean;
  tsVal: number;
  tsEcr: number;
  /** true when the snap length cut the TCP header inside its options (fields before the cut are still set). */
  tcpOptionsTruncated: boolean;
}
