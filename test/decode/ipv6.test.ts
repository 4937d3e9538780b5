import { describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket, formatAddress } from '../../src/decode/packet.js';
import type { DecodedPacket } from '../../src/decode/types.js';
import { ah6, concat, ethernet, ext6, frag6, ipv6, synWithOptions, tcp } from './build.js';

function decode6(packet: Uint8Array, out: DecodedPacket = createDecodedPacket()): DecodedPacket {
  decodePacket(229, packet, 0, packet.length, out);
  return out;
}

const HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AH = 51;
const DEST = 60;
const TCP = 6;

describe('IPv6', () => {
  it('decodes the fixed header', () => {
    const out = decode6(ipv6({ src: '2001:db8:0:1::a', dst: 'fe80::1', hopLimit: 3 }, synWithOptions({ dstPort: 22 })));
    expect(out.status).toBe('tcp');
    expect(out.ipVersion).toBe(6);
    expect(out.ipId).toBe(-1);
    expect(out.ttl).toBe(3);
    expect(out.src4).toBe(0);
    expect(out.srcAddrOffset).toBe(8);
    expect(out.dstAddrOffset).toBe(24);
    expect(out.ipPayloadLength).toBe(40);
    expect(out.dstPort).toBe(22);
    expect(formatAddress(out, 'src')).toBe('2001:db8:0:1::a');
    expect(formatAddress(out, 'dst')).toBe('fe80::1');
  });

  it('follows hop-by-hop, destination options and a first fragment header', () => {
    const segment = synWithOptions({ payload: [1, 2, 3] });
    const chain = concat(ext6(DEST, [1, 4, 0, 0, 0, 0]), ext6(FRAGMENT, [5, 2, 0, 0]), frag6(TCP, 0, true), segment);
    const out = decode6(ipv6({ next: HOP }, chain));
    expect(out.status).toBe('tcp');
    expect(out.mss).toBe(1460);
    expect(out.ipPayloadLength).toBe(chain.length);
    expect(out.payloadLength).toBe(3);
  });

  it('follows routing and AH headers', () => {
    const routing = ext6(AH, [0, 0, 0, 0, ...new Array(16).fill(0)]);
    const out = decode6(ipv6({ next: ROUTING }, concat(routing, ah6(TCP), tcp({ flags: 0x12 }))));
    expect(out.status).toBe('tcp');
    expect(out.flags).toBe(0x12);
  });

  it('a non-first fragment is never TCP', () => {
    const out = decode6(ipv6({ next: FRAGMENT }, concat(frag6(TCP, 1, false), synWithOptions())));
    expect(out.status).toBe('fragment');
    expect(out.flags).toBe(0);
  });

  it('a first fragment too short for the TCP flags is a fragment', () => {
    const out = decode6(ipv6({ next: FRAGMENT }, concat(frag6(TCP, 0, true), synWithOptions().subarray(0, 8))));
    expect(out.status).toBe('fragment');
  });

  it('ESP, no next header, UDP and unknown headers are not TCP', () => {
    for (const next of [50, 59, 17, 58, 135]) {
      expect(decode6(ipv6({ next }, new Uint8Array(16))).status).toBe('not-tcp');
    }
    expect(decode6(ipv6({ next: DEST }, concat(ext6(59), new Uint8Array(8)))).status).toBe('not-tcp');
  });

  it('a chain of more than 16 extension headers is malformed', () => {
    const headers = Array.from({ length: 17 }, (_, i) => ext6(i === 16 ? TCP : DEST));
    const out = decode6(ipv6({ next: DEST }, concat(...headers, tcp())));
    expect(out.status).toBe('malformed');
    expect(out.problem).toMatchObject({ layer: 'ipv6', field: 'next header' });
    const sixteen = Array.from({ length: 16 }, (_, i) => ext6(i === 15 ? TCP : DEST));
    expect(decode6(ipv6({ next: DEST }, concat(...sixteen, tcp()))).status).toBe('tcp');
  });

  it('payload length 0 (jumbogram) uses the captured length', () => {
    const out = decode6(ipv6({ payloadLength: 0 }, tcp({ payload: new Uint8Array(100) })));
    expect(out.status).toBe('tcp');
    expect(out.payloadLength).toBe(100);
  });

  it('cuts bytes after the payload length (Ethernet padding)', () => {
    const frame = concat(ethernet(0x86dd, ipv6({}, tcp())), new Uint8Array(12));
    const out = createDecodedPacket();
    decodePacket(1, frame, 0, frame.length, out);
    expect(out.status).toBe('tcp');
    expect(out.payloadLength).toBe(0);
  });

  it('an extension header past the payload length is malformed; one cut by the capture is truncated', () => {
    const packet = ipv6({ next: DEST, payloadLength: 10 }, concat(ext6(TCP, new Array(14).fill(0)), tcp()));
    const out = decode6(packet);
    expect(out.status).toBe('malformed');
    expect(out.problem).toMatchObject({ layer: 'ipv6', field: 'payload length' });

    const whole = ipv6({ next: DEST }, concat(ext6(TCP, new Array(14).fill(0)), tcp()));
    decode6(whole.subarray(0, 41), out);
    expect(out.problem).toMatchObject({ layer: 'ipv6', required: 42, available: 41, field: 'extension header' });
    decode6(whole.subarray(0, 50), out);
    expect(out.problem).toMatchObject({ layer: 'ipv6', required: 56, available: 50, field: 'header extension length' });
  });

  it('version other than 6 is malformed', () => {
    const out = decode6(ipv6({ version: 7 }, tcp()));
    expect(out.status).toBe('malformed');
    expect(out.problem).toMatchObject({ layer: 'ipv6', field: 'version' });
  });
});
