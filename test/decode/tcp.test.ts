import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket } from '../../src/decode/packet.js';
import type { DecodedPacket } from '../../src/decode/types.js';
import { TCP_ACK, TCP_SYN } from '../../src/decode/types.js';
import { ipv4, opt, tcp, type TcpSpec } from './build.js';

function decodeTcp(spec: TcpSpec, out: DecodedPacket = createDecodedPacket()): DecodedPacket {
  const packet = ipv4({}, tcp(spec));
  decodePacket(228, packet, 0, packet.length, out);
  return out;
}

describe('TCP', () => {
  it('decodes ports, unsigned sequence numbers, all 8 flag bits and the window', () => {
    const out = decodeTcp({ srcPort: 65535, dstPort: 1, seq: 0xffffffff, ack: 0x80000000, flags: 0xff, window: 0xfffe });
    expect(out.status).toBe('tcp');
    expect(out.srcPort).toBe(65535);
    expect(out.dstPort).toBe(1);
    expect(out.seq).toBe(0xffffffff);
    expect(out.ack).toBe(0x80000000);
    expect(out.flags).toBe(0xff);
    expect(out.window).toBe(0xfffe);
    expect((out.seq + 1) >>> 0).toBe(0);
  });

  it('reads MSS, window scale, SACK permitted and timestamps', () => {
    const out = decodeTcp({ flags: TCP_SYN | TCP_ACK, options: [...opt.mss(8960), ...opt.nop(), ...opt.ws(14), ...opt.sackPermitted(), ...opt.ts(0xffffffff, 0x80000001)] });
    expect(out.mss).toBe(8960);
    expect(out.windowScale).toBe(14);
    expect(out.sackPermitted).toBe(true);
    expect(out.hasTimestamp).toBe(true);
    expect(out.tsVal).toBe(0xffffffff);
    expect(out.tsEcr).toBe(0x80000001);
    expect(out.problem).toBeNull();
  });

  it('skips SACK blocks and unknown kinds by their length', () => {
    const out = decodeTcp({
      options: [
        ...opt.raw(30, 12, new Array(10).fill(0x11)), // MPTCP
        ...opt.sack(1000, 2000),
        ...opt.raw(34, 10, new Array(8).fill(0x22)), // TFO cookie
        ...opt.raw(254, 4, [0xf9, 0x89]), // experimental
        ...opt.mss(1400),
      ],
    });
    expect(out.status).toBe('tcp');
    expect(out.mss).toBe(1400);
    expect(out.problem).toBeNull();
  });

  it('stops at EOL', () => {
    const out = decodeTcp({ options: [...opt.ws(2), ...opt.eol(), ...opt.mss(1200), 0, 0, 0] });
    expect(out.windowScale).toBe(2);
    expect(out.mss).toBe(-1);
  });

  it('ignores known options with the wrong length', () => {
    const out = decodeTcp({ options: [...opt.raw(2, 3, [5]), ...opt.raw(8, 6, [0, 0, 0, 1]), ...opt.ws(3)] });
    expect(out.mss).toBe(-1);
    expect(out.hasTimestamp).toBe(false);
    expect(out.windowScale).toBe(3);
  });

  it('computes the payload length from the IP length', () => {
    expect(decodeTcp({ options: opt.mss(1460), payload: new Uint8Array(17) }).payloadLength).toBe(17);
    expect(decodeTcp({}).payloadLength).toBe(0);
  });

  describe('malformed', () => {
    it('data offset 3', () => {
      const out = decodeTcp({ dataOffset: 3 });
      expect(out.status).toBe('malformed');
      expect(out.problem).toMatchObject({ layer: 'tcp', field: 'data offset', required: 0, available: 0 });
    });

    for (const length of [0, 1]) {
      it(`option length ${length}: the SYN stands, parsing stops, the problem is recorded`, () => {
        const out = decodeTcp({ options: [...opt.mss(1460), 3, length, 7, ...opt.sackPermitted()] });
        expect(out.status).toBe('tcp');
        expect(out.flags & TCP_SYN).toBe(TCP_SYN);
        expect(out.mss).toBe(1460);
        expect(out.windowScale).toBe(-1);
        expect(out.sackPermitted).toBe(false);
        expect(out.tcpOptionsTruncated).toBe(false);
        expect(out.problem).toMatchObject({ layer: 'tcp', field: 'option length' });
      });
    }

    it('option length 40: runs past the header', () => {
      const out = decodeTcp({ options: [...opt.sackPermitted(), 2, 40, 5, 180] });
      expect(out.status).toBe('tcp');
      expect(out.sackPermitted).toBe(true);
      expect(out.mss).toBe(-1);
      expect(out.problem).toMatchObject({ layer: 'tcp', field: 'option length' });
      expect(out.problem?.message).toContain('past the header');
    });

    it('an option kind in the last header byte with no room for its length', () => {
      const out = decodeTcp({ options: [1, 1, 1, 2] });
      expect(out.status).toBe('tcp');
      expect(out.problem).toMatchObject({ layer: 'tcp', field: 'option length' });
    });
  });

  describe('cut by the snap length', () => {
    const packet = ipv4({}, tcp({ options: [...opt.mss(1460), ...opt.ws(7), ...opt.nop(), ...opt.ts(5, 6), ...opt.nop(), ...opt.nop()] }));
    const out = createDecodedPacket();

    it('inside the options: still a SYN, options before the cut kept', () => {
      decodePacket(228, packet, 0, 20 + 30, out); // cut inside the timestamps option
      expect(out.status).toBe('tcp');
      expect(out.flags).toBe(TCP_SYN);
      expect(out.mss).toBe(1460);
      expect(out.windowScale).toBe(7);
      expect(out.hasTimestamp).toBe(false);
      expect(out.tcpOptionsTruncated).toBe(true);
      expect(out.problem).toMatchObject({ layer: 'tcp', required: 40, available: 30, field: 'data offset' });
    });

    it('after the flags byte but before the window', () => {
      decodePacket(228, packet, 0, 20 + 14, out);
      expect(out.status).toBe('tcp');
      expect(out.window).toBe(-1);
      expect(out.tcpOptionsTruncated).toBe(true);
    });

    it('before the flags byte: truncated', () => {
      decodePacket(228, packet, 0, 20 + 13, out);
      expect(out.status).toBe('truncated');
      expect(out.problem).toMatchObject({ layer: 'tcp', required: 20, available: 13, field: 'header' });
    });
  });
});
