import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDumpcapCounts, parseTcpdumpCounts, pcapRecordOffsets } from '../../src/lab/make-fixtures.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

describe('make-fixtures parsers', () => {
  it('reads tcpdump\'s closing counts', () => {
    const stderr = 'tcpdump: listening on veth-client, link-type EN10MB (Ethernet), snapshot length 128 bytes\n74 packets captured\n75 packets received by filter\n1 packet dropped by kernel\n';
    expect(parseTcpdumpCounts(stderr)).toEqual({ captured: 74, received: 75, dropped: 1 });
    expect(parseTcpdumpCounts('tcpdump: killed')).toEqual({ captured: null, received: null, dropped: null });
  });

  it('reads dumpcap\'s closing counts', () => {
    const stderr = "Capturing on 'veth-server'\nFile: x.pcapng\nPackets captured: 66\nPackets received/dropped on interface 'veth-server': 66/2 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (97.0%)\n";
    expect(parseDumpcapCounts(stderr)).toEqual({ captured: 66, received: 66, dropped: 2, interfaceDropped: 2 });
  });

  it('finds pcap records and stops at a cut record', () => {
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    const record = (len: number): Buffer => { const r = Buffer.alloc(16 + len); r.writeUInt32LE(len, 8); r.writeUInt32LE(len, 12); return r; };
    const file = Buffer.concat([header, record(10), record(20), record(30)]);
    expect(pcapRecordOffsets(file)).toEqual([{ offset: 24, inclLen: 10 }, { offset: 50, inclLen: 20 }, { offset: 86, inclLen: 30 }]);
    expect(pcapRecordOffsets(file.subarray(0, 100))).toHaveLength(2);
    expect(() => pcapRecordOffsets(Buffer.alloc(24))).toThrow(/pcap/);
  });
});

interface Expected {
  scenarios: Record<string, { probe: { attempts: number; established: number }; captures: Record<string, { file: string; bytes: number; dropped: number | null }> }>;
  derived: Record<string, Record<string, number | string>>;
}

describe('committed fixtures match expected.json', () => {
  const expected = JSON.parse(readFileSync(`${FIXTURES}expected.json`, 'utf8')) as Expected;

  it('has every capture it describes, byte for byte the size it says, with no kernel drops', () => {
    const scenarios = Object.keys(expected.scenarios).sort();
    expect(scenarios).toEqual(['ipv6', 'lossy', 'nat', 'path-cap', 'refused', 'server-drop', 'sll2-ns', 'synack-lost']);
    for (const rec of Object.values(expected.scenarios)) {
      for (const cap of Object.values(rec.captures)) {
        expect(statSync(`${FIXTURES}${cap.file}`).size).toBe(cap.bytes);
        expect(cap.dropped).toBe(0);
      }
    }
  });

  it('has the derived files: clock-shifted copies and a byte-exact truncation', () => {
    const source = statSync(`${FIXTURES}path-cap-server.pcap`).size;
    for (const f of ['clock-shift-server.pcap', 'clock-shift-neg-server.pcap']) {
      expect(statSync(`${FIXTURES}${f}`).size).toBe(source);
    }
    const t = expected.derived['truncated-client.pcap']!;
    expect(statSync(`${FIXTURES}truncated-client.pcap`).size).toBe(t['bytes']);
    const records = pcapRecordOffsets(readFileSync(`${FIXTURES}truncated-client.pcap`));
    expect(records).toHaveLength(Number(t['completePackets']));
  });

  it('stays small', () => {
    let total = 0;
    for (const rec of Object.values(expected.scenarios)) for (const cap of Object.values(rec.captures)) total += cap.bytes;
    expect(total).toBeLessThan(1_000_000);
  });
});
