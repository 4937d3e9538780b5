/**
 * `synprobe analyze --svg/--png`: the files are written (never through a symlink, never over an
 * existing file unless --overwrite, and then only a regular file), the markdown report names
 * the image, and --redact reaches the picture.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';
import { pngSize } from '../../src/report/picture/index.js';
import { fixtures } from './picture-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'synprobe-picture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, isTTY: false, exitCode: 0 };
  const code = await main(['node', 'synprobe', 'analyze', fixtures + 'path-cap-client.pcap', fixtures + 'path-cap-server.pcap', ...args], io);
  return { code, out, err };
}

describe('analyze --svg / --png', () => {
  it('writes both files and the markdown names the PNG', async () => {
    const svg = join(dir, 'evidence.svg');
    const png = join(dir, 'evidence.png');
    const r = await run('--format', 'markdown', '--svg', svg, '--png', png);
    expect(r.err).toBe('');
    expect(r.code).toBe(1); // path loss, as without the pictures
    expect(r.out).toContain('![synprobe evidence](evidence.png)');
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(pngSize(readFileSync(png))?.width).toBe(1000);
    expect(statSync(png).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  it('names the SVG when only an SVG is written; json output is unchanged', async () => {
    const svg = join(dir, 'only.svg');
    const r = await run('--format', 'markdown', '--svg', svg);
    expect(r.out).toContain('![synprobe evidence](only.svg)');
    const j = await run('--format', 'json', '--svg', join(dir, 'json.svg'));
    expect(JSON.parse(j.out).summary.ceiling).toBe(20);
  });

  it('refuses to overwrite an existing file unless --overwrite, before analysing', async () => {
    const png = join(dir, 'exists.png');
    writeFileSync(png, 'keep me');
    const r = await run('--png', png);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/exists\.png exists: remove it, choose another name, or pass --overwrite/);
    expect(r.out).toBe('');
    expect(readFileSync(png, 'utf8')).toBe('keep me');
    const o = await run('--png', png, '--overwrite', '--format', 'json');
    expect(o.code).toBe(1);
    expect(pngSize(readFileSync(png))?.width).toBe(1000);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('never writes through or replaces a symlink, even with --overwrite', async () => {
    const target = join(dir, 'target.txt');
    writeFileSync(target, 'precious');
    const link = join(dir, 'link.svg');
    symlinkSync(target, link);
    const dangling = join(dir, 'dangling.png');
    symlinkSync(join(dir, 'nowhere.png'), dangling);
    for (const args of [['--svg', link], ['--svg', link, '--overwrite'], ['--png', dangling], ['--png', dangling, '--overwrite']]) {
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/symbolic link: refusing/);
    }
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(readdirSync(dir)).not.toContain('nowhere.png');
  });

  it('refuses a directory and the same file for both', async () => {
    const sub = join(dir, 'sub.png');
    mkdirSync(sub);
    expect((await run('--png', sub, '--overwrite')).err).toMatch(/not a regular file/);
    const same = await run('--svg', join(dir, 'same'), '--png', join(dir, 'same'));
    expect(same.code).toBe(2);
    expect(same.err).toMatch(/same file/);
  });

  it('reports a directory that does not exist as a usage error', async () => {
    const r = await run('--svg', join(dir, 'no', 'such', 'dir.svg'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot create: ENOENT/);
  });

  it('--redact reaches the picture', async () => {
    const svg = join(dir, 'redacted.svg');
    const r = await run('--format', 'markdown', '--redact', '--svg', svg);
    expect(r.code).toBe(1);
    const text = readFileSync(svg, 'utf8');
    for (const addr of ['198.18.0.2', '198.19.0.2']) {
      expect(r.out).not.toContain(addr);
      expect(text).not.toContain(addr);
    }
    expect(text).toContain('client-1');
    // The picture and the report name the hosts alike.
    expect(r.out).toContain('server-1:8000');
    expect(text).toContain('server-1:8000');
  });
});
