/**
 * Attempts as records over the handshake tables (src/analyze/attempts.ts) and the JSON writer that
 * streams them (src/report/json.ts): they must read, print and redact exactly as the plain
 * Attempt objects the analysis built before (fixtures/ and `npm run bench` inputs were compared
 * byte for byte when the change was made); here, the properties that keep it so.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeCaptures } from '../../src/analyze/index.js';
import { AttemptRecord } from '../../src/analyze/attempts.js';
import type { AnalysisResult, Attempt } from '../../src/analyze/types.js';
import { renderReport, writeReport } from '../../src/report/index.js';
import { writeJson } from '../../src/report/json.js';
import { Redactor, redactResult } from '../../src/report/redact.js';

const dir = fileURLToPath(new URL('../../fixtures/', import.meta.url));

const PAIRS: Array<[string, string | null]> = [
  ['path-cap-client.pcap', 'path-cap-server.pcap'],
  ['synack-lost-client.pcap', 'synack-lost-server.pcap'],
  ['refused-client.pcap', 'refused-server.pcap'],
  ['lossy-client.pcap', 'lossy-server.pcap'],
  ['nat-client.pcap', 'nat-server.pcap'],
  ['ipv6-client.pcap', 'ipv6-server.pcap'],
  ['sll2-ns-client.pcap', 'sll2-ns-server.pcapng'],
  ['path-cap-client.pcap', 'clock-shift-server.pcap'],
  ['path-cap-client.pcap', null],
];

const ATTEMPT_KEYS = [
  'index', 'isn', 'client', 'server', 'verdict', 'reason', 'synSent', 'synSeen', 'synAckSent', 'synAckSeen', 'rstSeen',
  'established', 'closedAt', 'synSentTimes', 'synSeenTimes', 'synAckSentTimes', 'synAckSeenTimes',
];

function analyze([client, server]: [string, string | null]): Promise<AnalysisResult> {
  return analyzeCaptures({ clientFile: dir + client, serverFile: server ? dir + server : null });
}

/** Every field read through the record's properties, into a plain object. */
function plain(a: Attempt): Attempt {
  return Object.fromEntries(ATTEMPT_KEYS.map((k) => [k, a[k as keyof Attempt]])) as unknown as Attempt;
}

function pieces(r: AnalysisResult): string[] {
  const out: string[] = [];
  writeJson(r, (p) => out.push(p));
  return out;
}

describe('attempt records', () => {
  it.each(PAIRS)('%s + %s: print as the plain attempts they stand for', async (...pair) => {
    const r = await analyze(pair);
    expect(r.attempts.length).toBeGreaterThan(0);
    for (const a of r.attempts) {
      expect(a).toBeInstanceOf(AttemptRecord);
      const json = (a as AttemptRecord).toJSON();
      expect(Object.keys(json)).toEqual(ATTEMPT_KEYS);
      expect(JSON.stringify(a)).toBe(JSON.stringify(plain(a)));
      expect(json).toEqual(plain(a));
      // Each transmission's match points back at it.
      a.synSentTimes.forEach((t, i) => { if (t.match !== null) expect(a.synSeenTimes[t.match].match).toBe(i); });
      a.synAckSentTimes.forEach((t, i) => { if (t.match !== null) expect(a.synAckSeenTimes[t.match].match).toBe(i); });
      expect(a.synSentTimes.length).toBe(a.synSent);
      expect(a.synAckSeenTimes.length).toBe(a.synAckSeen);
      expect(a.synSeenTimes.length).toBe(a.synSeen ?? 0);
    }
    const plainResult = JSON.parse(JSON.stringify(r)) as AnalysisResult;
    for (const format of ['json', 'markdown', 'table'] as const) {
      expect(renderReport(r, format)).toBe(renderReport(plainResult, format));
      expect(renderReport(r, format, { redact: true })).toBe(renderReport(plainResult, format, { redact: true }));
    }
  });

  it('renamed: other 4-tuples and reason, the same times', async () => {
    const r = await analyze(PAIRS[4]);
    const a = r.attempts[0] as AttemptRecord;
    const client = { src: 'client-1', srcPort: 1, dst: 'server-1', dstPort: 2 };
    const b = a.renamed(client, null, 'why');
    expect(b.client).toEqual(client);
    expect(b.server).toBeNull();
    expect(b.reason).toBe('why');
    expect(b.synSentTimes).toEqual(a.synSentTimes);
    expect(b.closedAt).toBe(a.closedAt);
    expect(a.client.src).not.toBe('client-1');
  });

  it('redacts records by renaming them, as it redacts plain attempts', async () => {
    const r = await analyze(PAIRS[4]);
    const redacted = redactResult(r, new Redactor());
    expect(redacted.attempts[0]).toBeInstanceOf(AttemptRecord);
    expect(JSON.stringify(redacted)).toBe(JSON.stringify(redactResult(JSON.parse(JSON.stringify(r)) as AnalysisResult, new Redactor())));
  });
});

describe('the JSON writer', () => {
  it.each(PAIRS)('%s + %s: JSON.stringify\'s text, in pieces', async (...pair) => {
    const r = await analyze(pair);
    const expected = `${JSON.stringify(r, null, 2)}\n`;
    expect(pieces(r).join('')).toBe(expected);
    expect(renderReport(r, 'json')).toBe(expected);
    const written: string[] = [];
    writeReport(r, 'json', { redact: true }, (p) => written.push(p));
    expect(written.join('')).toBe(renderReport(r, 'json', { redact: true }));
    expect(written.join('')).toBe(`${JSON.stringify(redactResult(r, new Redactor()), null, 2)}\n`);
  });

  it('writes plain attempts, no attempts, and many attempts in bounded pieces', async () => {
    const r = JSON.parse(JSON.stringify(await analyze(PAIRS[0]))) as AnalysisResult;
    expect(pieces(r).join('')).toBe(`${JSON.stringify(r, null, 2)}\n`);
    const none = { ...r, attempts: [] };
    expect(pieces(none).join('')).toBe(`${JSON.stringify(none, null, 2)}\n`);
    const many = { ...r, attempts: Array.from({ length: 2000 }, (_, i) => ({ ...r.attempts[i % r.attempts.length], index: i + 1 })) };
    const parts = pieces(many);
    expect(parts.join('')).toBe(`${JSON.stringify(many, null, 2)}\n`);
    expect(parts.length).toBeGreaterThan(10);
    expect(Math.max(...parts.map((p) => p.length))).toBeLessThan(2 * 65536);
  });
});
