import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket, formatAddress } from '../../src/decode/packet.js';
import type { DecodedPacket } from '../../src/decode/types.js';
import { concat, ethernet, ipv4, synWithOptions, tcp } from './build.js';

function decodeRaw(packet: Uint8Array, out: DecodedPacket = createDecodedPacket()): DecodedPacket {
  decodePacket(101, packet, 0, packet.length, out);
  return out;
}

describe('IPv4', () => {
  it('decodes the header fields', () => {
    const out = decodeRaw(ipv4({ src: '200.1.2.3', dst: '255.255.255.254', id: 0xbeef, ttl: 57 }, synWithOptions()));
    expect(out.status).toBe('tcp');
    expect(out.ipVersion).toBe(4);
    expect(out.src4).toBe(0xc8010203);
    expect(out.dst4).toBe(0xfffffffe);
    expect(out.src4).toBeGreaterThan(0);
    expect(out.ipId).toBe(0xbeef);
    expect(out.ttl).toBe(57);
    expect(out.srcAddrOffset).toBe(12);
    expect(out.dstAddrOffset).toBe(16);
    expect(out.ipPayloadLength).toBe(40);
    expect(formatAddress(out, 'src')).toBe('200.1.2.3');
    expect(formatAddress(out, 'dst')).toBe('255.255.255.254');
  });

  it('skips options (IHL > 5)', () => {
    const routerAlert = [0x94, 0x04, 0x00, 0x00];
    const timestamp = [0x44, 12, 5, 0, 0, 0, 0, 1, 0, 0, 0, 2];
    const out = decodeRaw(ipv4({ options: [...routerAlert, ...timestamp, 1] }, synWithOptions({ srcPort: 5555 })));
    expect(out.status).toBe('tcp');
    expect(out.srcPort).toBe(5555);
    expect(out.mss).toBe(1460);
    expect(out.ipPayloadLength).toBe(40);
  });

  it('cuts Ethernet padding: a 40-byte SYN in a 60-byte frame has no payload', () => {
    const frame = concat(ethernet(0x0800, ipv4({}, tcp({ flags: 0x02 }))), new Uint8Array(6).fill(0xee));
    expect(frame.length).toBe(60);
    const out = createDecodedPacket();
    expect(decodePacket(1, frame, 0, frame.length, out)).toBe('tcp');
    expect(out.ipPayloadLength).toBe(20);
    expect(out.payloadLength).toBe(0);
  });

  it('reads a total length of 0 as the captured length (segmentation offload, like tshark)', () => {
    const out = decodeRaw(ipv4({ totalLength: 0 }, tcp({ payload: new Uint8Array(1000) })));
    expect(out.status).toBe('tcp');
    expect(out.ipPayloadLength).toBe(1020);
    expect(out.payloadLength).toBe(1000);
  });

  it('reports UDP and ICMP as not-tcp, with the IP fields set', () => {
    const out = decodeRaw(ipv4({ protocol: 17, src: '192.0.2.9' }, new Uint8Array(8)));
    expect(out.status).toBe('not-tcp');
    expect(formatAddress(out, 'src')).toBe('192.0.2.9');
    expect(decodeRaw(ipv4({ protocol: 1 }, new Uint8Array(8))).status).toBe('not-tcp');
  });

  describe('fragments', () => {
    const segment = synWithOptions({ srcPort: 4242 }); // 40 bytes

    it('a first fragment holding the whole TCP header is decoded', () => {
      const out = decodeRaw(ipv4({ moreFragments: true }, segment));
      expect(out.status).toBe('tcp');
      expect(out.srcPort).toBe(4242);
      expect(out.tcpOptionsTruncated).toBe(false);
    });

    it('a first fragment of 8 bytes (ports only) is a fragment', () => {
      const out = decodeRaw(ipv4({ moreFragments: true }, segment.subarray(0, 8)));
      expect(out.status).toBe('fragment');
      expect(out.ipVersion).toBe(4);
      expect(out.flags).toBe(0);
    });

    it('a first fragment of 24 bytes is a SYN whose options are cut, as tshark shows it', () => {
      const out = decodeRaw(ipv4({ moreFragments: true }, segment.subarray(0, 24)));
      expect(out.status).toBe('tcp');
      expect(out.flags).toBe(0x02);
      expect(out.tcpOptionsTruncated).toBe(true);
      expect(out.mss).toBe(1460);
      expect(out.problem).toMatchObject({ layer: 'tcp', required: 40, available: 24, field: 'data offset' });
      expect(out.payloadLength).toBe(0);
    });

    it('a non-first fragment is never TCP, even when its bytes look like a SYN', () => {
      for (const moreFragments of [true, false]) {
        const out = decodeRaw(ipv4({ fragmentOffset: 3, moreFragments }, segment));
        expect(out.status).toBe('fragment');
        expect(out.flags).toBe(0);
        expect(out.srcPort).toBe(0);
      }
    });

    it('the DF bit changes nothing', () => {
      expect(decodeRaw(ipv4({ dontFragment: true }, segment)).status).toBe('tcp');
    });
  });

  describe('malformed and truncated', () => {
    it('IHL 4 is malformed', () => {
      const out = decodeRaw(ipv4({ ihl: 4 }, synWithOptions()));
      expect(out.status).toBe('malformed');
      expect(out.problem).toMatchObject({ layer: 'ipv4', field: 'IHL', required: 0, available: 0 });
      expect(out.problem?.message).toContain('IHL');
    });

    it('IP version 5 is malformed (Ethernet type IPv4, and raw IP)', () => {
      const packet = ipv4({ version: 5 }, synWithOptions());
      const out = createDecodedPacket();
      expect(decodePacket(1, ethernet(0x0800, packet), 0, 14 + packet.length, out)).toBe('malformed');
      expect(out.problem).toMatchObject({ layer: 'ipv4', field: 'version' });
      expect(decodePacket(228, packet, 0, packet.length, out)).toBe('malformed');
      expect(decodePacket(101, packet, 0, packet.length, out)).toBe('malformed');
      expect(out.problem).toMatchObject({ layer: 'link', field: 'version' });
    });

    it('Ethernet type IPv4 carrying version 6 is read as IPv6 (tshark does the same)', () => {
      const out = createDecodedPacket();
      const v6 = concat([0x60, 0, 0, 0, 0, 20, 6, 64], new Uint8Array(32), tcp());
      expect(decodePacket(1, ethernet(0x0800, v6), 0, 14 + v6.length, out)).toBe('tcp');
      expect(out.ipVersion).toBe(6);
    });

    it('a total length below the header length is malformed', () => {
      const out = decodeRaw(ipv4({ totalLength: 19 }, synWithOptions()));
      expect(out.status).toBe('malformed');
      expect(out.problem).toMatchObject({ layer: 'ipv4', field: 'total length' });
    });

    it('options cut by the capture are truncated, bound by IHL', () => {
      const packet = ipv4({ options: [1, 1, 1, 1] }, synWithOptions());
      const out = decodeRaw(packet.subarray(0, 22));
      expect(out.status).toBe('truncated');
      expect(out.problem).toMatchObject({ layer: 'ipv4', required: 24, available: 22, field: 'IHL' });
      decodeRaw(packet.subarray(0, 19), out);
      expect(out.problem).toMatchObject({ layer: 'ipv4', required: 20, available: 19, field: 'header' });
    });

    it('a TCP header longer than the IP payload is malformed', () => {
      const out = decodeRaw(ipv4({ totalLength: 20 + 30 }, synWithOptions()));
      expect(out.status).toBe('malformed');
      expect(out.problem).toMatchObject({ layer: 'tcp', field: 'data offset' });
      decodeRaw(ipv4({ totalLength: 20 + 16 }, synWithOptions()), out);
      expect(out.status).toBe('malformed');
      expect(out.problem).toMatchObject({ layer: 'tcp', field: 'header' });
    });
  });
});
