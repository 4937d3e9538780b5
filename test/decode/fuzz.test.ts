/**
 * Fuzz-ish: a fixed-seed loop of random byte mutations and random lengths over the hand-built
 * frames. Decoding must never throw, and every result must be self-consistent.
 */
import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket, formatAddress } from '../../src/decode/packet.js';
import type { DecodeStatus } from '../../src/decode/types.js';
import {
  cHdlc,
  concat,
  ethernet,
  ethernetSnap,
  ext6,
  fddi,
  frag6,
  ipoib,
  ipv4,
  ipv6,
  loop,
  nflog,
  nullLoopback,
  ppp,
  sll,
  sll2,
  synWithOptions,
  tcp,
} from './build.js';
import { createRandom } from '../robustness/mutate.js';


const syn4 = ipv4({ options: [0x94, 4, 0, 0] }, synWithOptions({ payload: [1, 2, 3] }));
const syn6 = ipv6({ next: 0 }, concat(ext6(60, [1, 2, 0, 0]), ext6(44), frag6(6, 0, true), synWithOptions()));

const seeds: [number, Uint8Array][] = [
  [1, ethernet(0x0800, syn4)],
  [1, ethernet(0x86dd, syn6, [{ tpid: 0x88a8, id: 1 }, { tpid: 0x8100, id: 2 }])],
  [1, ethernetSnap(0x0800, syn4)],
  [1, ethernet(0x8847, concat([0, 1, 1, 64], syn4))],
  [1, ethernet(0x8864, concat([0x11, 0, 0, 1], [0, 0], [0, 0x21], syn4))],
  [113, sll(0x0800, syn4)],
  [276, sll2(0x86dd, syn6)],
  [0, nullLoopback(30, syn6)],
  [108, loop(2, syn4)],
  [101, syn4],
  [228, syn4],
  [229, syn6],
  [9, ppp(0x0021, syn4)],
  [104, cHdlc(0x86dd, syn6)],
  [239, nflog(2, syn4)],
  [242, ipoib(0x0800, syn4)],
  [10, fddi(0x0800, syn4)],
  [101, ipv4({ moreFragments: true }, synWithOptions().subarray(0, 16))],
  [101, ipv6({}, tcp({ dataOffset: 15, options: new Array(40).fill(1) }))],
];
const linkTypes = [0, 1, 9, 10, 12, 14, 101, 104, 108, 113, 228, 229, 239, 242, 276, 192];
const statuses: DecodeStatus[] = ['tcp', 'not-tcp', 'fragment', 'not-ip', 'truncated', 'malformed', 'unsupported-link'];

describe('fuzz', () => {
  it('5000 mutated frames never throw and always give a consistent result', () => {
    const next = createRandom(0x5eed);
    const pick = (n: number): number => Math.floor(next() * n);
    const out = createDecodedPacket();
    const seen = new Set<DecodeStatus>();
    for (let i = 0; i < 5000; i++) {
      const [seedLinkType, seed] = seeds[pick(seeds.length)];
      const frame = seed.slice();
      const mutations = 1 + pick(6);
      for (let m = 0; m < mutations; m++) {
        // bias towards the first 80 bytes, where the headers are
        const at = next() < 0.8 ? pick(Math.min(80, frame.length)) : pick(frame.length);
        frame[at] = next() < 0.3 ? [0, 0xff, 0x40, 0x60, 0x06, 0x2c, 0x02, 0x05][pick(8)] : pick(256);
      }
      const linkType = next() < 0.05 ? linkTypes[pick(linkTypes.length)] : seedLinkType;
      const lead = pick(4);
      const buf = concat(new Uint8Array(lead), frame);
      const length = next() < 0.5 ? frame.length : pick(frame.length + 20);
      const label = `iteration ${i}`;

      let status = 'not-ip' as DecodeStatus;
      expect(() => {
        status = decodePacket(linkType, buf, lead, length, out);
      }, label).not.toThrow();
      seen.add(status);

      expect(statuses, label).toContain(status);
      expect(out.status, label).toBe(status);
      if (status === 'truncated' || status === 'malformed') expect(out.problem, label).not.toBeNull();
      if (status === 'truncated') {
        expect(out.problem!.required, label).toBeGreaterThan(out.problem!.available);
        expect(out.problem!.available, label).toBeGreaterThanOrEqual(0);
      }
      if (out.tcpOptionsTruncated) expect(out.problem?.required, label).toBeGreaterThan(out.problem?.available ?? Infinity);
      if (status === 'tcp') expect([4, 6], label).toContain(out.ipVersion);
      if (status === 'not-ip' || status === 'unsupported-link') expect(out.ipVersion, label).toBe(0);
      if (out.ipVersion !== 0) {
        const size = out.ipVersion === 4 ? 4 : 16;
        expect(out.srcAddrOffset, label).toBeGreaterThanOrEqual(lead);
        expect(out.dstAddrOffset + size, label).toBeLessThanOrEqual(lead + length);
        expect(() => formatAddress(out, 'src') + formatAddress(out, 'dst'), label).not.toThrow();
      }
      expect(out.seq, label).toBeGreaterThanOrEqual(0);
      expect(out.payloadLength, label).toBeGreaterThanOrEqual(0);
      expect(typeof out.problem?.message === 'string' || out.problem === null, label).toBe(true);

      if (i % 7 === 0) {
        const fresh = createDecodedPacket();
        decodePacket(linkType, buf, lead, length, fresh);
        expect(out, label).toEqual(fresh);
      }
    }
    // the mutations reach every kind of result
    expect([...seen].sort()).toEqual([...statuses].sort());
  });
});
