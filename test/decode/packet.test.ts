import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket, formatAddress } from '../../src/decode/packet.js';
import type { DecodedPacket, Layer } from '../../src/decode/types.js';
import { TCP_SYN } from '../../src/decode/types.js';
import { concat, ethernet, ext6, ip6, ipv4, ipv6, nullLoopback, opt, sll, sll2, synWithOptions, tcp } from './build.js';

interface Bound {
  layer: Layer;
  /** Offset in the frame where the layer starts. */
  start: number;
  /** Bytes of the layer that must be there for this bound to be met. */
  need: number;
  /** What the problem reports as required (the TCP flags bound reports the 20-byte fixed header). */
  required: number;
  field: string;
}

interface PrefixCase {
  name: string;
  linkType: number;
  frame: Uint8Array;
  bounds: Bound[];
  tcpStart: number;
}

const SYN_HEADER = 40; // synWithOptions: MSS 20-23, SACK-perm 24-25, TS 26-35, NOP 36, WS 37-39

const cases: PrefixCase[] = [
  {
    name: 'Ethernet + IPv4 + TCP SYN with options',
    linkType: 1,
    frame: ethernet(0x0800, ipv4({}, synWithOptions())),
    bounds: [
      { layer: 'link', start: 0, need: 14, required: 14, field: 'header' },
      { layer: 'ipv4', start: 14, need: 20, required: 20, field: 'header' },
      { layer: 'tcp', start: 34, need: 14, required: 20, field: 'header' },
    ],
    tcpStart: 34,
  },
  {
    name: 'Ethernet + 802.1Q + IPv4 with options + TCP SYN with options',
    linkType: 1,
    frame: ethernet(0x0800, ipv4({ options: [0x94, 4, 0, 0, 1, 1, 1, 1] }, synWithOptions()), [{ tpid: 0x8100, id: 5 }]),
    bounds: [
      { layer: 'link', start: 0, need: 14, required: 14, field: 'header' },
      { layer: 'link', start: 0, need: 18, required: 18, field: 'VLAN tag' },
      { layer: 'ipv4', start: 18, need: 20, required: 20, field: 'header' },
      { layer: 'ipv4', start: 18, need: 28, required: 28, field: 'IHL' },
      { layer: 'tcp', start: 46, need: 14, required: 20, field: 'header' },
    ],
    tcpStart: 46,
  },
  {
    name: 'SLL2 + IPv6 + TCP SYN with options',
    linkType: 276,
    frame: sll2(0x86dd, ipv6({}, synWithOptions())),
    bounds: [
      { layer: 'link', start: 0, need: 20, required: 20, field: 'header' },
      { layer: 'ipv6', start: 20, need: 40, required: 40, field: 'header' },
      { layer: 'tcp', start: 60, need: 14, required: 20, field: 'header' },
    ],
    tcpStart: 60,
  },
  {
    name: 'SLL2 + IPv6 + destination options + TCP SYN with options',
    linkType: 276,
    frame: sll2(0x86dd, ipv6({ next: 60 }, concat(ext6(6, [1, 12, ...new Array(12).fill(0)]), synWithOptions()))),
    bounds: [
      { layer: 'link', start: 0, need: 20, required: 20, field: 'header' },
      { layer: 'ipv6', start: 20, need: 40, required: 40, field: 'header' },
      { layer: 'ipv6', start: 20, need: 42, required: 42, field: 'extension header' },
      { layer: 'ipv6', start: 20, need: 56, required: 56, field: 'header extension length' },
      { layer: 'tcp', start: 76, need: 14, required: 20, field: 'header' },
    ],
    tcpStart: 76,
  },
];

describe('every prefix of a SYN frame', () => {
  for (const c of cases) {
    it(c.name, () => {
      // Put the frame inside a larger buffer, with bytes after it, so only `length` bounds it.
      const lead = 7;
      const buf = concat(new Uint8Array(lead).fill(0xff), c.frame, new Uint8Array(64).fill(0xff));
      const out = createDecodedPacket();
      for (let n = 0; n <= c.frame.length; n++) {
        const status = decodePacket(c.linkType, buf, lead, n, out);
        const label = `${c.name}, ${n} bytes`;
        const bound = c.bounds.find((b) => n < b.start + b.need);
        if (bound !== undefined) {
          expect(status, label).toBe('truncated');
          expect(out.problem, label).toMatchObject({ layer: bound.layer, required: bound.required, available: n - bound.start, field: bound.field });
          continue;
        }
        const tcpBytes = n - c.tcpStart;
        expect(status, label).toBe('tcp');
        expect(out.flags, label).toBe(TCP_SYN);
        expect(out.seq, label).toBe(0xfedcba98);
        expect(out.window, label).toBe(tcpBytes >= 16 ? 64240 : -1);
        expect(out.mss, label).toBe(tcpBytes >= 24 ? 1460 : -1);
        expect(out.sackPermitted, label).toBe(tcpBytes >= 26);
        expect(out.hasTimestamp, label).toBe(tcpBytes >= 36);
        expect(out.tsVal, label).toBe(tcpBytes >= 36 ? 0xdeadbeef : 0);
        expect(out.windowScale, label).toBe(tcpBytes >= 40 ? 7 : -1);
        if (tcpBytes < SYN_HEADER) {
          expect(out.tcpOptionsTruncated, label).toBe(true);
          expect(out.problem, label).toMatchObject({ layer: 'tcp', required: SYN_HEADER, available: tcpBytes, field: 'data offset' });
        } else {
          expect(out.tcpOptionsTruncated, label).toBe(false);
          expect(out.problem, label).toBeNull();
        }
      }
    });
  }

  it('a length past the end of the buffer, or a bad offset, is clamped, never thrown', () => {
    const frame = ethernet(0x0800, ipv4({}, synWithOptions()));
    const out = createDecodedPacket();
    expect(decodePacket(1, frame, 0, frame.length + 100, out)).toBe('tcp');
    expect(decodePacket(1, frame, frame.length + 5, 10, out)).toBe('truncated');
    expect(decodePacket(1, frame, -3, 10, out)).toBe('truncated');
    expect(decodePacket(1, frame, 0, -1, out)).toBe('truncated');
    expect(decodePacket(1, frame, 0, Number.NaN, out)).toBe('truncated');
  });
});

describe('nothing survives from the previous packet', () => {
  const frames: Record<string, [number, Uint8Array]> = {
    'VLAN IPv4 SYN, all options': [
      1,
      ethernet(0x0800, ipv4({ id: 77, ttl: 9 }, tcp({ seq: 5, ack: 6, flags: 0xd2, options: [...opt.mss(1460), ...opt.sackPermitted(), ...opt.ts(1, 2), ...opt.nop(), ...opt.ws(7)], payload: [1, 2] })), [
        { tpid: 0x8100, id: 99 },
      ]),
    ],
    'IPv4 SYN, no options': [1, ethernet(0x0800, ipv4({}, tcp()))],
    'IPv6 SYN-ACK with timestamps': [1, ethernet(0x86dd, ipv6({}, tcp({ flags: 0x12, options: opt.ts(9, 8) })))],
    'IPv4 UDP': [1, ethernet(0x0800, ipv4({ protocol: 17 }, new Uint8Array(8)))],
    'IPv6 ICMPv6': [113, sll(0x86dd, ipv6({ next: 58 }, new Uint8Array(8)))],
    ARP: [1, ethernet(0x0806, new Uint8Array(28))],
    'truncated SYN options': [1, ethernet(0x0800, ipv4({}, synWithOptions())).subarray(0, 60)],
    'malformed data offset': [1, ethernet(0x0800, ipv4({}, tcp({ dataOffset: 2 })))],
    'bad option length': [0, nullLoopback(2, ipv4({}, tcp({ options: [...opt.ws(3), 2, 1, 0, 0] })))],
    'IPv4 fragment': [101, ipv4({ fragmentOffset: 8 }, new Uint8Array(16))],
    'unsupported link': [147, new Uint8Array(60)],
  };
  const names = Object.keys(frames);

  function decodeFresh(name: string): DecodedPacket {
    const [linkType, frame] = frames[name];
    const out = createDecodedPacket();
    decodePacket(linkType, frame, 0, frame.length, out);
    return out;
  }

  it.each(names.flatMap((first) => names.map((second) => [first, second])))('%s, then %s', (first, second) => {
    const out = createDecodedPacket();
    decodePacket(frames[first][0], frames[first][1], 0, frames[first][1].length, out);
    decodePacket(frames[second][0], frames[second][1], 0, frames[second][1].length, out);
    expect(out).toEqual(decodeFresh(second));
  });

  it('after an unsupported link, every field is back to its createDecodedPacket value', () => {
    const out = createDecodedPacket();
    const [linkType, rich] = frames['VLAN IPv4 SYN, all options'];
    decodePacket(linkType, rich, 0, rich.length, out);
    const empty = new Uint8Array(0);
    decodePacket(147, empty, 0, 0, out);
    expect(out).toEqual({ ...createDecodedPacket(), status: 'unsupported-link', buf: empty });
    expect(Object.keys(out).sort()).toEqual(Object.keys(createDecodedPacket()).sort());
  });

  it('a SYN with all options then one without: the options are gone (gopacket TestIPOptResetDuringDecoding)', () => {
    const out = createDecodedPacket();
    const [linkType, first] = frames['VLAN IPv4 SYN, all options'];
    decodePacket(linkType, first, 0, first.length, out);
    expect(out).toMatchObject({ vlan: 99, mss: 1460, windowScale: 7, sackPermitted: true, hasTimestamp: true, tsVal: 1, tsEcr: 2, payloadLength: 2, ipId: 77 });
    const second = frames['IPv4 SYN, no options'][1];
    decodePacket(1, second, 0, second.length, out);
    expect(out).toMatchObject({ vlan: -1, mss: -1, windowScale: -1, sackPermitted: false, hasTimestamp: false, tsVal: 0, tsEcr: 0, payloadLength: 0, ipId: 0x1234 });
  });
});

describe('problems', () => {
  it('one problem object per DecodedPacket, reused; null when there is none', () => {
    const short = ethernet(0x0800, ipv4({}, tcp())).subarray(0, 20);
    const out = createDecodedPacket();
    const other = createDecodedPacket();
    decodePacket(1, short, 0, short.length, out);
    const first = out.problem;
    expect(first).not.toBeNull();
    decodePacket(1, short, 0, 30, other);
    expect(other.problem).not.toBe(first);
    decodePacket(1, short, 0, 10, out);
    expect(out.problem).toBe(first);
    expect(out.problem?.message).toBe('link: truncated: header requires 14 bytes, 10 available');
    const whole = ethernet(0x0800, ipv4({}, tcp()));
    decodePacket(1, whole, 0, whole.length, out);
    expect(out.problem).toBeNull();
  });

  it('a problem serialises with its message', () => {
    const out = createDecodedPacket();
    const packet = ipv4({ ihl: 3 }, tcp());
    decodePacket(228, packet, 0, packet.length, out);
    expect(JSON.parse(JSON.stringify(out.problem))).toEqual({
      layer: 'ipv4',
      required: 0,
      available: 0,
      field: 'IHL',
      message: 'ipv4: malformed IHL (3): IHL must be at least 5',
    });
  });
});

describe('formatAddress', () => {
  function format6(address: string): string {
    const out = createDecodedPacket();
    const packet = ipv6({ src: address }, tcp());
    decodePacket(229, packet, 0, packet.length, out);
    return formatAddress(out, 'src');
  }

  it.each([
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // equal runs: the first
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['2001:DB8:AA:0:0:0:0:BEEF', '2001:db8:aa::beef'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['0:0:0:0:0:ffff:c000:201', '::ffff:192.0.2.1'],
    ['64:ff9b:0:0:0:0:c000:201', '64:ff9b::c000:201'],
  ])('%s -> %s', (input, expected) => {
    expect(ip6(input).length).toBe(16);
    expect(format6(input)).toBe(expected);
  });

  it('IPv4 dotted quad, and empty when there is no IP header', () => {
    const out = createDecodedPacket();
    const packet = ipv4({ src: '0.0.0.0', dst: '255.255.255.255' }, tcp());
    decodePacket(228, packet, 0, packet.length, out);
    expect(formatAddress(out, 'src')).toBe('0.0.0.0');
    expect(formatAddress(out, 'dst')).toBe('255.255.255.255');
    decodePacket(1, ethernet(0x0806, new Uint8Array(28)), 0, 42, out);
    expect(formatAddress(out, 'src')).toBe('');
  });
});
