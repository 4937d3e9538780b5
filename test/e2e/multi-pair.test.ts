/**
 * Beyond one source address and one port (issue #8), end to end through `synprobe lab` in its own
 * namespaces (lab name 'spmp'): the client's ip_local_port_range narrowed to 100 ports shows the
 * local-ports limit reported as such (not as loss) at 100; two --bind addresses, or two ports, reach
 * 200; with the router's cap at 150 (counted over every port) the verdict is lost-in-path at 150,
 * whichever pair the failing attempt used. And `capture --bind auto` takes every address of the
 * interface. Needs root and the tools: fails in CI without them, skips elsewhere.
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingLabPrerequisite } from './helpers.js';
import { startServeInLab } from '../capture/helpers.js';

const BIN = fileURLToPath(new URL('../../bin/synprobe.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/lab/topology.js', import.meta.url));
const NAME = 'spmp';

const missing = missingLabPrerequisite(DIST);
if (missing && process.env.CI) throw new Error(`multi-pair end-to-end suite cannot run in CI: ${missing}`);

const outRoot = mkdtempSync(join(tmpdir(), 'synprobe-e2e-pairs-'));

interface Run { status: number | null; stderr: string; report: any; run: any }

function lab(tag: string, args: string[]): Run {
  const out = join(outRoot, tag);
  const r = spawnSync(process.execPath, [BIN, 'lab', '--name', NAME, ...args, '--format', 'json', '--out', out], { encoding: 'utf8', timeout: 180_000 });
  let report: any = null;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`lab ${args.join(' ')}: no JSON report (exit ${r.status}):\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
  }
  return { status: r.status, stderr: r.stderr, report, run: JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) };
}

function leftovers(): string[] {
  const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`${NAME}-`));
  const procs = spawnSync('pgrep', ['-a', '-f', `${NAME}-sshd|${outRoot}`], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() && !l.includes('pgrep'));
  return [...ns, ...procs];
}

describe.skipIf(missing !== null)('several source addresses and ports, end to end', () => {
  beforeAll(() => { spawnSync(process.execPath, [BIN, 'lab', '--cleanup', '--name', NAME]); });
  afterAll(() => { rmSync(outRoot, { recursive: true, force: true }); });

  it('one source and one port stop at the 100 local ports, reported as a local-ports error, not as loss', () => {
    const r = lab('one', ['--scenario', 'open', '--limit', '300', '--local-ports', '100']);
    expect(r.status).toBe(2); // the run did not reach --max: a limit of this host stopped it
    expect(r.stderr).toMatch(/warn: local ports \(100 ports in ip_local_port_range 40000-40099 × 1 source address × 1 destination port\) on this host allow 100 connections/);
    expect(r.stderr).toMatch(/synprobe: this host ran out of local ports after 100 connections \(EADDRNOTAVAIL/);
    expect(r.run.probe).toMatchObject({ established: 100, attempts: 101, failure: { attempt: 101, code: 'EADDRNOTAVAIL', kind: 'local-limit' } });
    expect(r.run.problems.map((p: any) => p.code)).toEqual(['local-limit']);
    const s = r.report.summary;
    expect(s).toMatchObject({ attempts: 100, established: 100, ceiling: null, lostSynTransmissions: 0, pathLoss: false, clientLimit: { attempt: 101, code: 'EADDRNOTAVAIL' } });
    expect(s.verdicts).toMatchObject({ established: 100, 'lost-in-path': 0 });
    expect(s.sentence).toMatch(/attempt 101 sent no SYN: the client host refused it \(EADDRNOTAVAIL: no free local port\) with 100 connections open, a limit of the client, not of the path/);
    expect(leftovers()).toEqual([]);
  });

  it('two --bind addresses reach 200', () => {
    const r = lab('bind', ['--scenario', 'open', '--limit', '300', '--local-ports', '100', '--sources', '2']);
    expect(r.status).toBe(2);
    expect(r.run.options.bind).toEqual(['198.18.0.3', '198.18.0.4']);
    expect(r.run.probe).toMatchObject({ established: 200, skippedLocalPorts: 0, failure: { code: 'EADDRNOTAVAIL', kind: 'local-limit' } });
    expect(r.run.probe.pairs.map((p: any) => [p.source, p.port, p.established])).toEqual([['198.18.0.3', 8000, 100], ['198.18.0.4', 8000, 100]]);
    expect(r.report.summary).toMatchObject({ attempts: 200, established: 200, pathLoss: false, clientLimit: { attempt: 201 } });
    expect(r.report.summary.pairs.map((p: any) => [p.source, p.port, p.attempts, p.established])).toEqual([['198.18.0.3', 8000, 100, 100], ['198.18.0.4', 8000, 100, 100]]);
    expect(r.stderr).toContain('at most 200 connections can be held on this host; the limit reached first: local ports (100 ports in ip_local_port_range 40000-40099 × 2 source addresses × 1 destination port)');
    expect(leftovers()).toEqual([]);
  });

  it('two ports reach 200', () => {
    const r = lab('ports', ['--scenario', 'open', '--limit', '300', '--local-ports', '100', '--port', '8000-8001']);
    expect(r.status).toBe(2);
    expect(r.run.options.ports).toEqual([8000, 8001]);
    expect(r.run.client.capture.filter).toContain('dst portrange 8000-8001');
    expect(r.run.server.capture.filter).toContain('dst portrange 8000-8001');
    expect(r.run.probe).toMatchObject({ established: 200, failure: { code: 'EADDRNOTAVAIL', kind: 'local-limit' } });
    expect(r.report.summary).toMatchObject({ attempts: 200, established: 200, ports: [8000, 8001], pathLoss: false });
    expect(r.report.summary.pairs.map((p: any) => [p.port, p.established])).toEqual([[8000, 100], [8001, 100]]);
    // both captures saw every SYN of both ports
    expect(r.report.captures.map((c: any) => c.synPackets)).toEqual([200, 200]);
    expect(leftovers()).toEqual([]);
  });

  it('with the router cap at 150 the verdict is lost-in-path at 150, whichever pair failed', () => {
    const r = lab('cap', ['--scenario', 'path-cap', '--limit', '150', '--local-ports', '100', '--sources', '2', '--port', '8000-8001', '--max', '300']);
    expect(r.status).toBe(1);
    const s = r.report.summary;
    expect(s).toMatchObject({ attempts: 151, established: 150, ceiling: 150, firstFailedAttempt: 151, pathLoss: true, clientLimit: null });
    expect(s.verdicts).toMatchObject({ established: 150, 'lost-in-path': 1 });
    expect(s.pairs).toHaveLength(4);
    expect(s.pairs.reduce((n: number, p: any) => n + p.ceiling, 0)).toBe(150);
    const failedPair = s.pairs.filter((p: any) => p.failedHere);
    expect(failedPair).toHaveLength(1);
    const failed = r.report.attempts[150];
    expect(failed).toMatchObject({ index: 151, verdict: 'lost-in-path', synSeen: 0 });
    expect([failed.client.src, failed.client.dstPort]).toEqual([failedPair[0].source, failedPair[0].port]);
    expect(s.sentence).toContain(`Attempt 151: ${failed.synSent} SYN transmissions left ${failed.client.src}:`);
    expect(s.sentence).toContain('while 150 connections were established');
    // --redact hides every source address of every pair, in every format
    const dir = join(outRoot, 'cap');
    for (const format of ['json', 'markdown', 'table']) {
      const red = spawnSync(process.execPath, [BIN, 'analyze', join(dir, 'client.pcap'), join(dir, 'server.pcap'), '--run', join(dir, 'run.json'), '--redact', '--format', format], { encoding: 'utf8' });
      expect(red.status, red.stderr).toBe(1);
      expect(red.stdout).toContain('client-2');
      expect(red.stdout.match(/198\.1[89]\.\d+\.\d+/g), format).toBeNull();
    }
    expect(leftovers()).toEqual([]);
  });

  it('capture --bind auto uses every address of the outgoing interface', async () => {
    const { createLab, destroyLab, inNamespace } = await import(DIST);
    const l = await createLab({ name: NAME, scenario: 'open', limit: 0, clientAddresses: 2 });
    let server: ChildProcess | null = null;
    try {
      server = await startServeInLab(l, BIN);
      const out = join(outRoot, 'auto');
      const argv = inNamespace(l.client.ns, [process.execPath, BIN, 'capture', '--peer', l.peer, '--no-remote', '--bind', 'auto', '--max', '30', '--hold', '0s', '--format', 'json', '--out', out]);
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
      expect(run.client.preflight.sources).toEqual({ addresses: ['198.18.0.2', '198.18.0.3', '198.18.0.4'], how: '--bind auto: the IPv4 addresses of veth-client', missing: [] });
      expect(run.probe.pairs.map((p: any) => [p.source, p.established])).toEqual([['198.18.0.2', 10], ['198.18.0.3', 10], ['198.18.0.4', 10]]);
      const report = JSON.parse(r.stdout);
      expect(report.summary.pairs.map((p: any) => p.source)).toEqual(['198.18.0.2', '198.18.0.3', '198.18.0.4']);
    } finally {
      if (server && server.exitCode === null) {
        const exited = new Promise((r) => server!.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
      await destroyLab(NAME);
    }
    expect(leftovers()).toEqual([]);
  });
});
