/**
 * The benchmark's capture generator (bench/generate.js): its pairs are read by analyzeCaptures and
 * give the ceiling they were generated with, in both formats; both classic-pcap record loops agree
 * on them. Small inputs: speed is never asserted here (`npm run bench` measures it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript without type declarations
import { generateCapturePair } from '../../bench/generate.js';
import { analyzeCaptures } from '../../src/analyze/index.js';
import { readPcap, readPcapWithParser } from '../../src/read/pcap.js';
import type { PacketRecord } from '../../src/read/types.js';

interface GeneratedPair {
  clientFile: string;
  serverFile: string;
  clientPackets: number;
  serverPackets: number;
  ceiling: number;
  attempts: number;
  established: number;
  failures: number;
  serverClockOffsetMs: number;
}

const dir = mkdtempSync(join(tmpdir(), 'synprobe-generate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PACKETS = 20_000;
const CEILING = 2_000;
const FAILURES = 2;

function generate(format: 'pcap' | 'pcapng', seed = 7): GeneratedPair {
  return generateCapturePair({ dir, packets: PACKETS, ceiling: CEILING, failures: FAILURES, format, seed, name: `g${seed}` }) as GeneratedPair;
}

describe.each(['pcap', 'pcapng'] as const)('generated %s pair', (format) => {
  const pair = generate(format);

  it('has the packets asked for, and the server misses only the lost SYNs', () => {
    expect(pair.clientPackets).toBeGreaterThanOrEqual(PACKETS - 2);
    expect(pair.clientPackets).toBeLessThanOrEqual(PACKETS);
    expect(pair.serverPackets).toBeLessThan(pair.clientPackets);
    expect(pair.serverPackets).toBeGreaterThan(pair.clientPackets * 0.99);
  });

  it('gives analyzeCaptures the ceiling it was generated with', async () => {
    const result = await analyzeCaptures({ clientFile: pair.clientFile, serverFile: pair.serverFile });
    const { summary } = result;
    expect(summary.ceiling).toBe(CEILING);
    expect(summary.attempts).toBe(pair.attempts);
    expect(summary.established).toBe(pair.established);
    expect(summary.firstFailedAttempt).toBe(pair.established + 1);
    expect(summary.verdicts['lost-in-path']).toBe(FAILURES);
    expect(summary.verdicts['established-after-loss']).toBeGreaterThan(0); // the retransmitted SYNs
    expect(summary.verdicts.established + summary.verdicts['established-after-loss']).toBe(pair.established);
    expect(summary.port).toBe(8000);
    expect(summary.clockOffsetMs).toBeCloseTo(pair.serverClockOffsetMs, 0);
    const failed = result.attempts[pair.established]!;
    expect(failed).toMatchObject({ verdict: 'lost-in-path', synSent: 7, synSeen: 0 });
    for (const capture of result.captures) {
      expect(capture.readProblem).toBeNull();
      expect(capture.decode.malformed + capture.decode.truncated).toBe(0);
    }
    expect(result.captures.map((c) => c.packets)).toEqual([pair.clientPackets, pair.serverPackets]);
  });
});

it('is deterministic: the same seed gives the same ceiling and packet counts, another seed other packets', () => {
  const again = generate('pcap', 7);
  const other = generate('pcap', 8);
  const first = generate('pcap', 7);
  expect([again.clientPackets, again.serverPackets]).toEqual([first.clientPackets, first.serverPackets]);
  expect(other.serverPackets).not.toBe(first.serverPackets);
});

it('reads the same records from a generated pcap through the own loop and through pcap-parser', async () => {
  const pair = generate('pcap', 9);
  const digest = async (read: typeof readPcap) => {
    const rows: string[] = [];
    const summary = await read(pair.clientFile, (p: PacketRecord) => {
      const bytes = Buffer.from(p.buf.subarray(p.offset, p.offset + p.caplen)).toString('base64');
      rows.push(`${p.index} ${p.fileOffset} ${p.tsSec}.${p.tsNsec} ${p.caplen}/${p.origLen} ${p.linkType} ${bytes}`);
    });
    return { rows, summary: { ...summary, file: '' } };
  };
  const own = await digest(readPcap);
  const parser = await digest(readPcapWithParser);
  expect(own.rows.length).toBe(pair.clientPackets);
  expect(own.summary).toEqual(parser.summary);
  expect(own.rows).toEqual(parser.rows);
});
