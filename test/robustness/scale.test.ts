/**
 * Inputs that are valid but pathological in size: one SYN repeated 20,000 times (a flood tool with
 * a fixed source port and sequence number). The analysis must finish in bounded time and memory.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeLayout } from './mutate.js';
import { BIN, fixture, makeTempDir, requireBuild, runBin } from './helpers.js';

const temp = makeTempDir('synprobe-scale-');
afterAll(() => temp.remove());

/** path-cap-client.pcap's first SYN (packet 4), `copies` times. */
function repeatedSyn(copies: number): string {
  const bytes = readFileSync(fixture('path-cap-client.pcap'));
  const layout = describeLayout(new Uint8Array(bytes)) as { records: { start: number; end: number }[] };
  const syn = bytes.subarray(layout.records[3].start, layout.records[3].end);
  return temp.write(`syn-x${copies}.pcap`, Buffer.concat([bytes.subarray(0, 24), ...Array<Buffer>(copies).fill(syn)]));
}

describe('one SYN 20,000 times', () => {
  beforeAll(() => requireBuild());

  it('as the client capture alone: a report within 20 s', async () => {
    const file = repeatedSyn(20_000);
    const result = await runBin(['analyze', file, '--format', 'json'], { timeoutMs: 60_000 });
    expect(result.timedOut).toBe(false);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout).attempts[0].synSent).toBe(20_000);
    expect(result.maxRssKiB!).toBeLessThan(400 * 1024);
  }, 90_000);

  // Pairing the copies across the two captures once compared every copy with every other (27 s for
  // 20,000 copies); the subprocess timeout is the hang guard, speed itself is for npm run bench.
  it('as both captures: a report, no hang', async () => {
    const file = repeatedSyn(20_000);
    const result = await runBin(['analyze', file, file, '--format', 'json'], { timeoutMs: 120_000 });
    expect(result.timedOut).toBe(false);
    // Every copy reached the "server" and none was answered: unanswered-at-server, not path loss.
    expect(result.code).toBe(0);
    const attempt = JSON.parse(result.stdout).attempts[0];
    expect(attempt).toMatchObject({ synSent: 20_000, synSeen: 20_000, verdict: 'unanswered-at-server' });
  }, 150_000);
});

describe('a reader that goes away (synprobe analyze ... | head -c 10)', () => {
  beforeAll(() => requireBuild());

  it('ends quietly with the run\'s exit status: no EPIPE stack trace', async () => {
    const file = repeatedSyn(20_000); // a 1.7 MB JSON report: written after the reader is gone
    const child = spawn(process.execPath, [BIN, 'analyze', file, '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(1); // the one SYN was never answered: exit 1, as if the report had been read
  }, 60_000);
});
