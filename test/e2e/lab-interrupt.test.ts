/**
 * Ctrl-C on `synprobe lab` while the failing attempt is still retransmitting: both captures are
 * stopped cleanly and kept, run.json says the run was interrupted, and the lab is torn down (no
 * namespace, no tcpdump, no sshd left). Needs root and the lab's tools, as lab.test.ts.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/synprobe.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'nft', 'tcpdump', 'ssh']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} missing`;
  }
  if (!existsSync('/usr/sbin/sshd')) return 'sshd missing (openssh-server)';
  if (!existsSync(DIST)) return 'dist/ missing: run npm run build';
  return null;
}
const missing = missingPrerequisite();
if (missing && process.env.CI) throw new Error(`lab interrupt test cannot run in CI: ${missing}`);

const outRoot = mkdtempSync(join(tmpdir(), 'synprobe-e2e-int-'));

describe.skipIf(missing !== null)('synprobe lab, interrupted', () => {
  afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

  it('Ctrl-C while the failing attempt retransmits: captures kept, run.json says so, lab gone', async () => {
    const out = join(outRoot, 'run');
    const child = spawn(process.execPath, [BIN, 'lab', '--limit', '10', '--connect-timeout', '60s', '--format', 'json', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait until the probe runs, then into the failing attempt's retransmissions.
    const deadline = Date.now() + 60_000;
    while (!/probing /.test(stderr)) {
      if (Date.now() > deadline) throw new Error(`the probe never started:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2500));
    child.kill('SIGINT');
    const code = await exited;

    expect(code, stderr).toBe(2);
    for (const f of ['client.pcap', 'server.pcap', 'run.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(run.status).toBe('interrupted');
    expect(run.client.capture.clean).toBe(true);
    expect(run.server.capture.clean).toBe(true);
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('synlab-'));
    expect(namespaces).toEqual([]);
    const left = spawnSync('pgrep', ['-a', 'tcpdump'], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe('');
  }, 150_000);
});
