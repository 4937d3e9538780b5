/**
 * Large capture pairs are read in parallel, the server capture in a worker thread
 * (readHandshakePair in src/analyze/handshakes.ts). Workers run the built JavaScript, so this runs
 * bin/synprobe.js: the same report with the worker (SYNPROBE_READ_THREADS=2), without it (=1), and
 * as chosen by size, on fixtures (clocks seconds apart: the tables' times are rebased), files that
 * are not captures, an empty client capture, and a pair big enough to be read in parallel unasked.
 * bin/synprobe.js starts the worker for `analyze` before the arguments are parsed when two of them
 * are large files (read-worker.ts): it is given the server capture, or ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript without type declarations
import { generateCapturePair } from '../../bench/generate.js';
import { fixture, makeTempDir, requireBuild, runBin } from './helpers.js';

const temp = makeTempDir('synprobe-parallel-');
afterAll(() => temp.remove());

async function both(args: string[]): Promise<void> {
  const one = await runBin(args, { env: { SYNPROBE_READ_THREADS: '1' } });
  const two = await runBin(args, { env: { SYNPROBE_READ_THREADS: '2' } });
  expect(two.stderr).toBe(one.stderr);
  expect(two.code).toBe(one.code);
  expect(two.stdout).toBe(one.stdout);
}

describe('reading the server capture in a worker thread', () => {
  beforeAll(() => requireBuild());

  it.each([
    ['path-cap-client.pcap', 'path-cap-server.pcap'],
    ['path-cap-client.pcap', 'clock-shift-server.pcap'],
    ['path-cap-client.pcap', 'clock-shift-neg-server.pcap'],
    ['sll2-ns-client.pcap', 'sll2-ns-server.pcapng'],
    ['nat-client.pcap', 'nat-server.pcap'],
    ['truncated-client.pcap', 'path-cap-server.pcap'],
  ])('%s + %s: the same report', async (client, server) => {
    await both(['analyze', fixture(client), fixture(server), '--format', 'json']);
    await both(['analyze', fixture(client), fixture(server), '--format', 'markdown', '--redact']);
  }, 60_000);

  it('the same error for a file that is not a capture, on either side', async () => {
    const text = temp.write('not-a-capture.pcap', Buffer.from('hello\n'));
    await both(['analyze', fixture('path-cap-client.pcap'), text]);
    await both(['analyze', text, fixture('path-cap-server.pcap')]);
  }, 60_000);

  it('an empty client capture: the server capture fixes the base second', async () => {
    const empty = temp.write('empty-client.pcap', Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex'));
    await both(['analyze', empty, fixture('clock-shift-server.pcap'), '--format', 'json']);
  }, 60_000);

  it('a small pair and a single file, unasked: no worker (none is started early for small files; =2 starts one, which is ended), the same report', async () => {
    for (const args of [
      ['analyze', fixture('path-cap-client.pcap'), fixture('path-cap-server.pcap'), '--format', 'json'],
      ['analyze', fixture('path-cap-client.pcap'), '--format', 'json'],
    ]) {
      const auto = await runBin(args);
      const one = await runBin(args, { env: { SYNPROBE_READ_THREADS: '1' } });
      expect(auto.stderr).toBe(one.stderr);
      expect(auto.code).toBe(one.code);
      expect(auto.stdout).toBe(one.stdout);
    }
  }, 60_000);

  it('a pair above the size threshold: read in parallel unasked, the same report', async () => {
    const pair = generateCapturePair({ dir: temp.dir, packets: 60_000, ceiling: 6_000, format: 'pcap', seed: 3, name: 'big' }) as { clientFile: string; serverFile: string; clientBytes: number; serverBytes: number };
    expect(Math.min(pair.clientBytes, pair.serverBytes)).toBeGreaterThan(8 << 20);
    const args = ['analyze', pair.clientFile, pair.serverFile, '--format', 'json'];
    const auto = await runBin(args, { timeoutMs: 60_000 });
    const one = await runBin(args, { timeoutMs: 60_000, env: { SYNPROBE_READ_THREADS: '1' } });
    expect(auto.stderr).toBe('');
    expect(auto.stdout).toBe(one.stdout);
    expect(JSON.parse(auto.stdout).summary.ceiling).toBe(6_000);
  }, 120_000);
});
