/**
 * Every file of the public corpus and every fixture through the real CLI: a report (exit 0/1) or
 * exactly one error line `synprobe: <file>: <what> (at byte offset N)` (exit 2); never a stack
 * trace, never a hang. In-process for all of them, as a subprocess of bin/synprobe.js for a sample
 * (with its peak memory).
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CORPUS_FILES_DIR, FIXTURES_DIR, analyzeInProcess, fixture, judge, listCaptures, report, requireBuild, requireCorpus, runBin,
} from './helpers.js';

requireCorpus();

const corpus = listCaptures(CORPUS_FILES_DIR);
const fixtures = listCaptures(FIXTURES_DIR);

/** The corpus files synprobe cannot read at all, and the one line it gives for each. */
const UNREADABLE: Record<string, string> = {
  'libpcap__pcap-invalid-version-1.pcap': 'pcap version 1.4 is not supported (only 2.x) (at byte offset 0)',
  'libpcap__pcapng-invalid-vers-1.pcapng': 'pcapng version 0.1 is not supported (only 1.x) (at byte offset 0)',
  'libpcap__shb-option-too-long.pcapng': 'unreadable pcapng section header: block total length 52 differs from its trailing copy 808464432 (at byte offset 0)',
};

describe('the public corpus through synprobe analyze (in-process)', () => {
  it('holds 80 files', () => {
    expect(corpus).toHaveLength(80);
  });

  it.each(corpus.map((f) => [path.basename(f), f]))('%s', async (name, file) => {
    const outcome = await analyzeInProcess([file], 'json');
    expect(judge(outcome, [file]), outcome.stderr).toBeNull();
    const unreadable = UNREADABLE[name];
    if (unreadable !== undefined) {
      expect(outcome.code).toBe(2);
      expect(outcome.stderr).toBe(`synprobe: ${file}: ${unreadable}\n`);
      return;
    }
    expect([0, 1]).toContain(outcome.code);
    const r = report(outcome);
    expect(r.captures[0].file).toBe(file);
    const problem = r.captures[0].readProblem;
    // A damaged file's report says so in its warnings, with the byte offset.
    if (problem !== null) expect(r.warnings.join('\n')).toContain(`${problem.message} at byte offset ${problem.offset}`);
  });

  it('every corpus file as the server capture of a fixture', async () => {
    const client = fixture('path-cap-client.pcap');
    for (const file of corpus) {
      const outcome = await analyzeInProcess([client, file], 'markdown');
      expect(judge(outcome, [client, file], 'markdown'), `${file}: ${outcome.stderr}`).toBeNull();
    }
  });
});

describe('every fixture through synprobe analyze (in-process)', () => {
  it.each(fixtures.map((f) => [path.basename(f), f]))('%s alone, in every format', async (_name, file) => {
    for (const format of ['json', 'markdown', 'table'] as const) {
      const outcome = await analyzeInProcess([file], format);
      expect(judge(outcome, [file], format), outcome.stderr).toBeNull();
      expect([0, 1]).toContain(outcome.code);
    }
  });

  it('every pair of fixtures, client and server', async () => {
    for (const client of fixtures) {
      for (const server of fixtures) {
        const outcome = await analyzeInProcess([client, server], 'json');
        expect(judge(outcome, [client, server]), `${client} ${server}: ${outcome.stderr}`).toBeNull();
        expect([0, 1]).toContain(outcome.code);
      }
    }
  });
});

describe('a sample as a subprocess of bin/synprobe.js', () => {
  beforeAll(() => requireBuild());

  const sample = [
    ...Object.keys(UNREADABLE),
    'nDPI__fuzz-2021-10-13.pcap', // cut short, FCS bits
    'suricata-verify__bug-6875-01__fuzz.pcap', // absurd caplen
    'suricata-verify__pgsql__pgsql-5000-query-results__input.pcap', // 3 MB, cut short
    'gopacket__be__test202.pcapng', // mixed-endian sections
    'nDPI__sites.pcapng', // 22 interfaces
  ].map((n) => path.join(CORPUS_FILES_DIR, n));
  const pairs = [[fixture('path-cap-client.pcap'), fixture('path-cap-server.pcap')], [fixture('sll2-ns-client.pcap'), fixture('sll2-ns-server.pcapng')]];

  it.each([...sample.map((f) => [f]), ...pairs])('%s', async (...files: string[]) => {
    const result = await runBin(['analyze', ...files, '--format', 'json'], { timeoutMs: 30_000 });
    expect(result.timedOut).toBe(false);
    expect(result.signal).toBeNull();
    expect(judge({ code: result.code ?? -1, stdout: result.stdout, stderr: result.stderr, ms: result.ms }, files), result.stderr).toBeNull();
    const name = path.basename(files[0]);
    if (UNREADABLE[name] !== undefined) expect(result.stderr).toBe(`synprobe: ${files[0]}: ${UNREADABLE[name]}\n`);
    expect(result.maxRssKiB).not.toBeNull();
    expect(result.maxRssKiB!).toBeLessThan(300 * 1024);
  });
});
