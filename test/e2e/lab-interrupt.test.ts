/**
 * `synprobe lab` interrupted at every step: while the namespaces are built, while sshd starts,
 * and, once capture runs in the client namespace, while it runs its preflight, starts the
 * captures, probes, holds, and analyzes; a second Ctrl-C; and Ctrl-C as a terminal sends it (to
 * the whole process group). After each: exit status 2, one line saying what was interrupted, no
 * namespace of the lab left, no process left in its namespaces (sshd, serve, tcpdump, ssh), and
 * where capture ran, its captures stopped cleanly and run.json saying so.
 *
 * Every run uses a lab name of its own (`--name`), so it never meets the 'synlab' of lab.test.ts
 * or another run. Needs root and the lab's tools; runs the CLI built from src/ (helpers' buildCli).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { destroyLab } from '../../src/lab/topology.js';
import { RUN_JSON_RESERVE, type RunFacts } from '../../src/run/run-facts.js';
import {
  SYN_ONLY, buildCli, canRunWith, childrenOf, countPackets, countPacketsSoFar, netnsInode, processGroup, processesInDeletedNetns, readRunJsonIfWhole, signalPid, spawnCli, uniqueName,
  waitFor, type CliRun,
} from '../capture/helpers.js';

const canRun = canRunWith(['ip', 'nft', 'tcpdump', 'ssh', 'ssh-keygen', '/usr/sbin/sshd']);

const LIMIT = 10;
const SUFFIXES = ['client', 'router', 'server'] as const;

interface LabRun extends CliRun {
  name: string;
  out: string;
  /** Inodes of the lab's namespaces, recorded whenever they were seen. */
  inodes: Set<number>;
}


const readRunJson = (out: string): RunFacts | null => readRunJsonIfWhole<RunFacts>(out);

/** Signals pending for a whole process (ShdPnd in /proc/<pid>/status), as a bit mask. */
function pendingSignals(pid: number): bigint {
  try {
    const m = /^ShdPnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}


function labNamespaces(name: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((ns) => ns.startsWith(`${name}-`));
}

describe.skipIf(!canRun)('synprobe lab, interrupted (root, its own lab names)', () => {
  const outRoot = mkdtempSync(join(tmpdir(), 'sptest-lab-int-'));
  let bin = '';
  const runs: LabRun[] = [];
  const frozen = new Set<number>();

  beforeAll(() => {
    bin = buildCli();
  });

  afterEach(async () => {
    for (const pid of [...frozen]) { signalPid(pid, 'SIGCONT'); frozen.delete(pid); }
    for (const r of runs.splice(0)) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) {
        r.proc.kill('SIGKILL');
        await r.done;
      }
      await destroyLab(r.name).catch(() => undefined); // whatever a failed test left
    }
  });

  afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

  function startLab(extra: string[] = [], opts: { detached?: boolean } = {}): LabRun {
    const name = uniqueName('lab');
    const out = join(outRoot, name);
    const r = spawnCli([process.execPath, bin, 'lab', '--name', name, '--limit', String(LIMIT), '--format', 'json', '--out', out, ...extra], opts);
    const inodes = new Set<number>();
    const note = (): void => {
      for (const s of SUFFIXES) {
        const ino = netnsInode(`${name}-${s}`);
        if (ino !== null) inodes.add(ino);
      }
    };
    r.proc.stderr!.on('data', note);
    const run: LabRun = { ...r, name, out, inodes };
    runs.push(run);
    return run;
  }

  /** The capture child of the lab, once `ip netns exec` has exec'd node (the pid stays). */
  async function capturePid(lab: LabRun): Promise<number> {
    const find = (): { pid: number; args: string[] } | undefined =>
      childrenOf(lab.proc.pid!).find((p) => p.args.includes('capture') && p.args[0] === process.execPath);
    expect(await waitFor(() => find() !== undefined, 10_000, 20), JSON.stringify(childrenOf(lab.proc.pid!))).toBe(true);
    return find()!.pid;
  }

  /** Exit 2, the line that says what was interrupted, no namespace and no process of the lab left. */
  async function expectTornDown(lab: LabRun, code: number | null, sig: string, step: string): Promise<void> {
    expect(code, lab.stderr()).toBe(2);
    expect(lab.stderr()).toContain(`interrupted (${sig}) while ${step}: lab '${lab.name}' torn down, nothing of it left running`);
    expect(labNamespaces(lab.name)).toEqual([]);
    expect(await waitFor(() => processesInDeletedNetns(lab.inodes).length === 0, 5000), JSON.stringify(processesInDeletedNetns(lab.inodes))).toBe(true);
  }

  /** capture's run.json: interrupted by `sig` in `phase`, every capture that started stopped cleanly. */
  function expectCaptureInterrupted(lab: LabRun, sig: string, phase: string): RunFacts {
    const facts = readRunJson(lab.out);
    expect(facts, lab.stderr()).not.toBeNull();
    expect(facts!.status).toBe('interrupted');
    expect(facts!.interrupted).toMatchObject({ signal: sig, phase });
    for (const c of [facts!.client.capture, facts!.server?.capture]) if (c) expect(c.clean, c.problem ?? '').toBe(true);
    for (const f of ['client.pcap', 'server.pcap']) if (existsSync(join(lab.out, f))) countPackets(join(lab.out, f), 'tcp'); // readable
    return facts!;
  }

  it('Ctrl-C while the namespaces are being built: they are removed, nothing else was started', async () => {
    const lab = startLab();
    await lab.waitStderr(/^building lab /m);
    lab.proc.kill('SIGINT');
    const code = await lab.done;
    await expectTornDown(lab, code, 'SIGINT', 'building the lab');
    expect(lab.stderr()).not.toMatch(/synprobe serve listening|running in/);
    expect(existsSync(join(lab.out, 'run.json'))).toBe(false);
  }, 60_000);

  it('SIGTERM while sshd starts: sshd, serve and the namespaces are gone, capture never ran', async () => {
    const lab = startLab();
    await lab.waitStderr(/synprobe serve listening/);
    lab.proc.kill('SIGTERM');
    const code = await lab.done;
    await expectTornDown(lab, code, 'SIGTERM', 'starting sshd');
    expect(lab.stderr()).not.toMatch(/running in /);
    expect(lab.inodes.size).toBe(3);
  }, 60_000);

  const capturePhases: Array<[string, RegExp, 'SIGINT' | 'SIGTERM']> = [
    ['preflight', /^preflight \.\.\./m, 'SIGINT'],
    ['capture-start', /capturing on this host/, 'SIGTERM'],
    ['holding', /holding for/, 'SIGTERM'],
  ];
  for (const [phase, when, sig] of capturePhases) {
    it(`${sig} while capture is at ${phase}: passed on to capture (the same signal), which stops cleanly; the lab is torn down`, async () => {
      const lab = startLab();
      await lab.waitStderr(when, 90_000);
      lab.proc.kill(sig);
      const code = await lab.done;
      await expectTornDown(lab, code, sig, 'running capture');
      const facts = expectCaptureInterrupted(lab, sig, phase);
      if (phase === 'holding') {
        // the probe ran to its end, and the evidence was analyzed
        expect(facts.probe).toMatchObject({ attempts: LIMIT + 1, established: LIMIT, stoppedBy: 'failure' });
        expect(JSON.parse(lab.stdout()).summary.firstFailedAttempt).toBe(LIMIT + 1);
      } else {
        expect(facts.probe).toBeNull();
        expect(lab.stderr()).toContain(`synprobe: interrupted while ${phase}, before the probe started`);
      }
      console.log(`[lab, ${sig} at ${phase}] exit ${code}; run.json ${facts.status} (${facts.interrupted?.signal} while ${facts.interrupted?.phase})`);
    }, 120_000);
  }

  /** Waits until the attempt past the cap has retransmitted its SYN (client.pcap: LIMIT + 2 SYNs). */
  async function expectRetransmitting(out: string): Promise<void> {
    expect(await waitFor(() => countPacketsSoFar(join(out, 'client.pcap'), SYN_ONLY) >= LIMIT + 2, 20_000, 200)).toBe(true);
  }

  it('Ctrl-C while the failing attempt retransmits: captures kept, run.json says so, lab gone', async () => {
    const lab = startLab(['--connect-timeout', '60s']);
    await lab.waitStderr(/probing /, 90_000);
    await expectRetransmitting(lab.out);
    lab.proc.kill('SIGINT');
    const code = await lab.done;
    await expectTornDown(lab, code, 'SIGINT', 'running capture');
    const facts = expectCaptureInterrupted(lab, 'SIGINT', 'probing');
    expect(countPackets(join(lab.out, 'server.pcap'), SYN_ONLY)).toBe(LIMIT);
    expect(facts.probe!.stoppedBy).toBe('aborted');
  }, 120_000);

  it('Ctrl-C twice while probing: the second one does not cut the stop or the teardown short', async () => {
    const lab = startLab(['--connect-timeout', '60s']);
    await lab.waitStderr(/probing /, 90_000);
    await expectRetransmitting(lab.out);
    lab.proc.kill('SIGINT');
    await lab.waitStderr(/interrupted \(SIGINT\) while probing: stopping the captures/);
    lab.proc.kill('SIGINT');
    const code = await lab.done;
    expect(lab.stderr()).toMatch(/still stopping the capture and tearing the lab down; SIGINT once more quits at once/);
    await expectTornDown(lab, code, 'SIGINT', 'running capture');
    expectCaptureInterrupted(lab, 'SIGINT', 'probing');
  }, 120_000);

  it('Ctrl-C as a terminal sends it (SIGINT to every process of the lab\'s group): only the lab gets it, capture once, serve keeps the connections held until the captures stop', async () => {
    const lab = startLab(['--connect-timeout', '60s'], { detached: true });
    await lab.waitStderr(/probing /, 90_000);
    await expectRetransmitting(lab.out);
    const group = processGroup(lab.proc.pid!);
    expect(group).toContain(lab.proc.pid!);
    const members = group.map((pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 3).join(' '); } catch { return '?'; } });
    for (const pid of group) signalPid(pid, 'SIGINT');
    const code = await lab.done;
    await expectTornDown(lab, code, 'SIGINT', 'running capture');
    expectCaptureInterrupted(lab, 'SIGINT', 'probing');
    // capture was told once (by the lab): no "still stopping" warning
    expect(lab.stderr()).not.toMatch(/still stopping the captures/);
    // no connection was closed by the server before both captures stopped
    expect(countPackets(join(lab.out, 'server.pcap'), 'tcp src port 8000 and tcp[tcpflags] & (tcp-fin|tcp-rst) != 0')).toBe(0);
    expect(countPackets(join(lab.out, 'server.pcap'), SYN_ONLY)).toBe(LIMIT);
    console.log(`[lab, terminal Ctrl-C] the group: ${members.join('; ')}`);
  }, 120_000);

  it('Ctrl-C while capture analyzes: the analysis completes and is printed, run.json was already final, the lab is torn down', async () => {
    const lab = startLab();
    await lab.waitStderr(/running in /, 60_000);
    const capture = await capturePid(lab);
    await lab.waitStderr(/stopped the capture on the peer/, 90_000);
    // run.json is cut to its length by its last write, just before the analysis: freeze capture
    // there (a tight poll on the size), then make sure it is inside the analysis (no report yet)
    const runJson = join(lab.out, 'run.json');
    const deadline = Date.now() + 30_000;
    while (statSync(runJson).size >= RUN_JSON_RESERVE && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    frozen.add(capture);
    signalPid(capture, 'SIGSTOP');
    expect(existsSync(join(lab.out, 'report.md')), 'capture was frozen too late: the analysis was over').toBe(false);
    expect(readRunJson(lab.out)!.status).toBe('completed');

    lab.proc.kill('SIGINT');
    // the lab passed it on: SIGINT (bit 1) pending for the frozen capture
    expect(await waitFor(() => (pendingSignals(capture) & 2n) !== 0n, 5000, 10)).toBe(true);
    signalPid(capture, 'SIGCONT');
    frozen.delete(capture);
    const code = await lab.done;
    await expectTornDown(lab, code, 'SIGINT', 'running capture');
    const report = JSON.parse(lab.stdout());
    expect(report.summary.firstFailedAttempt).toBe(LIMIT + 1);
    expect(existsSync(join(lab.out, 'report.md'))).toBe(true);
    const facts = readRunJson(lab.out)!;
    expect(facts.status).toBe('completed');
    expect(facts.interrupted).toBeNull();
    console.log(`[lab, SIGINT while analyzing] exit ${code}; run.json ${facts.status}; report: attempt ${report.summary.firstFailedAttempt} ${report.attempts[LIMIT].verdict}`);
  }, 120_000);
});
