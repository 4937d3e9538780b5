/** Analysis on hand-built captures (see synthetic.ts for why these are not real captures). */
import { afterEach, describe, expect, it } from 'vitest';
import { analyzeCaptures } from '../../src/analyze/index.js';
import { exitStatusFor, renderReport } from '../../src/report/index.js';
import { pcapOf, pcapngOf, planSegments, writePair, CLIENT, SERVER } from './synthetic.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function files(client: Buffer, server: Buffer): { client: string; server: string } {
  const pair = writePair({ client, server });
  cleanups.push(pair.remove);
  return pair;
}

describe('analysis on synthetic captures', () => {
  it('calls a SYN that never arrived lost-in-path, with the ceiling and copy counts', async () => {
    const seg = planSegments({ ok: 5, failure: 'lost', failCopies: 4 });
    const f = files(pcapOf(seg.client), pcapngOf(seg.server, { start: 0, end: 20 }));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.summary.attempts).toBe(6);
    expect(r.summary.ceiling).toBe(5);
    expect(r.summary.verdicts['lost-in-path']).toBe(1);
    expect(r.summary.verdicts.established).toBe(5);
    expect(r.summary.lostSynTransmissions).toBe(4);
    expect(r.attempts[5]).toMatchObject({ index: 6, synSent: 4, synSeen: 0, verdict: 'lost-in-path' });
    expect(r.summary.sentence).toBe(
      `Attempt 6: 4 SYN transmissions left ${CLIENT}:40006 over 3.0 s and none reached ${SERVER}:8000 while 5 connections were established. Packets were lost in the network path between the two capture points.`,
    );
    expect(exitStatusFor(r)).toBe(1);
  });

  it('gives no verdict when the server capture reported kernel drops (pcapng ISB)', async () => {
    const seg = planSegments({ ok: 5, failure: 'lost' });
    const f = files(pcapOf(seg.client), pcapngOf(seg.server, { start: 0, end: 20, ifDrop: 3 }));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.summary.verdicts['lost-in-path']).toBe(0);
    expect(r.attempts[5].verdict).toBe('outside-capture');
    expect(r.attempts[5].reason).toMatch(/server capture reported 3 packets dropped by the kernel/);
    expect(r.captures[1]).toMatchObject({ kernelDrops: 3, kernelDropsSource: 'pcapng-isb' });
    expect(r.summary.lostSynTransmissions).toBe(0);
    expect(exitStatusFor(r)).toBe(0);
  });

  it('gives no verdict when the server capture stopped before the SYNs were sent (ISB end time)', async () => {
    const seg = planSegments({ ok: 5, failure: 'lost' });
    const f = files(pcapOf(seg.client), pcapngOf(seg.server, { start: 0, end: 1.07 }));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.attempts[5]).toMatchObject({ verdict: 'outside-capture', reason: 'sent after the server capture stopped' });
  });

  it('gives no verdict for SYNs sent before the server capture started', async () => {
    // The lost attempt comes first, at 0.5 s; the server capture's first packet (its only start) is at 1.01 s.
    const seg = planSegments({ ok: 5, failure: 'lost', failCopies: 1, failAt: 0.5 });
    const f = files(pcapOf(seg.client), pcapOf(seg.server));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.attempts[0]).toMatchObject({ index: 1, verdict: 'outside-capture', reason: 'sent before the server capture started' });
    expect(r.summary.ceiling).toBe(0);
    expect(r.summary.verdicts.established).toBe(5);
    expect(r.warnings.join('\n')).toMatch(/assumed to cover the client capture's whole span/);
  });

  it('refuses to call loss when a middlebox rewrites sequence numbers (nothing correlates)', async () => {
    const seg = planSegments({ ok: 5, failure: 'lost', serverSeq: (isn) => (isn + 12345) >>> 0 });
    const f = files(pcapOf(seg.client), pcapngOf(seg.server, { start: 0, end: 20 }));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.summary.verdicts['lost-in-path']).toBe(0);
    expect(r.attempts[5].verdict).toBe('outside-capture');
    expect(r.warnings.join('\n')).toMatch(/rewrites sequence numbers/);
  });

  it.each([3600, -3600, 7.25, -3.5])('gives the same numbers with the server clock off by %s s', async (shift) => {
    const seg = planSegments({ ok: 5, failure: 'synack-lost', failCopies: 3 });
    const f = files(pcapOf(seg.client), pcapngOf(seg.server, { start: 0, end: 20 }, shift));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.summary.verdicts['synack-lost']).toBe(1);
    expect(r.summary.ceiling).toBe(5);
    expect(r.attempts[5]).toMatchObject({ synSent: 3, synSeen: 3, synAckSent: 3, synAckSeen: 0 });
    // The SYN takes 0.2 ms each way, and the SYN-ACK 0.2 ms back: the bounds bracket the shift.
    expect(r.summary.clockOffsetMs! / 1000).toBeCloseTo(shift, 6);
    expect(r.summary.clockOffsetUncertaintyMs).toBeCloseTo(0.2, 3); // the builder's float seconds round to ~0.1 µs
    expect(r.summary.clockOffsetMethod).toBe('round-trip');
  });

  it('counts a SYN sighted on two interfaces once, and identical packets on one interface twice', async () => {
    const seg = planSegments({ ok: 3, failure: 'unanswered', failCopies: 2, duplicateSightings: true });
    const f = files(pcapngOf(seg.client), pcapngOf(seg.server, { start: 0, end: 20 }));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.captures[0].synPackets).toBe(10);
    expect(r.attempts.map((a) => a.synSent)).toEqual([1, 1, 1, 2]);
    expect(r.attempts[3].verdict).toBe('unanswered-at-server');
    expect(exitStatusFor(r)).toBe(0);
    // The same bytes on one interface are two transmissions (the server's two SYN-ACKs within one ms in the lab).
    const one = files(pcapOf(seg.client), pcapOf(seg.server));
    const r1 = await analyzeCaptures({ clientFile: one.client, serverFile: one.server });
    expect(r1.attempts.map((a) => a.synSent)).toEqual([2, 2, 2, 4]);
  });

  it('counts only connections still open in the ceiling', async () => {
    const seg = planSegments({ ok: 10, failure: 'lost', closed: [2, 4, 6] });
    const f = files(pcapOf(seg.client), pcapngOf(seg.server, { start: 0, end: 20 }));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server });
    expect(r.summary.established).toBe(10);
    expect(r.summary.ceiling).toBe(7);
    expect(r.attempts[1].closedAt).not.toBeNull();
  });

  it('with one capture, reports no-reply and retransmissions without placing them', async () => {
    const seg = planSegments({ ok: 4, failure: 'lost', failCopies: 5 });
    const f = files(pcapOf(seg.client), pcapOf(seg.server));
    const r = await analyzeCaptures({ clientFile: f.client });
    expect(r.captures).toHaveLength(1);
    expect(r.attempts[4]).toMatchObject({ verdict: 'no-reply', synSent: 5, synSeen: null });
    expect(r.summary.lostSynTransmissions).toBe(0);
    expect(r.summary.clockOffsetMs).toBeNull();
    expect(exitStatusFor(r)).toBe(1);
  });

  it('redacts every address in every format', async () => {
    const seg = planSegments({ ok: 2, failure: 'lost' });
    const f = files(pcapOf(seg.client), pcapngOf(seg.server, { start: 0, end: 20 }));
    const r = await analyzeCaptures({ clientFile: f.client, serverFile: f.server, peer: SERVER });
    for (const format of ['table', 'markdown', 'json'] as const) {
      const text = renderReport(r, format, { redact: true });
      expect(text).not.toContain(CLIENT);
      expect(text).not.toContain(SERVER);
      expect(text).toContain('client-1');
      expect(text).toContain('server-1');
      expect(text).not.toContain(f.client);
    }
  });
});
