/**
 * native/build.js, the install step that builds the native connect loop, in a copy of the files it
 * needs (the package's own build/ is left alone): without a working compiler the install goes on
 * with a warning (or fails when SYNPROBE_NATIVE=require); with one it builds, and --if-stale
 * does nothing while the addon is newer than its sources. A broken compiler is CC=/bin/false: a
 * real compiler failing, as a machine without one would make node-gyp fail.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const haveCompiler = spawnSync('cc', ['--version']).status === 0 && spawnSync('make', ['--version']).status === 0;

describe('native/build.js', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synprobe-native-build-'));
  cpSync(join(ROOT, 'native'), join(dir, 'native'), { recursive: true });
  cpSync(join(ROOT, 'binding.gyp'), join(dir, 'binding.gyp'));
  const addon = join(dir, 'build', 'Release', 'synprobe_connect.node');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const build = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [join(dir, 'native', 'build.js'), ...args], {
    encoding: 'utf8', env: { ...process.env, ...env },
  });

  it('a compiler that fails: the install goes on (exit 0) and says what to do; SYNPROBE_NATIVE=require fails it', () => {
    const r = build({ CC: '/bin/false', CXX: '/bin/false', SYNPROBE_NATIVE: '' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/the native connect loop was not built; the probe will use Node's sockets/);
    expect(r.stderr).toMatch(/apt-get install g\+\+ make python3/);
    expect(r.stderr).toMatch(/Error 1/); // make's line, not only node-gyp's
    expect(existsSync(addon)).toBe(false);
    expect(build({ CC: '/bin/false', CXX: '/bin/false', SYNPROBE_NATIVE: 'require' }).status).toBe(1);
  });

  it.skipIf(!haveCompiler && !process.env.CI)('with a compiler: builds the addon; --if-stale rebuilds only when a source is newer', () => {
    const r = build({ SYNPROBE_NATIVE: 'require' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/built the native connect loop/);
    const built = statSync(addon).mtimeMs;
    const again = build({}, '--if-stale');
    expect(again.status).toBe(0);
    expect(again.stderr).toBe('');
    expect(statSync(addon).mtimeMs).toBe(built);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'native', 'connect.c'), later, later);
    const stale = build({}, '--if-stale');
    expect(stale.status).toBe(0);
    expect(stale.stderr).toMatch(/built the native connect loop/);
  });
});
