/**
 * Things that are not capture files, or not files: empty, a directory, a FIFO, symbolic links to
 * /dev/zero and to a directory, a missing file, an unreadable file, a 5 GB sparse file, a file
 * name with control characters, a bad --run file. One error line each (no byte offset where no
 * byte could be read), or a report; never a hang, never gigabytes read into memory.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeInProcess, fileErrorLine, fixture, judge, report, requireBuild, runBin } from './helpers.js';

/** On disk (not /dev/shm): the sparse files must not take memory. */
const dir = mkdtempSync(path.join(tmpdir(), 'synprobe-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const at = (name: string) => path.join(dir, name);
const FIVE_GB = 5 * 1024 ** 3;

function sparse(name: string, head: Uint8Array): string {
  const file = at(name);
  writeFileSync(file, head);
  const fd = openSync(file, 'r+');
  try {
    ftruncateSync(fd, FIVE_GB);
  } finally {
    closeSync(fd);
  }
  return file;
}

describe('not a capture file (in-process)', () => {
  it('an empty file', async () => {
    const file = at('empty.pcap');
    writeFileSync(file, '');
    const outcome = await analyzeInProcess([file]);
    expect(outcome).toMatchObject({ code: 2, stdout: '', stderr: `synprobe: ${file}: empty file (at byte offset 0)\n` });
  });

  it('a directory', async () => {
    const outcome = await analyzeInProcess([dir]);
    expect(outcome).toMatchObject({ code: 2, stdout: '', stderr: fileErrorLine(dir, 'not a regular file: a directory') });
  });

  it('a FIFO, as client and as server capture: an error line, no hang (nothing ever writes to it)', async () => {
    const fifo = at('fifo.pcap');
    execFileSync('mkfifo', [fifo]);
    const alone = await analyzeInProcess([fifo], 'json', false, 5000);
    expect(alone).toMatchObject({ code: 2, stderr: fileErrorLine(fifo, 'not a regular file: a FIFO (named pipe)') });
    const asServer = await analyzeInProcess([fixture('path-cap-client.pcap'), fifo], 'json', false, 5000);
    expect(asServer).toMatchObject({ code: 2, stdout: '', stderr: fileErrorLine(fifo, 'not a regular file: a FIFO (named pipe)') });
  });

  it('a symbolic link to /dev/zero', async () => {
    const link = at('zero.pcap');
    symlinkSync('/dev/zero', link);
    const outcome = await analyzeInProcess([link], 'json', false, 5000);
    expect(outcome).toMatchObject({ code: 2, stderr: fileErrorLine(link, 'not a regular file: a character device') });
  });

  it('a symbolic link to a directory', async () => {
    const link = at('dir.pcap');
    symlinkSync('/tmp', link);
    const outcome = await analyzeInProcess([link]);
    expect(outcome).toMatchObject({ code: 2, stderr: fileErrorLine(link, 'not a regular file: a directory') });
  });

  it('a missing file and a dangling symbolic link', async () => {
    const missing = at('missing.pcap');
    expect(await analyzeInProcess([missing])).toMatchObject({ code: 2, stderr: fileErrorLine(missing, 'ENOENT: no such file or directory') });
    const dangling = at('dangling.pcap');
    symlinkSync(at('nowhere'), dangling);
    expect(await analyzeInProcess([dangling])).toMatchObject({ code: 2, stderr: fileErrorLine(dangling, 'ENOENT: no such file or directory') });
  });

  it('/dev/null and /proc/self/status', async () => {
    expect(await analyzeInProcess(['/dev/null'])).toMatchObject({ code: 2, stderr: fileErrorLine('/dev/null', 'not a regular file: a character device') });
    // A /proc file says it is a regular file of 0 bytes.
    expect(await analyzeInProcess(['/proc/self/status'])).toMatchObject({ code: 2, stderr: 'synprobe: /proc/self/status: empty file (at byte offset 0)\n' });
  });

  it('a file name with a newline and a terminal escape: still one line, escaped', async () => {
    const file = at('a\nb\u001b[31m.pcap');
    writeFileSync(file, 'not a capture');
    const outcome = await analyzeInProcess([file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toBe(`synprobe: ${dir}/a\\nb\\x1b[31m.pcap: not a capture file: starts with 6e 6f 74 20 ('not '), text (tcpdump or tshark text output?) (at byte offset 0)\n`);
  });

  it('a pcap whose only record header is all zeros, and one that ends in a zero-filled tail', async () => {
    const header = readFileSync(fixture('path-cap-client.pcap')).subarray(0, 24);
    const zeros = at('zeros.pcap');
    writeFileSync(zeros, Buffer.concat([header, Buffer.alloc(160)]));
    const a = await analyzeInProcess([zeros]);
    expect(judge(a, [zeros])).toBeNull();
    expect(report(a).captures[0]).toMatchObject({ packets: 0, readProblem: { kind: 'corrupt', offset: 24 } });
  });
});

describe('bad --run files (in-process)', () => {
  const client = fixture('path-cap-client.pcap');
  const server = fixture('path-cap-server.pcap');

  it.each([
    ['{"client":{"capture":{"startedAt":5}}}', 'not a run.json written by synprobe capture: client.capture.startedAt is not an ISO-8601 time: 5'],
    ['{"server":{"capture":{"stoppedAt":{"a":1}}}}', 'not a run.json written by synprobe capture: server.capture.stoppedAt is not an ISO-8601 time: {"a":1}'],
    ['{"server":{"capture":{"stoppedAt":"yesterday"}}}', 'not a run.json written by synprobe capture: server.capture.stoppedAt is not an ISO-8601 time: "yesterday"'],
    ['{"client":{"capture":{"droppedByKernel":"lots"}}}', 'not a run.json written by synprobe capture: client.capture.droppedByKernel is not a count: "lots"'],
    ['{"client":{"capture":{"droppedByKernel":-1}}}', 'not a run.json written by synprobe capture: client.capture.droppedByKernel is not a count: -1'],
    ['{"client":{"capture":{"clock":"utc"}}}', 'not a run.json written by synprobe capture: client.capture.clock is neither "own" nor "client-estimated": "utc"'],
    ['{"client":5}', 'not a run.json written by synprobe capture: client is not an object'],
    ['{"client":{"capture":[]}}', 'not a run.json written by synprobe capture: client.capture is not an object'],
    ['[]', 'not a run.json written by synprobe capture: not a JSON object'],
    ['5', 'not a run.json written by synprobe capture: not a JSON object'],
  ])('%s', async (json, message) => {
    const file = at(`run-${Buffer.from(json).toString('hex').slice(0, 40)}.json`);
    writeFileSync(file, json);
    const outcome = await analyzeInProcess([client, server, '--run', file]);
    expect(outcome).toMatchObject({ code: 2, stdout: '', stderr: `synprobe: ${file}: ${message}\n` });
  });

  it('a run.json with nulls and missing parts is read', async () => {
    const file = at('run-nulls.json');
    writeFileSync(file, '{"client":{"capture":{"startedAt":null,"stoppedAt":null,"droppedByKernel":null,"clock":null}},"server":null}');
    const outcome = await analyzeInProcess([client, server, '--run', file]);
    expect([0, 1]).toContain(outcome.code);
  });

  it('a FIFO, a directory and a truncated file as --run', async () => {
    const fifo = at('run-fifo.json');
    execFileSync('mkfifo', [fifo]);
    expect(await analyzeInProcess([client, '--run', fifo], 'json', false, 5000)).toMatchObject({
      code: 2,
      stderr: `synprobe: ${fifo}: cannot read run.json: not a regular file\n`,
    });
    expect(await analyzeInProcess([client, '--run', dir])).toMatchObject({ code: 2, stderr: `synprobe: ${dir}: cannot read run.json: not a regular file\n` });
    const cut = at('run-cut.json');
    writeFileSync(cut, '{"client":{"capt');
    const outcome = await analyzeInProcess([client, '--run', cut]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(new RegExp(`^synprobe: ${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON: [^\\n]+\\n$`));
  });
});

describe('as a subprocess of bin/synprobe.js', () => {
  beforeAll(() => requireBuild());

  it('a FIFO: exits at once, even with a writer holding it open', async () => {
    const fifo = at('fifo-sub.pcap');
    execFileSync('mkfifo', [fifo]);
    const result = await runBin(['analyze', fifo], { timeoutMs: 10_000 });
    expect(result).toMatchObject({ timedOut: false, code: 2, stdout: '', stderr: fileErrorLine(fifo, 'not a regular file: a FIFO (named pipe)') });
  });

  it('an unreadable file (mode 000; tests run as root, who reads anything: so run as nobody)', async () => {
    const open = at('open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const file = path.join(open, 'secret.pcap');
    copyFileSync(fixture('path-cap-client.pcap'), file);
    chmodSync(file, 0o000);
    const asRoot = process.getuid?.() === 0;
    const result = await runBin(['analyze', file], { timeoutMs: 20_000, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    expect(result).toMatchObject({ timedOut: false, code: 2, stdout: '', stderr: fileErrorLine(file, 'EACCES: permission denied') });
  });

  it.each([
    ['a pcap header then 5 GB of zeros', 'sparse-header.pcap', () => readFileSync(fixture('path-cap-client.pcap')).subarray(0, 24), 0, 24],
    ['a whole pcap then zeros to 5 GB', 'sparse-tail.pcap', () => readFileSync(fixture('path-cap-client.pcap')), 74, 6536],
    ['a whole pcapng then zeros to 5 GB', 'sparse-tail.pcapng', () => readFileSync(fixture('sll2-ns-server.pcapng')), 68, 7540],
  ])('%s: a report at once, not 5 GB read', async (_label, name, head, packets, offset) => {
    const file = sparse(name, head());
    const result = await runBin(['analyze', file, '--format', 'json'], { timeoutMs: 30_000 });
    expect(result.timedOut).toBe(false);
    expect(result.stderr).toBe('');
    expect([0, 1]).toContain(result.code);
    const capture = JSON.parse(result.stdout).captures[0];
    expect(capture).toMatchObject({ packets, readProblem: { kind: 'corrupt', offset } });
    expect(result.maxRssKiB!).toBeLessThan(300 * 1024);
  }, 60_000);
});
