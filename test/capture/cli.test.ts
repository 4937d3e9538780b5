/**
 * `synprobe capture` on the command line, in-process: every value is validated before anything
 * runs (injection attempts never execute), preflight refuses a probe a local limit would stop,
 * and the help carries examples.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';

function fakeIO(): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTTY: false,
    exitCode: 0,
    stdout(s: string) { io.out += s; },
    stderr(s: string) { io.err += s; },
  };
  return io;
}

async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIO();
  const code = await main(['node', 'synprobe', 'capture', ...args], io);
  return { code, out: io.out, err: io.err };
}

describe('synprobe capture: arguments', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sptest-cap-cli-'));
  const marker = join(dir, `pwned-${randomBytes(3).toString('hex')}`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const attacks = [`x; touch ${marker}`, `$(touch ${marker})`, `\`touch ${marker}\``, `a' ; touch ${marker} ; '`, `-oProxyCommand=touch ${marker}`];
  const cases: Array<[string, (v: string) => string[]]> = [
    ['--peer', (v) => ['--peer', v]],
    ['--ssh', (v) => ['--peer', '127.0.0.1', '--ssh', v]],
    ['--ssh user', (v) => ['--peer', '127.0.0.1', '--ssh', `${v}@127.0.0.1`]],
    ['--interface', (v) => ['--peer', '127.0.0.1', '--interface', v]],
    ['--remote-interface', (v) => ['--peer', '127.0.0.1', '--remote-interface', v]],
    ['--ssh-option', (v) => ['--peer', '127.0.0.1', `--ssh-option=${v}`]],
    ['--ssh-option ProxyCommand', (v) => ['--peer', '127.0.0.1', `--ssh-option=ProxyCommand=${v.replace(/^[^a-z]+/, '')}`]],
    ['--ssh-option LocalCommand', (v) => ['--peer', '127.0.0.1', '--ssh-option=PermitLocalCommand=yes', `--ssh-option=LocalCommand=${v}`]],
    ['--port', (v) => ['--peer', '127.0.0.1', '--port', v]],
    ['--connect-timeout', (v) => ['--peer', '127.0.0.1', '--connect-timeout', v]],
    ['--max', (v) => ['--peer', '127.0.0.1', '--max', v]],
    ['--bind', (v) => ['--peer', '127.0.0.1', '--bind', v]],
  ];

  it.each(cases)('rejects injection attempts in %s with one line and exit 2; nothing runs', async (_name, make) => {
    for (const attack of attacks) {
      const r = await capture([...make(attack), '--out', join(dir, 'never')]);
      expect(r.code, `${attack}: ${r.err}`).toBe(2);
      expect(r.out).toBe('');
      const lines = r.err.trim().split('\n').filter((l) => !l.startsWith('(run with --help'));
      expect(lines.length, r.err).toBe(1);
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('checks ports, durations and counts', async () => {
    for (const bad of [['--port', '0'], ['--port', '65536'], ['--port', '80x'], ['--connect-timeout', '15'], ['--connect-timeout', '10ms'], ['--hold', '2h'], ['--max', '0'], ['--max', '1e5'], ['--format', 'xml'],
      ['--port', '8003-8000'], ['--port', '8000,'], ['--port', '1-2000'], ['--bind', '10.0.0.5,auto'], ['--bind', ','], ['--bind', '10.0.0.5,10.0.0.300']]) {
      const r = await capture(['--peer', '127.0.0.1', ...bad]);
      expect(r.code, bad.join(' ')).toBe(2);
    }
    const r = await capture(['--peer', '127.0.0.1', '--no-remote', '--ssh', 'root@127.0.0.1']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--no-remote cannot be combined with --ssh/);
  });

  it('refuses a --max above the open-files limit before starting anything, with the fix to type', async () => {
    const soft = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? NaN);
    expect(Number.isFinite(soft) && soft < 9_000_000, 'this test needs a finite open-files limit').toBe(true);
    const out = join(dir, 'refused');
    const r = await capture(['--peer', '127.0.0.1', '--no-remote', '--max', String(soft), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`synprobe: refusing to start: .*may hold ${soft.toLocaleString('en-US')} open files, but --max ${soft.toLocaleString('en-US')} needs .* — fix: run "ulimit -n ${soft + 64}"`));
    expect(readdirSync(out)).toEqual(['run.json']);
    const facts = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(facts.status).toBe('refused');
    expect(facts.phase).toBe('preflight');
    expect(facts.problems.some((p: { code: string; fix?: string }) => p.code === 'preflight-refused' && p.fix?.includes('ulimit -n'))).toBe(true);
    expect(facts.client.capture).toBeNull();
  });

  it('refuses a --bind address that is not on this host, before any capture', async () => {
    const out = join(dir, 'bind-refused');
    const r = await capture(['--peer', '127.0.0.1', '--no-remote', '--max', '10', '--bind', '127.0.0.1,192.0.2.77', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/synprobe: refusing to start: --bind 192\.0\.2\.77: not an address of this host — fix: list the addresses with "ip -br addr"/);
    expect(readdirSync(out)).toEqual(['run.json']);
    const facts = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(facts.options).toMatchObject({ ports: [8000], bind: ['127.0.0.1', '192.0.2.77'] });
    expect(facts.client.preflight.sources).toEqual({ addresses: ['127.0.0.1', '192.0.2.77'], how: '--bind', missing: ['192.0.2.77'] });
  });

  it('has help with what it does and examples', async () => {
    const io = fakeIO();
    const code = await main(['node', 'synprobe', 'capture', '--help'], io);
    expect(code).toBe(0);
    for (const opt of ['--peer', '--port', '--ssh ', '--ssh-option', '--interface', '--remote-interface', '--sudo', '--max', '--connect-timeout', '--hold', '--out', '--no-remote', '--format']) {
      expect(io.out).toContain(opt);
    }
    expect(io.out).toMatch(/Examples:\n\s+synprobe capture --peer 172\.31\.17\.55/);
  });
});
