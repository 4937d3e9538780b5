/**
 * TCP (RFC 9293) header and the options synprobe reports: MSS (2), window scale (3),
 * SACK permitted (4), timestamps (8). SACK blocks (5) and unknown kinds are skipped by their length.
 *
 * Truncated (status 'truncated'): fewer than 14 bytes, i.e. the flags byte (offset 13) is missing;
 * the problem says required 20 (the fixed header), field 'header'.
 * A header cut after the flags byte is still decoded: status 'tcp', `tcpOptionsTruncated` true, and
 * a truncated problem {required: data offset * 4, field 'data offset'}; fields before the cut are set
 * (the window is -1 when its bytes are missing; options are read up to the cut).
 * Malformed: data offset < 5, a header longer than the IP payload, an IP payload shorter than 20.
 * A first IP fragment (more fragments follow) is read as a capture cut at the fragment's end, as
 * tshark does without reassembly: fewer than 14 bytes is 'fragment'; a header cut after the flags
 * byte is 'tcp' with tcpOptionsTruncated and a truncated problem (available = the fragment's bytes).
 * A bad option (length < 2, or running past the header) stops option parsing: the status stays
 * 'tcp' and a malformed problem {field 'option length'} is recorded, unless the header was also
 * cut (then the truncation is the problem, so that tcpOptionsTruncated always explains it).
 */
import type { DecodedPacket } from './types.js';
import type { Cursor, LayerResult, ProblemReporter } from './packet.js';

const OPTION_EOL = 0;
const OPTION_NOP = 1;
const OPTION_MSS = 2;
const OPTION_WINDOW_SCALE = 3;
const OPTION_SACK_PERMITTED = 4;
const OPTION_TIMESTAMPS = 8;

function u16(buf: Uint8Array, i: number): number {
  return (buf[i] << 8) | buf[i + 1];
}

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

export function decodeTcp(buf: Uint8Array, cur: Cursor, out: DecodedPacket, report: ProblemReporter): LayerResult {
  const start = cur.offset;
  const segmentLength = cur.segmentLength;
  if (cur.firstFragment) {
    // A first fragment is read like a capture cut by the snap length: only its flags byte must be there.
    if (segmentLength < 14) return 'fragment';
  } else if (segmentLength < 20) {
    return report.malformed('tcp', 'header', segmentLength, 'the IP payload is shorter than a TCP header');
  }
  const available = cur.end - start;
  if (available < 14) return report.truncated('tcp', 20, available, 'header');

  out.srcPort = u16(buf, start);
  out.dstPort = u16(buf, start + 2);
  out.seq = u32(buf, start + 4);
  out.ack = u32(buf, start + 8);
  out.flags = buf[start + 13];
  const dataOffset = buf[start + 12] >> 4;
  if (dataOffset < 5) return report.malformed('tcp', 'data offset', dataOffset, 'data offset must be at least 5');
  const headerLength = dataOffset * 4;
  if (headerLength > segmentLength && !cur.firstFragment) {
    return report.malformed('tcp', 'data offset', dataOffset, 'the header is longer than the IP payload');
  }
  out.payloadLength = Math.max(0, segmentLength - headerLength);
  if (available >= 16) out.window = u16(buf, start + 14);

  const headerEnd = start + headerLength;
  if (cur.optionsFor < 0 || (out.flags & cur.optionsFor) !== 0) decodeOptions(buf, start + 20, Math.min(headerEnd, cur.end), headerEnd, out, report);
  if (available < headerLength) {
    out.tcpOptionsTruncated = true;
    report.truncated('tcp', headerLength, available, 'data offset');
  }
  return 'tcp';
}

/** Reads options in [at, capturedEnd); `headerEnd` (from the data offset) bounds every option length. */
export function decodeOptions(buf: Uint8Array, at: number, capturedEnd: number, headerEnd: number, out: DecodedPacket, report: ProblemReporter): void {
  while (at < capturedEnd) {
    const kind = buf[at];
    if (kind === OPTION_EOL) return;
    if (kind === OPTION_NOP) {
      at += 1;
      continue;
    }
    if (at + 1 >= headerEnd) {
      report.malformed('tcp', 'option length', 0, 'the option length byte is past the header');
      return;
    }
    if (at + 1 >= capturedEnd) return; // cut by the snap length
    const length = buf[at + 1];
    if (length < 2) {
      report.malformed('tcp', 'option length', length, 'an option is at least 2 bytes');
      return;
    }
    if (at + length > headerEnd) {
      report.malformed('tcp', 'option length', length, 'the option runs past the header (data offset)');
      return;
    }
    if (at + length > capturedEnd) return; // cut by the snap length
    switch (kind) {
      case OPTION_MSS:
        if (length === 4) out.mss = u16(buf, at + 2);
        break;
      case OPTION_WINDOW_SCALE:
        if (length === 3) out.windowScale = buf[at + 2];
        break;
      case OPTION_SACK_PERMITTED:
        if (length === 2) out.sackPermitted = true;
        break;
      case OPTION_TIMESTAMPS:
        if (length === 10) {
          out.hasTimestamp = true;
          out.tsVal = u32(buf, at + 2);
          out.tsEcr = u32(buf, at + 6);
        }
        break;
    }
    at += length;
  }
}
