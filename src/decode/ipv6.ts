/**
 * IPv6 (RFC 8200): the fixed header, then extension headers up to TCP. Fills the IP fields of
 * `out` (ipId is -1, ttl is the hop limit, ipPayloadLength the payload length field, extension
 * headers included), cuts the Cursor's end to the payload length, and hands TCP on with 'next'.
 *
 * Extension headers followed: hop-by-hop (0), routing (43), destination options (60), fragment
 * (44; a non-first fragment is 'fragment'), AH (51). ESP (50), no next header (59) and anything
 * else end in 'not-tcp'. At most 16 extension headers (more is malformed).
 * Truncated: fewer than 40 bytes, or an extension header cut by the snap length (sizes count from
 * the start of the IPv6 header). Malformed: version not 6, an extension header that runs past the
 * payload length, too many extension headers.
 * Payload length 0 (a jumbogram, or segmentation offload) is read as "whatever was captured".
 */
import type { DecodedPacket } from './types.js';
import type { Cursor, LayerResult, ProblemReporter } from './packet.js';

const NEXT_HOP_BY_HOP = 0;
const NEXT_TCP = 6;
const NEXT_ROUTING = 43;
const NEXT_FRAGMENT = 44;
const NEXT_AH = 51;
const NEXT_DESTINATION_OPTIONS = 60;
const MAX_EXTENSION_HEADERS = 16;

function u16(buf: Uint8Array, i: number): number {
  return (buf[i] << 8) | buf[i + 1];
}

export function decodeIPv6(buf: Uint8Array, cur: Cursor, out: DecodedPacket, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  const available = cur.end - start;
  if (available < 40) return report.truncated('ipv6', 40, available, 'header');
  const version = buf[start] >> 4;
  if (version !== 6) return report.malformed('ipv6', 'version', version, 'the version of an IPv6 header must be 6');

  const payloadLength = u16(buf, start + 4);
  const jumbo = payloadLength === 0;
  const payloadEnd = jumbo ? cur.end : start + 40 + payloadLength;
  out.ipVersion = 6;
  out.ipId = -1;
  out.ttl = buf[start + 7];
  out.srcAddrOffset = start + 8;
  out.dstAddrOffset = start + 24;
  out.ipPayloadLength = payloadEnd - (start + 40);
  if (payloadEnd < cur.end) cur.end = payloadEnd;
  const end = cur.end;

  let next = buf[start + 6];
  let at = start + 40;
  let firstFragment = false;
  for (let count = 0; ; count++) {
    if (next === NEXT_TCP) {
      cur.offset = at;
      cur.segmentLength = payloadEnd - at;
      cur.firstFragment = firstFragment;
      return 'next';
    }
    if (next !== NEXT_HOP_BY_HOP && next !== NEXT_ROUTING && next !== NEXT_DESTINATION_OPTIONS && next !== NEXT_FRAGMENT && next !== NEXT_AH) {
      return 'not-tcp';
    }
    if (count === MAX_EXTENSION_HEADERS) {
      return report.malformed('ipv6', 'next header', next, 'more than 16 extension headers');
    }

    // Every extension header starts with next header and a length byte.
    if (!jumbo && payloadEnd - at < 2) return report.malformed('ipv6', 'payload length', payloadLength, 'an extension header runs past the payload');
    if (end - at < 2) return report.truncated('ipv6', at + 2 - start, end - start, 'extension header');
    let length: number;
    let field: string;
    if (next === NEXT_FRAGMENT) {
      length = 8;
      field = 'fragment header';
    } else if (next === NEXT_AH) {
      length = (buf[at + 1] + 2) * 4;
      field = 'AH payload length';
    } else {
      length = (buf[at + 1] + 1) * 8;
      field = 'header extension length';
    }
    if (!jumbo && payloadEnd - at < length) return report.malformed('ipv6', 'payload length', payloadLength, 'an extension header runs past the payload');
    if (end - at < length) return report.truncated('ipv6', at + length - start, end - start, field);

    if (next === NEXT_FRAGMENT) {
      const offsetAndFlags = u16(buf, at + 2);
      if (offsetAndFlags >> 3 !== 0) return 'fragment';
      if ((offsetAndFlags & 0x0001) !== 0) firstFragment = true;
    }
    next = buf[at];
    at += length;
  }
}
