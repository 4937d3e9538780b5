/**
 * IPv4 (RFC 791). Fills the IP fields of `out`, cuts the Cursor's end to the total length (drops
 * Ethernet padding), and hands TCP on with 'next'. A non-first fragment is 'fragment' and never
 * decoded as TCP; a first fragment with more to come goes on to TCP, which returns 'fragment'
 * if the TCP flags byte is not inside it (see tcp.ts).
 *
 * Truncated: fewer than 20 bytes (field 'header'), or fewer than IHL*4 (field 'IHL').
 * Malformed: version not 4, IHL < 5, total length < IHL*4.
 * Total length 0 is read as "whatever was captured" (TCP segmentation offload, as tshark does).
 */
import type { DecodedPacket } from './types.js';
import type { Cursor, LayerResult, ProblemReporter } from './packet.js';

const PROTOCOL_TCP = 6;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

function u16(buf: Uint8Array, i: number): number {
  return (buf[i] << 8) | buf[i + 1];
}

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

export function decodeIPv4(buf: Uint8Array, cur: Cursor, out: DecodedPacket, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  const available = cur.end - start;
  if (available < 20) return report.truncated('ipv4', 20, available, 'header');
  const version = buf[start] >> 4;
  if (version !== 4) return report.malformed('ipv4', 'version', version, 'the version of an IPv4 header must be 4');
  const ihl = buf[start] & 0x0f;
  if (ihl < 5) return report.malformed('ipv4', 'IHL', ihl, 'IHL must be at least 5');
  const headerLength = ihl * 4;
  if (available < headerLength) return report.truncated('ipv4', headerLength, available, 'IHL');
  let totalLength = u16(buf, start + 2);
  if (totalLength === 0) totalLength = available;
  if (totalLength < headerLength) return report.malformed('ipv4', 'total length', totalLength, 'total length is shorter than the header (IHL)');

  out.ipVersion = 4;
  out.ipId = u16(buf, start + 4);
  out.ttl = buf[start + 8];
  out.srcAddrOffset = start + 12;
  out.dstAddrOffset = start + 16;
  out.src4 = u32(buf, start + 12);
  out.dst4 = u32(buf, start + 16);
  out.ipPayloadLength = totalLength - headerLength;
  if (start + totalLength < cur.end) cur.end = start + totalLength;

  const fragment = u16(buf, start + 6);
  if ((fragment & FRAGMENT_OFFSET_MASK) !== 0) return 'fragment';
  if (buf[start + 9] !== PROTOCOL_TCP) return 'not-tcp';

  cur.offset = start + headerLength;
  cur.segmentLength = out.ipPayloadLength;
  cur.firstFragment = (fragment & FLAG_MORE_FRAGMENTS) !== 0;
  return 'next';
}
