/**
 * decodePacket's `optionsFor`: TCP options decoded only for segments whose flags share a bit with
 * the mask (the analyzer asks for SYN, RST and FIN). Everything else must come out as a full
 * decode gives it: every packet of every fixture, and hand-built segments.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket } from '../../src/decode/packet.js';
import { TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../../src/decode/types.js';
import { readCapture } from '../../src/read/open.js';
import { ethernet, ipv4, synWithOptions, tcp } from './build.js';

const MASK = TCP_SYN | TCP_RST | TCP_FIN;
const OPTION_FIELDS = ['mss', 'windowScale', 'sackPermitted', 'hasTimestamp', 'tsVal', 'tsEcr'] as const;
const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));

function fields(d: DecodedPacket, options: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (k === 'problem' || k === 'buf') continue;
    if (!options && (OPTION_FIELDS as readonly string[]).includes(k)) continue;
    out[k] = v;
  }
  return out;
}

function compare(linkType: number, buf: Uint8Array, offset: number, length: number, full: DecodedPacket, some: DecodedPacket, reset: DecodedPacket): void {
  const a = decodePacket(linkType, buf, offset, length, full);
  const b = decodePacket(linkType, buf, offset, length, some, MASK);
  expect(b).toBe(a);
  expect(fields(some, false)).toEqual(fields(full, false));
  if (a === 'tcp' && (full.flags & MASK) !== 0) {
    expect(fields(some, true)).toEqual(fields(full, true));
  } else {
    for (const k of OPTION_FIELDS) expect(some[k]).toBe(reset[k]);
  }
}

describe('decodePacket with optionsFor', () => {
  const full = createDecodedPacket();
  const some = createDecodedPacket();
  const reset = createDecodedPacket();

  it('gives every fixture packet the same status and fields, options only for SYN, RST, FIN', async () => {
    const files = readdirSync(fixtures).filter((f) => /\.pcap(ng)?$/.test(f));
    expect(files.length).toBeGreaterThan(10);
    let withOptions = 0;
    let skipped = 0;
    for (const file of files) {
      await readCapture(fixtures + file, (p) => {
        compare(p.linkType, p.buf, p.offset, p.caplen, full, some, reset);
        if (full.status === 'tcp' && full.hasTimestamp) {
          if ((full.flags & MASK) !== 0) withOptions++;
          else skipped++;
        }
      });
    }
    expect(withOptions).toBeGreaterThan(0);
    expect(skipped).toBeGreaterThan(0);
  });

  it('skips the options of a data segment, keeps those of a SYN, and counts a cut header either way', () => {
    const data = ethernet(0x0800, ipv4({}, tcp({ flags: 0x18, options: [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9] })));
    compare(1, data, 0, data.length, full, some, reset);
    expect(full.hasTimestamp).toBe(true);
    expect(some.hasTimestamp).toBe(false);
    const syn = ethernet(0x0800, ipv4({}, synWithOptions()));
    compare(1, syn, 0, syn.length, full, some, reset);
    expect(some.mss).toBe(full.mss);
    // Cut inside the options: tcpOptionsTruncated whatever the mask.
    compare(1, data, 0, data.length - 6, full, some, reset);
    expect(some.tcpOptionsTruncated).toBe(true);
  });
});
