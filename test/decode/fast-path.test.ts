/**
 * decodePacket decodes the common case (Ethernet, IPv4 not fragmented, TCP with its whole header
 * captured) in one step and everything else layer by layer (decodeLayers). The one-step path must
 * give exactly what the layers give: every packet of the fixtures and of the public corpus, and
 * every variation of a frame's lengths, flags and fields around the one-step path's bounds.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodeLayers, decodePacket, peekTcpFlags } from '../../src/decode/packet.js';
import { TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../../src/decode/types.js';
import { readCapture } from '../../src/read/open.js';
import { ethernet, ipv4, synWithOptions, tcp } from './build.js';

const CORPUS_FILES = '/work/shared/corpus/files';
const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));

function snapshot(d: DecodedPacket): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (k === 'buf') continue;
    out[k] = k === 'problem' ? (v === null ? null : (v as { message: string }).message) : v;
  }
  return out;
}

const a = createDecodedPacket();
const b = createDecodedPacket();

/**
 * decodePacket and decodeLayers agree on buf[offset, offset + length), whatever the options mask;
 * and where peekTcpFlags gives flags, decodePacket says 'tcp', with those flags and, when it leaves
 * the options alone, no truncated options (what a caller counting by the peek alone assumes).
 */
function same(linkType: number, buf: Uint8Array, offset: number, length: number): string {
  let status = '';
  const peeked = peekTcpFlags(linkType, buf, offset, length);
  for (const mask of [-1, TCP_SYN | TCP_RST | TCP_FIN]) {
    status = decodePacket(linkType, buf, offset, length, a, mask);
    const s = snapshot(a);
    const layered = decodeLayers(linkType, buf, offset, offset + length, b, mask);
    expect(layered).toBe(status);
    expect(s).toEqual(snapshot(b));
    if (peeked >= 0) {
      expect(status).toBe('tcp');
      expect(a.flags).toBe(peeked);
      if (mask >= 0 && (peeked & mask) === 0) expect(a.tcpOptionsTruncated).toBe(false);
    }
  }
  peekCounts[peeked >= 0 ? 1 : 0]++;
  return status;
}

/** Packets peekTcpFlags declined and took. */
const peekCounts = [0, 0];

async function everyPacket(files: string[]): Promise<number> {
  let n = 0;
  for (const file of files) {
    try {
      await readCapture(file, (p) => {
        same(p.linkType, p.buf, p.offset, p.caplen);
        n++;
      });
    } catch {
      // a file that cannot be read at all: nothing to compare
    }
  }
  return n;
}

describe('the one-step Ethernet/IPv4/TCP decode', () => {
  it('agrees with the layers on every fixture packet', async () => {
    const files = [...readdirSync(fixtures), ...readdirSync(`${fixtures}regress`).map((f) => `regress/${f}`)]
      .filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => fixtures + f);
    expect(await everyPacket(files)).toBeGreaterThan(1000);
  });

  it.skipIf(!existsSync(CORPUS_FILES))('agrees with the layers on every packet of the public corpus', async () => {
    const files = readdirSync(CORPUS_FILES).filter((f) => /\.(pcap|pcapng|cap)$/.test(f)).map((f) => `${CORPUS_FILES}/${f}`);
    expect(await everyPacket(files)).toBeGreaterThan(10_000);
  }, 120_000);

  it('agrees with the layers on variations of every header field that bounds it', () => {
    const frames = [
      ethernet(0x0800, ipv4({}, synWithOptions())),
      ethernet(0x0800, ipv4({}, tcp({ flags: 0x18, options: [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9], payload: [1, 2, 3, 4, 5] }))),
      ethernet(0x0800, ipv4({ options: [0x94, 4, 0, 0] }, tcp({ flags: 0x11 }))),
      ethernet(0x0800, ipv4({}, tcp({ flags: 0x12, options: [2, 4, 5, 0xb4, 1, 1, 4, 2] }))),
    ];
    const statuses = new Set<string>();
    for (const frame of frames) {
      // Every captured length, and every value of each byte that the one-step path checks.
      for (let length = 0; length <= frame.length; length++) statuses.add(same(1, frame, 0, length));
      for (const at of [12, 13, 14, 16, 17, 20, 21, 23, 34 + 12, 34 + 13]) {
        for (let v = 0; v < 256; v++) {
          const f = Uint8Array.from(frame);
          f[at] = v;
          statuses.add(same(1, f, 0, f.length));
          statuses.add(same(1, f, 0, f.length - 3));
        }
      }
      // Ethernet padding after the IP packet, a buffer with bytes before the frame.
      statuses.add(same(1, Uint8Array.from([...frame, 0, 0, 0, 0, 0, 0]), 0, frame.length + 6));
      statuses.add(same(1, Uint8Array.from([9, 9, 9, ...frame]), 3, frame.length));
      statuses.add(same(101, frame.subarray(14), 0, frame.length - 14));
    }
    for (const s of ['tcp', 'not-tcp', 'not-ip', 'fragment', 'truncated', 'malformed']) expect(statuses).toContain(s);
    // Both answers of the peek were exercised.
    expect(Math.min(...peekCounts)).toBeGreaterThan(1000);
  });
});
