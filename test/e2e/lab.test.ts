/**
 * The end-to-end suite: every scenario through `synprobe lab` exactly as a user runs it (real
 * namespaces, nftables, tcpdump on both sides, the remote one over a real sshd), asserting the
 * verdicts, the ceiling and the SYN copy counts against the limit the lab set. Needs root and the
 * tools: without them it fails in CI (CI=true) and skips elsewhere, saying why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingLabPrerequisite } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/synprobe.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const missing = missingLabPrerequisite(DIST);
if (missing && process.env.CI) throw new Error(`end-to-end lab suite cannot run in CI: ${missing}`);

interface LabRun {
  status: number | null;
  stderr: string;
  report: any;
  out: string;
}

const outRoot = mkdtempSync(join(tmpdir(), 'synprobe-e2e-'));

function runLab(scenario: string, limit: number): LabRun {
  const out = join(outRoot, scenario);
  const r = spawnSync(process.execPath, [BIN, 'lab', '--scenario', scenario, '--limit', String(limit), '--format', 'json', '--out', out], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  let report: any = null;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`lab ${scenario}: no JSON report (exit ${r.status}):\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
  }
  return { status: r.status, stderr: r.stderr, report, out };
}

function leftovers(): string[] {
  const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('synlab-'));
  const procs = spawnSync('pgrep', ['-a', '-f', 'tcpdump|synlab-sshd'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() && !l.includes('pgrep'));
  return [...ns, ...procs.filter((p) => / -w -| synlab/.test(p))];
}

function failed(r: LabRun): any {
  return r.report.attempts[r.report.summary.firstFailedAttempt - 1];
}

const LIMIT = 12;
// --connect-timeout 4s (the lab's default) on this kernel's schedule: copies at 0, 1, 2, 3 s.
const COPIES = 4;

describe.skipIf(missing !== null)('synprobe lab, end to end', () => {
  beforeAll(() => {
    spawnSync(process.execPath, [BIN, 'lab', '--cleanup']);
  });
  afterAll(() => {
    rmSync(outRoot, { recursive: true, force: true });
  });

  it('path-cap: lost-in-path at the limit, the seed case', () => {
    const r = runLab('path-cap', LIMIT);
    expect(r.status).toBe(1);
    expect(r.report.summary).toMatchObject({ attempts: LIMIT + 1, ceiling: LIMIT, lostSynTransmissions: COPIES });
    expect(r.report.summary.verdicts).toMatchObject({ established: LIMIT, 'lost-in-path': 1 });
    expect(failed(r)).toMatchObject({ index: LIMIT + 1, synSent: COPIES, synSeen: 0, verdict: 'lost-in-path' });
    expect(r.report.captures.map((c: any) => c.kernelDrops)).toEqual([0, 0]);
    expect(r.report.captures.map((c: any) => c.coverEndSource)).toEqual(['run.json', 'run.json']);
    const run = JSON.parse(readFileSync(join(r.out, 'run.json'), 'utf8'));
    expect(run.status).toBe('completed');
    expect(run.probe).toBeTruthy();
    expect(readFileSync(join(r.out, 'report.md'), 'utf8')).toContain('lost in the network path');
    expect(leftovers()).toEqual([]);
  });

  it('synack-lost: the SYNs arrive, the SYN-ACKs never come back', () => {
    const r = runLab('synack-lost', LIMIT);
    expect(r.status).toBe(1);
    expect(r.report.summary).toMatchObject({ ceiling: LIMIT });
    expect(r.report.summary.verdicts).toMatchObject({ established: LIMIT, 'synack-lost': 1 });
    const a = failed(r);
    expect(a).toMatchObject({ synSent: COPIES, synSeen: COPIES, synAckSeen: 0, verdict: 'synack-lost' });
    expect(a.synAckSent).toBeGreaterThanOrEqual(COPIES);
    expect(leftovers()).toEqual([]);
  });

  it('server-drop: the SYNs arrive and the server host drops them', () => {
    const r = runLab('server-drop', LIMIT);
    expect(r.status).toBe(0);
    expect(r.report.summary.verdicts).toMatchObject({ established: LIMIT, 'unanswered-at-server': 1 });
    expect(failed(r)).toMatchObject({ synSent: COPIES, synSeen: COPIES, synAckSent: 0, verdict: 'unanswered-at-server' });
    expect(leftovers()).toEqual([]);
  });

  it('refused: a RST from the path, not loss', () => {
    const r = runLab('refused', LIMIT);
    expect(r.status).toBe(0);
    expect(r.report.summary).toMatchObject({ ceiling: LIMIT, lostSynTransmissions: 0 });
    expect(r.report.summary.verdicts).toMatchObject({ established: LIMIT, refused: 1 });
    expect(failed(r)).toMatchObject({ synSent: 1, synSeen: 0, rstSeen: 1, verdict: 'refused' });
    expect(leftovers()).toEqual([]);
  });

  it('lossy: every connection gets through, some after lost SYNs; no ceiling', () => {
    const r = runLab('lossy', 40);
    expect(r.status).toBe(1);
    const s = r.report.summary;
    expect(s.ceiling).toBeNull();
    expect(s.attempts).toBe(40);
    expect(s.established).toBe(40);
    expect(s.verdicts['established-after-loss']).toBeGreaterThan(0);
    // The router's random drop is the only loss: every retransmission answers a lost copy.
    const retransmissions = r.report.attempts.reduce((n: number, a: any) => n + a.synSent - 1, 0);
    expect(s.lostSynTransmissions).toBe(retransmissions);
    expect(leftovers()).toEqual([]);
  });

  it('nat: lost-in-path, matched by ISN though the server sees the router address and new ports', () => {
    const r = runLab('nat', LIMIT);
    expect(r.status).toBe(1);
    expect(r.report.summary.verdicts).toMatchObject({ established: LIMIT, 'lost-in-path': 1 });
    const ok = r.report.attempts[0];
    expect(ok.server.src).not.toBe(ok.client.src);
    expect(failed(r)).toMatchObject({ synSent: COPIES, synSeen: 0 });
    expect(leftovers()).toEqual([]);
  });

  it('ipv6: lost-in-path over IPv6', () => {
    const r = runLab('ipv6', LIMIT);
    expect(r.status).toBe(1);
    expect(r.report.summary.verdicts).toMatchObject({ established: LIMIT, 'lost-in-path': 1 });
    expect(failed(r).client.dst).toContain(':');
    expect(failed(r)).toMatchObject({ synSent: COPIES, synSeen: 0 });
    expect(leftovers()).toEqual([]);
  });
});
