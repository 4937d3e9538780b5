/**
 * Link layers: find where the IP header starts and which IP version the link names.
 * On success the Cursor holds the network layer's offset (`offset`) and kind (`network`), and
 * `out.vlan` the outermost VLAN id; the result is 'next'. Otherwise the result is 'not-ip',
 * 'truncated' or 'malformed' (with a problem at layer 'link'), or 'unsupported-link'.
 * Truncation `required`/`available` count from the first byte of the link header.
 *
 * Link types: Ethernet (1; 802.1Q/802.1ad/0x9100 tags at any depth, 802.3 + LLC/SNAP, and, as
 * found in real captures, VN-Tag, PPPoE session and MPLS), Linux SLL (113) and SLL2 (276), BSD
 * loopback NULL (0) and LOOP (108), raw IP (101, 12, 14, 228, 229), PPP (9), FDDI (10),
 * Cisco HDLC (104), NFLOG (239), IPoIB (242). Anything else is 'unsupported-link'.
 */
import type { DecodedPacket } from './types.js';
import type { Cursor, LayerResult, ProblemReporter } from './packet.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
/** The link does not say which IP version follows: the first nibble decides (raw IP, MPLS). */
export const NETWORK_IP_ANY = 0;

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_FDDI = 10;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_C_HDLC = 104;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_NFLOG = 239;
export const LINKTYPE_IPOIB = 242;
export const LINKTYPE_LINUX_SLL2 = 276;
/** DLT_RAW as OpenBSD (14) and some other systems (12) number it in pcap files. */
const LINKTYPE_RAW_12 = 12;
const LINKTYPE_RAW_14 = 14;

const ETHERTYPE_VLAN = 0x8100; // 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad
const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard QinQ
const ETHERTYPE_VNTAG = 0x8926;
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
const ETHERTYPE_PPPOE_SESSION = 0x8864;

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

const NFULA_PAYLOAD = 9;

function u16(buf: Uint8Array, i: number): number {
  return (buf[i] << 8) | buf[i + 1];
}

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

function u32le(buf: Uint8Array, i: number): number {
  return (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) >>> 0;
}

export function decodeLink(linkType: number, buf: Uint8Array, cur: Cursor, out: DecodedPacket, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return decodeEthernet(buf, cur, out, report);
    case LINKTYPE_LINUX_SLL:
      if (cur.end - start < 16) return report.truncated('link', 16, cur.end - start, 'header');
      return decodeEthertype(u16(buf, start + 14), start + 16, start, buf, cur, out, report);
    case LINKTYPE_LINUX_SLL2:
      if (cur.end - start < 20) return report.truncated('link', 20, cur.end - start, 'header');
      out.ifIndex = ((buf[start + 4] << 24) | (buf[start + 5] << 16) | (buf[start + 6] << 8) | buf[start + 7]) >>> 0;
      return decodeEthertype(u16(buf, start), start + 20, start, buf, cur, out, report);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return decodeLoopback(linkType, buf, cur, report);
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
      return network(NETWORK_IP_ANY, start, cur);
    case LINKTYPE_IPV4:
      return network(ETHERTYPE_IPV4, start, cur);
    case LINKTYPE_IPV6:
      return network(ETHERTYPE_IPV6, start, cur);
    case LINKTYPE_PPP:
      return decodePpp(buf, cur, report);
    case LINKTYPE_C_HDLC:
      // address, control, then an ethertype
      if (cur.end - start < 4) return report.truncated('link', 4, cur.end - start, 'header');
      return decodeEthertype(u16(buf, start + 2), start + 4, start, buf, cur, out, report);
    case LINKTYPE_IPOIB:
      // What libpcap writes (and tcpdump and tshark read): a 44-byte header, 20 bytes of which are
      // the destination hardware address; the RFC 4391 4-byte header (ethertype, reserved) ends it.
      if (cur.end - start < 44) return report.truncated('link', 44, cur.end - start, 'header');
      return decodeEthertype(u16(buf, start + 40), start + 44, start, buf, cur, out, report);
    case LINKTYPE_FDDI:
      // frame control, destination, source (13 bytes), then LLC: enter the 802.3 length path
      if (cur.end - start < 13) return report.truncated('link', 13, cur.end - start, 'header');
      return decodeEthertype(0, start + 13, start, buf, cur, out, report);
    case LINKTYPE_NFLOG:
      return decodeNflog(buf, cur, report);
    default:
      return 'unsupported-link';
  }
}

function network(kind: number, offset: number, cur: Cursor): 'next' {
  cur.network = kind;
  cur.offset = offset;
  return 'next';
}

function decodeEthernet(buf: Uint8Array, cur: Cursor, out: DecodedPacket, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  if (cur.end - start < 14) return report.truncated('link', 14, cur.end - start, 'header');
  return decodeEthertype(u16(buf, start + 12), start + 14, start, buf, cur, out, report);
}

/**
 * Follows an ethertype (or 802.3 length) found just before `at` through VLAN tags (any depth),
 * VN-Tag, LLC/SNAP, PPPoE session and MPLS headers to IPv4 or IPv6. `linkStart` is where the link
 * header began (truncation sizes count from there). Every step consumes bytes, so the loop ends.
 */
function decodeEthertype(
  type: number,
  at: number,
  linkStart: number,
  buf: Uint8Array,
  cur: Cursor,
  out: DecodedPacket,
  report: ProblemReporter,
): LayerResult {
  const end = cur.end;
  for (;;) {
    switch (type) {
      case ETHERTYPE_IPV4:
      case ETHERTYPE_IPV6:
        return network(type, at, cur);
      case ETHERTYPE_VLAN:
      case ETHERTYPE_QINQ:
      case ETHERTYPE_QINQ_OLD:
        if (end - at < 4) return report.truncated('link', at + 4 - linkStart, end - linkStart, 'VLAN tag');
        if (out.vlan < 0) out.vlan = u16(buf, at) & 0x0fff;
        type = u16(buf, at + 2);
        at += 4;
        continue;
      case ETHERTYPE_VNTAG:
        if (end - at < 6) return report.truncated('link', at + 6 - linkStart, end - linkStart, 'VN-Tag');
        type = u16(buf, at + 4);
        at += 6;
        continue;
      case ETHERTYPE_PPPOE_SESSION: {
        // version/type, code, session id, length (6 bytes), then a 2-byte PPP protocol
        if (end - at < 8) return report.truncated('link', at + 8 - linkStart, end - linkStart, 'PPPoE header');
        const protocol = u16(buf, at + 6);
        if (protocol === PPP_IPV4) return network(ETHERTYPE_IPV4, at + 8, cur);
        if (protocol === PPP_IPV6) return network(ETHERTYPE_IPV6, at + 8, cur);
        return 'not-ip';
      }
      case ETHERTYPE_MPLS:
      case ETHERTYPE_MPLS_MULTICAST:
        return decodeMpls(at, linkStart, buf, cur, report);
    }
    if (type <= 1500) {
      // 802.3 length field: an LLC header follows; only SNAP (AA AA 03, OUI, ethertype) carries IP here.
      if (end - at < 3) return report.truncated('link', at + 3 - linkStart, end - linkStart, 'LLC header');
      if (buf[at] !== 0xaa || buf[at + 1] !== 0xaa || buf[at + 2] !== 0x03) return 'not-ip';
      if (end - at < 8) return report.truncated('link', at + 8 - linkStart, end - linkStart, 'SNAP header');
      type = u16(buf, at + 6);
      at += 8;
      continue;
    }
    return 'not-ip';
  }
}

/** MPLS label stack entries (4 bytes each) up to the bottom-of-stack bit, then IP by its first nibble. */
function decodeMpls(at: number, linkStart: number, buf: Uint8Array, cur: Cursor, report: ProblemReporter): LayerResult {
  const end = cur.end;
  for (;;) {
    if (end - at < 4) return report.truncated('link', at + 4 - linkStart, end - linkStart, 'MPLS label');
    const bottom = (buf[at + 2] & 0x01) !== 0;
    at += 4;
    if (bottom) break;
  }
  if (at >= end) return report.truncated('link', at + 1 - linkStart, end - linkStart, 'MPLS payload');
  const version = buf[at] >> 4;
  if (version === 4 || version === 6) return network(NETWORK_IP_ANY, at, cur);
  return 'not-ip'; // pseudowire control word, Ethernet over MPLS, ...
}

/**
 * BSD loopback. NULL (0): a 4-byte address family in the writer's byte order, so both orders are
 * accepted (a valid family fits in 16 bits). LOOP (108): the family in network byte order.
 * AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (Darwin).
 */
function decodeLoopback(linkType: number, buf: Uint8Array, cur: Cursor, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  if (cur.end - start < 4) return report.truncated('link', 4, cur.end - start, 'address family');
  let family = linkType === LINKTYPE_LOOP ? u32(buf, start) : u32le(buf, start);
  if (linkType === LINKTYPE_NULL && family > 0xffff) family = u32(buf, start);
  if (family === 2) return network(ETHERTYPE_IPV4, start + 4, cur);
  if (family === 24 || family === 28 || family === 30) return network(ETHERTYPE_IPV6, start + 4, cur);
  return 'not-ip';
}

/** PPP: optional address/control bytes ff 03, then a 1-byte (compressed, odd) or 2-byte protocol. */
function decodePpp(buf: Uint8Array, cur: Cursor, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  const end = cur.end;
  let at = start;
  if (end - at < 1) return report.truncated('link', 2, 0, 'protocol');
  if (buf[at] === 0xff) {
    // HDLC-like framing: address ff, control 03 (0xff is not an assigned PPP protocol byte)
    if (end - at < 2) return report.truncated('link', 4, end - start, 'address and control');
    if (buf[at + 1] === 0x03) at += 2;
  }
  if (end - at < 1) return report.truncated('link', at + 2 - start, end - start, 'protocol');
  let protocol: number;
  if ((buf[at] & 0x01) !== 0) {
    protocol = buf[at];
    at += 1;
  } else {
    if (end - at < 2) return report.truncated('link', at + 2 - start, end - start, 'protocol');
    protocol = u16(buf, at);
    at += 2;
  }
  if (protocol === PPP_IPV4) return network(ETHERTYPE_IPV4, at, cur);
  if (protocol === PPP_IPV6) return network(ETHERTYPE_IPV6, at, cur);
  return 'not-ip';
}

/**
 * NFLOG: family, version, resource id (4 bytes), then TLVs of (length, type) in the host order of
 * the writer — little-endian in practice — padded to 4 bytes. The length includes the 4-byte TLV
 * header. Type 9 (NFULA_PAYLOAD) holds the packet from its IP header on.
 */
function decodeNflog(buf: Uint8Array, cur: Cursor, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  const end = cur.end;
  if (end - start < 4) return report.truncated('link', 4, end - start, 'header');
  const family = buf[start];
  let at = start + 4;
  while (at < end) {
    if (end - at < 4) return report.truncated('link', at + 4 - start, end - start, 'TLV header');
    const length = buf[at] | (buf[at + 1] << 8);
    const type = (buf[at + 2] | (buf[at + 3] << 8)) & 0x7fff;
    if (length < 4) return report.malformed('link', 'TLV length', length, 'an NFLOG TLV is at least 4 bytes');
    if (type === NFULA_PAYLOAD) {
      // The payload ends at the TLV's end; a snap length may have cut it earlier (IP reports that).
      if (at + length < cur.end) cur.end = at + length;
      const kind = family === 2 ? ETHERTYPE_IPV4 : family === 10 ? ETHERTYPE_IPV6 : NETWORK_IP_ANY;
      return network(kind, at + 4, cur);
    }
    if (end - at < length) return report.truncated('link', at + length - start, end - start, 'TLV length');
    at += (length + 3) & ~3;
  }
  return 'not-ip';
}
