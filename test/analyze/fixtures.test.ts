/**
 * Every real fixture (fixtures/README.md says how each was made), one table: the numbers a user
 * would read off the report, exact. The lab's cap was 20 connections; the client's
 * tcp_syn_retries was 2, so a failing attempt sends 6 SYN copies on this kernel's schedule.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeCaptures } from '../../src/analyze/index.js';
import type { Verdict } from '../../src/analyze/types.js';
import { exitStatusFor, renderReport } from '../../src/report/index.js';

const dir = fileURLToPath(new URL('../../fixtures/', import.meta.url));

interface Case {
  name: string;
  client: string;
  server: string | null;
  attempts: number;
  ceiling: number | null;
  verdicts: Partial<Record<Verdict, number>>;
  lostSyn: number;
  lostSynAck?: number;
  /** The first failing attempt: [index, SYN sent, SYN seen, SYN-ACK sent, SYN-ACK seen, verdict]. */
  failed: [number, number, number | null, number | null, number, Verdict] | null;
  exit: 0 | 1;
  offsetSec?: number;
  linkTypes?: string[];
}

const cases: Case[] = [
  { name: 'path-cap', client: 'path-cap-client.pcap', server: 'path-cap-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'lost-in-path': 1 }, lostSyn: 6, failed: [21, 6, 0, 0, 0, 'lost-in-path'], exit: 1 },
  { name: 'synack-lost', client: 'synack-lost-client.pcap', server: 'synack-lost-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'synack-lost': 1 }, lostSyn: 0, lostSynAck: 8, failed: [21, 6, 6, 8, 0, 'synack-lost'], exit: 1 },
  { name: 'server-drop', client: 'server-drop-client.pcap', server: 'server-drop-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'unanswered-at-server': 1 }, lostSyn: 0, failed: [21, 6, 6, 0, 0, 'unanswered-at-server'], exit: 0 },
  { name: 'refused', client: 'refused-client.pcap', server: 'refused-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, refused: 1 }, lostSyn: 0, failed: [21, 1, 0, 0, 0, 'refused'], exit: 0 },
  { name: 'lossy', client: 'lossy-client.pcap', server: 'lossy-server.pcap', attempts: 20, ceiling: null, verdicts: { established: 15, 'established-after-loss': 5 }, lostSyn: 10, failed: null, exit: 1 },
  { name: 'nat', client: 'nat-client.pcap', server: 'nat-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'lost-in-path': 1 }, lostSyn: 6, failed: [21, 6, 0, 0, 0, 'lost-in-path'], exit: 1 },
  { name: 'ipv6', client: 'ipv6-client.pcap', server: 'ipv6-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'lost-in-path': 1 }, lostSyn: 6, failed: [21, 6, 0, 0, 0, 'lost-in-path'], exit: 1 },
  { name: 'SLL2 ns pcap vs pcapng', client: 'sll2-ns-client.pcap', server: 'sll2-ns-server.pcapng', attempts: 21, ceiling: 20, verdicts: { established: 20, 'lost-in-path': 1 }, lostSyn: 6, failed: [21, 6, 0, 0, 0, 'lost-in-path'], exit: 1, linkTypes: ['LINUX_SLL2', 'EN10MB'] },
  { name: 'server clock +7.25 s', client: 'path-cap-client.pcap', server: 'clock-shift-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'lost-in-path': 1 }, lostSyn: 6, failed: [21, 6, 0, 0, 0, 'lost-in-path'], exit: 1, offsetSec: 7.25 },
  { name: 'server clock -3.5 s', client: 'path-cap-client.pcap', server: 'clock-shift-neg-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'lost-in-path': 1 }, lostSyn: 6, failed: [21, 6, 0, 0, 0, 'lost-in-path'], exit: 1, offsetSec: -3.5 },
  // The cut removed the last two packets: the 6th SYN copy is gone, the 5 before it stand.
  { name: 'truncated client capture', client: 'truncated-client.pcap', server: 'path-cap-server.pcap', attempts: 21, ceiling: 20, verdicts: { established: 20, 'lost-in-path': 1 }, lostSyn: 5, failed: [21, 5, 0, 0, 0, 'lost-in-path'], exit: 1 },
  { name: 'client capture alone', client: 'path-cap-client.pcap', server: null, attempts: 21, ceiling: 20, verdicts: { established: 20, 'no-reply': 1 }, lostSyn: 0, failed: [21, 6, null, null, 0, 'no-reply'], exit: 1 },
];

describe('analysis of the real fixtures', () => {
  it.each(cases)('$name', async (c) => {
    const r = await analyzeCaptures({ clientFile: dir + c.client, serverFile: c.server ? dir + c.server : null });
    expect(r.summary.attempts).toBe(c.attempts);
    expect(r.summary.port).toBe(8000);
    expect(r.summary.ceiling).toBe(c.ceiling);
    const verdicts = Object.fromEntries(Object.entries(r.summary.verdicts).filter(([, n]) => n > 0));
    expect(verdicts).toEqual(c.verdicts);
    expect(r.summary.lostSynTransmissions).toBe(c.lostSyn);
    expect(r.summary.lostSynAckTransmissions).toBe(c.lostSynAck ?? 0);
    const failed = r.summary.firstFailedAttempt === null ? null : r.attempts[r.summary.firstFailedAttempt - 1];
    expect(failed && [failed.index, failed.synSent, failed.synSeen, failed.synAckSent, failed.synAckSeen, failed.verdict]).toEqual(c.failed);
    expect(exitStatusFor(r)).toBe(c.exit);
    if (c.server) {
      // Hosts share a clock in the lab: the offset is the shift given to the file, within a few µs.
      expect(Math.abs(r.summary.clockOffsetMs! - (c.offsetSec ?? 0) * 1000)).toBeLessThan(0.05);
      expect(r.summary.clockOffsetUncertaintyMs!).toBeLessThan(0.05);
    } else {
      expect(r.summary.clockOffsetMs).toBeNull();
    }
    if (c.linkTypes) expect(r.captures.map((x) => x.linkTypes.join())).toEqual(c.linkTypes);
    for (const format of ['table', 'markdown', 'json'] as const) expect(renderReport(r, format).length).toBeGreaterThan(100);
  });

  it('gives every format the same numbers', async () => {
    const r = await analyzeCaptures({ clientFile: dir + 'nat-client.pcap', serverFile: dir + 'nat-server.pcap' });
    const json = JSON.parse(renderReport(r, 'json'));
    expect(json.summary).toMatchObject({ attempts: 21, ceiling: 20, lostSynTransmissions: 6 });
    expect(json.summary.verdicts['lost-in-path']).toBe(1);
    const md = renderReport(r, 'markdown');
    expect(md).toContain('**Verdict.** Attempt 21: 6 SYN transmissions left 198.18.0.2:');
    expect(md).toContain('none reached 198.19.0.2:8000 while 20 connections were established.');
    expect(md).toContain('| Ceiling | 20 connections open when attempt 21 was sent |');
    const table = renderReport(r, 'table');
    expect(table.split('— never arrived —').length - 1).toBe(6);
  });

  it('matches NAT-rewritten attempts by ISN: the server saw the router address and new ports', async () => {
    const r = await analyzeCaptures({ clientFile: dir + 'nat-client.pcap', serverFile: dir + 'nat-server.pcap' });
    const established = r.attempts.filter((a) => a.verdict === 'established');
    expect(established).toHaveLength(20);
    for (const a of established) {
      expect(a.client.src).toBe('198.18.0.2');
      expect(a.server).toMatchObject({ src: '198.19.0.1', dst: '198.19.0.2', dstPort: 8000 });
      expect(a.server!.srcPort).toBeGreaterThanOrEqual(20000);
      expect(a.server!.srcPort).toBeLessThan(30000);
    }
  });

  it('reports the cut-short client capture with its byte offset and reads up to it', async () => {
    const r = await analyzeCaptures({ clientFile: dir + 'truncated-client.pcap', serverFile: dir + 'path-cap-server.pcap' });
    expect(r.captures[0].readProblem).toMatchObject({ kind: 'cut-short', offset: 6388 });
    expect(r.captures[0].packets).toBe(72);
    expect(r.warnings.join('\n')).toMatch(/truncated-client\.pcap: .* at byte offset 6388; read up to there/);
  });

  it('uses the pcapng interface statistics of dumpcap: coverage bounds and zero drops', async () => {
    const r = await analyzeCaptures({ clientFile: dir + 'sll2-ns-client.pcap', serverFile: dir + 'sll2-ns-server.pcapng' });
    expect(r.captures[1]).toMatchObject({ format: 'pcapng', kernelDrops: 0, kernelDropsSource: 'pcapng-isb', coverEndSource: 'pcapng-isb', nanosecond: true });
    expect(r.captures[0]).toMatchObject({ format: 'pcap', nanosecond: true });
    expect(r.captures[1].coverEnd! > r.captures[1].lastPacketAt!).toBe(true);
  });
});
