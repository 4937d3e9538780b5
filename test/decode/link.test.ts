import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket, formatAddress } from '../../src/decode/packet.js';
import type { DecodedPacket } from '../../src/decode/types.js';
import { TCP_SYN } from '../../src/decode/types.js';
import {
  be16,
  cHdlc,
  concat,
  ethernet,
  ethernetSnap,
  fddi,
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

function decode(linkType: number, frame: Uint8Array, out: DecodedPacket = createDecodedPacket()): DecodedPacket {
  decodePacket(linkType, frame, 0, frame.length, out);
  return out;
}

const syn4 = ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }, synWithOptions({ srcPort: 1234, dstPort: 80 }));
const syn6 = ipv6({ src: 'fe80::1', dst: 'fe80::2' }, synWithOptions({ srcPort: 1234, dstPort: 80 }));

function expectSyn4(out: DecodedPacket): void {
  expect(out.status).toBe('tcp');
  expect(out.problem).toBeNull();
  expect(out.ipVersion).toBe(4);
  expect(formatAddress(out, 'src')).toBe('10.0.0.1');
  expect(formatAddress(out, 'dst')).toBe('10.0.0.2');
  expect(out.srcPort).toBe(1234);
  expect(out.dstPort).toBe(80);
  expect(out.flags & TCP_SYN).toBe(TCP_SYN);
  expect(out.mss).toBe(1460);
}

function expectSyn6(out: DecodedPacket): void {
  expect(out.status).toBe('tcp');
  expect(out.problem).toBeNull();
  expect(out.ipVersion).toBe(6);
  expect(formatAddress(out, 'src')).toBe('fe80::1');
  expect(formatAddress(out, 'dst')).toBe('fe80::2');
  expect(out.srcPort).toBe(1234);
  expect(out.flags & TCP_SYN).toBe(TCP_SYN);
}

describe('Ethernet (1)', () => {
  it('decodes IPv4 and IPv6', () => {
    expectSyn4(decode(1, ethernet(0x0800, syn4)));
    expectSyn6(decode(1, ethernet(0x86dd, syn6)));
    expect(decode(1, ethernet(0x0800, syn4)).vlan).toBe(-1);
  });

  it('follows 802.1Q and records the VLAN id', () => {
    const out = decode(1, ethernet(0x0800, syn4, [{ tpid: 0x8100, id: 42, pcp: 5 }]));
    expectSyn4(out);
    expect(out.vlan).toBe(42);
    expect(out.srcAddrOffset).toBe(14 + 4 + 12);
  });

  it('follows QinQ (802.1ad, 0x9100) at any depth and records the outermost id', () => {
    const out = decode(1, ethernet(0x86dd, syn6, [{ tpid: 0x88a8, id: 100 }, { tpid: 0x8100, id: 200 }]));
    expectSyn6(out);
    expect(out.vlan).toBe(100);
    const deep = decode(
      1,
      ethernet(0x0800, syn4, [
        { tpid: 0x9100, id: 7 },
        { tpid: 0x88a8, id: 8 },
        { tpid: 0x8100, id: 9 },
        { tpid: 0x8100, id: 4095 },
      ]),
    );
    expectSyn4(deep);
    expect(deep.vlan).toBe(7);
  });

  it('follows an 802.3 length field with LLC/SNAP', () => {
    expectSyn4(decode(1, ethernetSnap(0x0800, syn4)));
    expectSyn6(decode(1, ethernetSnap(0x86dd, syn6)));
  });

  it('reports 802.3 with plain LLC, ARP and LLDP as not-ip', () => {
    const llc = concat([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], be16(3 + 10), [0x42, 0x42, 0x03], new Uint8Array(10));
    expect(decode(1, llc).status).toBe('not-ip');
    expect(decode(1, ethernet(0x0806, new Uint8Array(28))).status).toBe('not-ip');
    expect(decode(1, ethernet(0x88cc, new Uint8Array(28))).status).toBe('not-ip');
    expect(decode(1, ethernet(0x0806, new Uint8Array(28))).ipVersion).toBe(0);
  });

  it('follows PPPoE session, VN-Tag and MPLS (as found in the corpus)', () => {
    const pppoe = concat([0x11, 0x00], be16(0x1234), be16(2 + syn4.length), be16(0x0021), syn4);
    expectSyn4(decode(1, ethernet(0x8864, pppoe, [{ tpid: 0x88a8, id: 10 }, { tpid: 0x8100, id: 20 }])));
    const vntag = concat([0x80, 0x01, 0x00, 0x02], be16(0x0800), syn4);
    expectSyn4(decode(1, ethernet(0x8926, vntag)));
    const mpls = concat([0x00, 0x01, 0x00, 0x40], [0x00, 0x02, 0x01, 0x40], syn6);
    expectSyn6(decode(1, ethernet(0x8847, mpls)));
    const mplsEthernet = concat([0x00, 0x01, 0x01, 0x40], [0, 0, 0, 0], ethernet(0x0800, syn4));
    expect(decode(1, ethernet(0x8847, mplsEthernet)).status).toBe('not-ip');
  });

  it('reports truncated link headers with the bytes needed', () => {
    const out = decode(1, ethernet(0x0800, syn4).subarray(0, 13));
    expect(out.status).toBe('truncated');
    expect(out.problem).toMatchObject({ layer: 'link', required: 14, available: 13, field: 'header' });
    const tagged = ethernet(0x0800, syn4, [{ tpid: 0x88a8, id: 1 }, { tpid: 0x8100, id: 2 }]);
    decode(1, tagged.subarray(0, 20), out);
    expect(out.problem).toMatchObject({ layer: 'link', required: 22, available: 20, field: 'VLAN tag' });
    expect(out.vlan).toBe(1);
  });
});

describe('Linux cooked captures', () => {
  it('SLL (113): 16-byte header, protocol at 14', () => {
    expectSyn4(decode(113, sll(0x0800, syn4)));
    expectSyn6(decode(113, sll(0x86dd, syn6)));
    expect(decode(113, sll(0x0806, new Uint8Array(28))).status).toBe('not-ip');
    expect(decode(113, sll(0x0800, syn4).subarray(0, 15)).problem).toMatchObject({ layer: 'link', required: 16, available: 15 });
  });

  it('SLL2 (276): 20-byte header, protocol at 0', () => {
    expectSyn4(decode(276, sll2(0x0800, syn4)));
    expectSyn6(decode(276, sll2(0x86dd, syn6)));
    expect(decode(276, sll2(0x0004, new Uint8Array(28))).status).toBe('not-ip');
    expect(decode(276, sll2(0x86dd, syn6).subarray(0, 19)).problem).toMatchObject({ layer: 'link', required: 20, available: 19 });
  });

  it('other link types are unsupported', () => {
    for (const linkType of [105, 127, 129, 144, 147, 177, 192, 65535]) {
      const out = decode(linkType, sll(0x0800, syn4));
      expect(out.status).toBe('unsupported-link');
      expect(out.problem).toBeNull();
    }
  });
});

describe('BSD loopback', () => {
  it('NULL (0): family in either byte order', () => {
    expectSyn4(decode(0, nullLoopback(2, syn4, true)));
    expectSyn4(decode(0, nullLoopback(2, syn4, false)));
    for (const family of [24, 28, 30]) {
      expectSyn6(decode(0, nullLoopback(family, syn6, true)));
      expectSyn6(decode(0, nullLoopback(family, syn6, false)));
    }
    expect(decode(0, nullLoopback(7, syn4)).status).toBe('not-ip');
    expect(decode(0, nullLoopback(2, syn4).subarray(0, 3)).problem).toMatchObject({ layer: 'link', required: 4, available: 3 });
  });

  it('LOOP (108): family in network byte order', () => {
    expectSyn4(decode(108, loop(2, syn4)));
    expectSyn6(decode(108, loop(30, syn6)));
    expect(decode(108, nullLoopback(2, syn4, true)).status).toBe('not-ip');
  });
});

describe('raw IP', () => {
  it('101, 12, 14: the version nibble decides', () => {
    for (const linkType of [101, 12, 14]) {
      expectSyn4(decode(linkType, syn4));
      expectSyn6(decode(linkType, syn6));
    }
  });

  it('228 is IPv4, 229 is IPv6', () => {
    expectSyn4(decode(228, syn4));
    expectSyn6(decode(229, syn6));
    const out = decode(229, syn4);
    expect(out.status).toBe('malformed');
    expect(out.problem).toMatchObject({ layer: 'ipv6', field: 'version' });
    expect(decode(229, syn4.subarray(0, 39)).problem).toMatchObject({ layer: 'ipv6', required: 40, available: 39 });
  });

  it('an empty packet is truncated at the IP layer', () => {
    const out = decode(101, new Uint8Array(0));
    expect(out.status).toBe('truncated');
    expect(out.problem).toMatchObject({ layer: 'ipv4', required: 20, available: 0 });
  });
});

describe('PPP, C-HDLC, IPoIB, NFLOG', () => {
  it('PPP (9): with and without ff 03, 16-bit and compressed protocol', () => {
    expectSyn4(decode(9, ppp(0x0021, syn4)));
    expectSyn6(decode(9, ppp(0x0057, syn6)));
    expectSyn4(decode(9, ppp(0x0021, syn4, false)));
    expectSyn4(decode(9, concat(be16(0x0021), syn4)));
    expect(decode(9, ppp(0xc021, new Uint8Array(10))).status).toBe('not-ip');
    expect(decode(9, new Uint8Array([0xff, 0x03, 0x00])).problem).toMatchObject({
      layer: 'link',
      required: 4,
      available: 3,
      field: 'protocol',
    });
  });

  it('C_HDLC (104): protocol at 2', () => {
    expectSyn4(decode(104, cHdlc(0x0800, syn4)));
    expectSyn6(decode(104, cHdlc(0x86dd, syn6)));
    expect(decode(104, cHdlc(0x8035, new Uint8Array(10))).status).toBe('not-ip');
  });

  it('IPoIB (242): the 44-byte header libpcap writes, ethertype at 40', () => {
    expectSyn4(decode(242, ipoib(0x0800, syn4)));
    expectSyn6(decode(242, ipoib(0x86dd, syn6)));
    expect(decode(242, ipoib(0x0806, new Uint8Array(28))).status).toBe('not-ip');
    expect(decode(242, ipoib(0x0800, syn4).subarray(0, 43)).problem).toMatchObject({ layer: 'link', required: 44, available: 43 });
  });

  it('FDDI (10): 13-byte header then LLC/SNAP', () => {
    expectSyn4(decode(10, fddi(0x0800, syn4)));
    expectSyn6(decode(10, fddi(0x86dd, syn6)));
  });

  it('NFLOG (239): the payload TLV holds the IP packet', () => {
    expectSyn4(decode(239, nflog(2, syn4)));
    expectSyn6(decode(239, nflog(10, syn6)));
    // a frame with no payload TLV
    expect(decode(239, concat([2, 0, 0, 0], [8, 0, 10, 0, 0x61, 0x62, 0x63, 0])).status).toBe('not-ip');
    // a TLV length below 4 is malformed, never a loop
    const bad = decode(239, concat([2, 0, 0, 0], [2, 0, 10, 0], syn4));
    expect(bad.status).toBe('malformed');
    expect(bad.problem).toMatchObject({ layer: 'link', field: 'TLV length' });
  });

  it('NFLOG payload padding is not part of the IP packet', () => {
    const small = ipv4({}, tcp({ payload: [1] })); // 41 bytes: 3 bytes of TLV padding follow
    const out = decode(239, nflog(2, small));
    expect(out.status).toBe('tcp');
    expect(out.payloadLength).toBe(1);
  });
});
