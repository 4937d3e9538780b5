/**
 * An output directory that cannot be written. Tests run as root, which ignores file modes, so the
 * directory is a read-only tmpfs mount (the real thing a user can meet: a read-only file system).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareOutDir } from '../../src/run/capture.js';
import { UsageError } from '../../src/cli/io.js';

const root = process.getuid?.() === 0;
if (!root && process.env.CI) throw new Error('outdir tests need root (a read-only mount) and CI runs as root');

describe.skipIf(!root)('an output directory on a read-only file system', () => {
  const base = mkdtempSync(join(tmpdir(), 'synprobe-ro-'));
  const mnt = join(base, 'ro');
  beforeAll(() => {
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mnt]);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    rmSync(base, { recursive: true, force: true });
  });

  it('--out inside it: one clear UsageError naming the directory and EROFS, nothing created', async () => {
    const out = join(mnt, 'run1');
    const err = await prepareOutDir(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(new RegExp(`cannot create --out ${out}: .*EROFS`));
  });

  it('the default name inside it (no --out, run from there): the same, for the timestamped name', async () => {
    const err = await prepareOutDir(null, mnt).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/cannot create .*synprobe-.*EROFS/);
  });
});
