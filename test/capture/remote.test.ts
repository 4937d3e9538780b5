/**
 * `synprobe capture` end to end, as users run it: the built CLI in the lab's client namespace,
 * a real `synprobe serve` and a real OpenSSH server in the server namespace, real tcpdump on
 * both sides, and the router's table-limited firewall making the ceiling. Then the faults:
 * Ctrl-C, the local ssh killed, ssh refusing, a bad remote interface.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inNamespace } from '../../src/lab/topology.js';
import { RUN_JSON_RESERVE, type RunFacts } from '../../src/run/run-facts.js';
import {
  SYN_ONLY, canRunWith, childrenOf, countPackets, countPacketsSoFar, run, tcpdumpsIn, waitFor, type CliRun,
} from './helpers.js';
import { RemoteCaptureLab } from './remote-lab.js';

const canRun = canRunWith(['ip', 'nft', 'tcpdump', 'ssh', 'ssh-keygen', '/usr/sbin/sshd']);

const LIMIT = 20;

describe.skipIf(!canRun)('synprobe capture through a real sshd (root, lab namespaces)', () => {
  const fx = new RemoteCaptureLab('cap', LIMIT);
  const startCli = (args: string[]): CliRun => fx.startCli(args);
  const newOut = (): string => fx.newPath();
  const expectNothingLeft = (): Promise<void> => fx.expectNothingLeft();

  function baseArgs(out: string, connectTimeout = '3s'): string[] {
    return ['--peer', fx.lab.peer, '--port', String(fx.lab.port), ...fx.sshArgs(), '--connect-timeout', connectTimeout, '--hold', '1s', '--format', 'json', '--out', out];
  }

  function runJson(out: string): RunFacts {
    return JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunFacts;
  }

  afterEach(() => fx.stopRunning());

  it('finds the ceiling: the first attempt past the cap is lost in the path, both pcaps hold the evidence, nothing is left running', async () => {
    const out = newOut();
    const cli = startCli([...baseArgs(out), '--max', String(LIMIT + 30)]);
    const code = await cli.done;
    expect(cli.stderr()).toMatch(/capturing on the peer: tcpdump -i veth-server \(listening, streamed over ssh\)/);
    expect(code, cli.stderr()).toBe(1);
    const report = JSON.parse(cli.stdout());
    expect(report.summary.ceiling).toBe(LIMIT);
    expect(report.summary.firstFailedAttempt).toBe(LIMIT + 1);
    const failed = report.attempts[LIMIT];
    expect(failed.verdict).toBe('lost-in-path');
    expect(failed.synSent).toBeGreaterThanOrEqual(2);
    expect(failed.synSeen).toBe(0);
    expect(report.summary.lostSynTransmissions).toBe(failed.synSent);

    // both captures: readable pcaps; the server one has the SYNs that arrived, and no ssh at all
    expect(readdirSync(out).sort()).toEqual(['client.pcap', 'evidence.png', 'evidence.svg', 'report.md', 'run.json', 'server.pcap']);
    const server = join(out, 'server.pcap');
    expect(countPackets(server, SYN_ONLY)).toBe(LIMIT);
    expect(countPackets(server, 'port 22')).toBe(0);
    expect(countPackets(join(out, 'client.pcap'), SYN_ONLY)).toBe(LIMIT + failed.synSent);
    expect(countPackets(join(out, 'client.pcap'), 'port 22')).toBe(0);

    const facts = runJson(out);
    expect(facts.status).toBe('completed');
    expect(facts.problems).toEqual([]);
    expect(facts.probe).toMatchObject({ attempts: LIMIT + 1, established: LIMIT, stoppedBy: 'failure' });
    for (const side of [facts.client, facts.server!]) {
      const c = side.capture!;
      expect(c).toMatchObject({ clean: true, exitCode: 0, droppedByKernel: 0, clock: 'own', problem: null });
      expect(c.captured).toBeGreaterThan(0);
      expect(c.startedAt! < c.stoppedAt!).toBe(true);
      expect(c.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      expect(side.preflight!.findings.some((f) => f.id === 'syn-timing')).toBe(true);
      expect(side.counters.diff).not.toBeNull();
    }
    expect(facts.server!.capture!.filter).toMatch(/and not \(host \S+ and port \d+ and host \S+ and port 22\)/);
    expect(facts.client.counters.diff!.nstat['TcpExtTCPSynRetrans']).toBeGreaterThanOrEqual(1);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/lost-in-path[\s\S]*### Capture runs/);
    await expectNothingLeft();
  });

  for (const [signal, label] of [['SIGINT', 'Ctrl-C'], ['SIGTERM', 'SIGTERM']] as const) it(`${label} while probing: both captures stopped cleanly and kept, run.json says so, nothing left running`, async () => {
    const out = newOut();
    const cli = startCli([...baseArgs(out, '60s'), '--max', String(LIMIT + 30)]);
    await cli.waitStderr(/probing/);
    // the attempt past the cap now retransmits for up to 60 s: interrupt after its first retransmission
    expect(await waitFor(() => countPacketsSoFar(join(out, 'client.pcap'), SYN_ONLY) >= LIMIT + 2, 20_000, 200)).toBe(true);
    cli.proc.kill(signal);
    const code = await cli.done;
    expect(cli.stderr()).toMatch(new RegExp(`interrupted \\(${signal}\\) while probing`));
    const facts = runJson(out);
    expect(facts.status).toBe('interrupted');
    expect(facts.interrupted).toMatchObject({ signal, phase: 'probing' });
    expect(facts.probe!.stoppedBy).toBe('aborted');
    expect(facts.client.capture!.clean).toBe(true);
    expect(facts.server!.capture!.clean).toBe(true);
    // the captures completed: the exit status is the analysis' (the unanswered SYN is loss)
    const report = JSON.parse(cli.stdout());
    const why = JSON.stringify({ summary: report.summary, last: report.attempts.slice(-2), captures: report.captures.map((c: Record<string, unknown>) => [c['coverStart'], c['coverEnd'], c['coverEndSource']]), warnings: report.warnings, run: [facts.client.capture, facts.server!.capture].map((c) => [c!.startedAt, c!.stoppedAt]) });
    // (on a loaded machine the analysis may decline to call the last SYN lost: then 0, never 2)
    expect(code, why).toBe(report.summary.pathLoss ? 1 : 0);
    expect(report.summary.attempts).toBe(LIMIT + 1);
    expect(report.attempts[LIMIT].synSeen).toBe(0);
    expect(countPackets(join(out, 'server.pcap'), SYN_ONLY)).toBe(LIMIT);
    await expectNothingLeft();
  });

  for (const which of ['master', 'capture channel'] as const) {
    it(`the local ssh ${which} killed mid-run: the peer's tcpdump stops by itself, the run ends with a clear error, files kept`, async () => {
      const out = newOut();
      const cli = startCli([...baseArgs(out, '60s'), '--max', String(LIMIT + 30)]);
      await cli.waitStderr(/probing/);
      // killed while the attempt past the cap retransmits, once the SYNs that arrived were streamed back
      await waitFor(() => countPacketsSoFar(join(out, 'server.pcap'), SYN_ONLY) >= LIMIT && countPacketsSoFar(join(out, 'client.pcap'), SYN_ONLY) > LIMIT, 20_000, 200);
      expect(tcpdumpsIn(fx.lab.server.ns)).toHaveLength(1);
      const ssh = childrenOf(cli.proc.pid!).filter((c) => c.args[0]?.endsWith('ssh'));
      const victim = which === 'master'
        ? ssh.find((c) => c.args.includes('-M'))
        : ssh.find((c) => c.args.some((a) => a.includes('synprobe-remote')));
      expect(victim, JSON.stringify(ssh)).toBeDefined();
      process.kill(victim!.pid, 'SIGKILL');
      // no new connection is needed for the peer to clean up: its tcpdump goes away on its own
      expect(await waitFor(() => tcpdumpsIn(fx.lab.server.ns).length === 0, 10_000)).toBe(true);
      const code = await cli.done;
      expect(code).toBe(2);
      expect(cli.stderr()).toMatch(/synprobe: the capture on the peer stopped during the run|synprobe: the ssh connection .* closed/);
      const facts = runJson(out);
      expect(facts.status).toBe('failed');
      // the ssh connection's end or the capture's end is noticed first, whichever comes first
      expect(facts.problems.map((p) => p.code).filter((c) => c === 'capture-died' || c === 'ssh-lost').length).toBeGreaterThan(0);
      expect(facts.client.capture!.clean).toBe(true);
      expect(facts.server!.capture!.clean).toBe(false);
      expect(facts.server!.capture!.stoppedAt! < facts.client.capture!.stoppedAt!).toBe(true);
      // what arrived before is kept and readable
      expect(countPackets(join(out, 'server.pcap'), SYN_ONLY)).toBe(LIMIT);
      expect(JSON.parse(cli.stdout()).summary.attempts).toBeGreaterThanOrEqual(LIMIT);
      await expectNothingLeft();
    });
  }

  const phases: Array<[string, RegExp, string[]]> = [
    ['preflight', /^preflight \.\.\./m, []],
    ['capture-start', /capturing on this host/, []],
    ['holding', /holding for/, ['--hold', '20s']],
  ];
  const signals: Array<['SIGINT' | 'SIGTERM', string]> = [['SIGINT', 'Ctrl-C'], ['SIGTERM', 'SIGTERM']];
  for (const [phase, when, extra] of phases) for (const [signal, label] of signals) {
    it(`${label} while ${phase}: stops at once, keeps what exists, run.json says where, nothing left running`, async () => {
      const out = newOut();
      const cli = startCli([...baseArgs(out), '--max', '10', ...extra]);
      await cli.waitStderr(when);
      const t0 = Date.now();
      cli.proc.kill(signal);
      const code = await cli.done;
      expect(Date.now() - t0).toBeLessThan(15_000);
      const facts = runJson(out);
      expect(facts.status).toBe('interrupted');
      expect(facts.interrupted).toMatchObject({ signal, phase });
      for (const c of [facts.client.capture, facts.server?.capture]) if (c) expect(c.clean, c.problem ?? '').toBe(true);
      if (phase === 'holding') {
        // the probe ran and both captures completed: the analysis decides (10 held, nothing lost)
        const report = JSON.parse(cli.stdout());
        const why = JSON.stringify({ summary: report.summary, attempts: report.attempts.map((a: { verdict: string; reason: string | null }) => [a.verdict, a.reason]), warnings: report.warnings });
        expect(code, why).toBe(report.summary.pathLoss ? 1 : 0);
        expect(report.summary.established, why).toBe(10);
        expect(facts.probe!.established).toBe(10);
      } else {
        expect(code).toBe(2);
        expect(cli.stderr()).toMatch(new RegExp(`synprobe: interrupted while ${phase}, before the probe started`));
        expect(facts.probe).toBeNull();
      }
      for (const f of ['client.pcap', 'server.pcap']) if (existsSync(join(out, f))) countPackets(join(out, f), 'tcp'); // readable
      await expectNothingLeft();
    });
  }

  for (const side of ['client', 'server'] as const) {
    it(`tcpdump killed on the ${side} mid-run: the probe stops, the other capture is stopped cleanly, exit 2 with the reason`, async () => {
      const out = newOut();
      const cli = startCli([...baseArgs(out, '60s'), '--max', String(LIMIT + 30)]);
      await cli.waitStderr(/probing/);
      expect(await waitFor(() => countPacketsSoFar(join(out, 'client.pcap'), SYN_ONLY) > LIMIT, 20_000, 200)).toBe(true);
      const ns = side === 'client' ? fx.lab.client.ns : fx.lab.server.ns;
      const pids = tcpdumpsIn(ns);
      expect(pids).toHaveLength(1);
      process.kill(pids[0]!, 'SIGKILL');
      const code = await cli.done;
      expect(code).toBe(2);
      const where = side === 'client' ? 'on this host' : 'on the peer';
      expect(cli.stderr()).toMatch(new RegExp(`synprobe: the capture ${where} stopped during the run`));
      const facts = runJson(out);
      expect(facts.status).toBe('failed');
      const dead = side === 'client' ? facts.client.capture! : facts.server!.capture!;
      const alive = side === 'client' ? facts.server!.capture! : facts.client.capture!;
      expect(dead.clean).toBe(false);
      expect(dead.droppedByKernel).toBeNull();
      expect(alive.clean).toBe(true);
      expect(countPackets(join(out, 'server.pcap'), SYN_ONLY)).toBe(LIMIT);
      await expectNothingLeft();
    });
  }

  it('a full disk mid-run: the capture that cannot write stops the run with the reason, run.json is still written, nothing left running', async () => {
    const mnt = join(fx.work, 'full');
    mkdirSync(mnt);
    const m = await run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'sptest-full', mnt]);
    expect(m.code, m.stderr).toBe(0);
    try {
      // leave run.json's reserve and two pages: both pcaps start, one of them fills the disk
      const st = statfsSync(mnt);
      const free = Number(st.bavail) * Number(st.bsize);
      writeFileSync(join(mnt, 'ballast'), Buffer.alloc(free - RUN_JSON_RESERVE - 8192 - 4096));
      const out = join(mnt, 'out');
      const cli = startCli([...baseArgs(out), '--max', String(LIMIT + 30)]);
      const code = await cli.done;
      expect(code).toBe(2);
      // the server's writer meets ENOSPC; or synprobe's look at the free space sees the disk full first
      expect(cli.stderr()).toMatch(/synprobe: (the capture (on this host|on the peer) stopped during the run: .*(No space left|disk is full|ENOSPC)|the file system holding .* is full)/);
      const facts = runJson(out);
      expect(facts.status).toBe('failed');
      expect(facts.problems.map((p) => p.code).filter((c) => c === 'capture-died' || c === 'disk-full')).not.toEqual([]);
      expect(facts.probe).not.toBeNull();
      await expectNothingLeft();
    } finally {
      await run(['umount', mnt]);
    }
  });

  it('ssh refusing the key or the port: one clear line, exit 2, run.json written, no capture started', async () => {
    const keyDir = mkdtempSync(join(fx.work, 'key-'));
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'other')]);
    const opts = fx.sshd!.sshOptions.map((o) => (o.includes('id_ed25519') ? join(keyDir, 'other') : o));
    const out1 = newOut();
    const denied = await run(inNamespace(fx.lab.client.ns, [process.execPath, fx.bin, 'capture', '--peer', fx.lab.peer, '--ssh', fx.sshd!.target,
      ...opts.map((o) => `--ssh-option=${o}`), '--max', '5', '--out', out1]));
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/synprobe: ssh to \S+ asks for a password or refused the key .*ssh-copy-id/);
    expect(runJson(out1)).toMatchObject({ status: 'failed', problems: [expect.objectContaining({ code: 'ssh-auth' })] });
    expect(existsSync(join(out1, 'client.pcap'))).toBe(false);

    const out2 = newOut();
    // the lab's own "-p 22" would win (ssh takes the first value of an option): leave it out
    const noPort = fx.sshd!.sshOptions.filter((o, i, all) => o !== '-p' && all[i - 1] !== '-p');
    const refused = await run(inNamespace(fx.lab.client.ns, [process.execPath, fx.bin, 'capture', '--peer', fx.lab.peer, '--ssh', fx.sshd!.target,
      ...noPort.map((o) => `--ssh-option=${o}`), '--ssh-option=Port=2222', '--max', '5', '--out', out2]));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/synprobe: ssh to \S+: connection refused/);
    await expectNothingLeft();
  });

  it('a remote interface that does not exist is refused in preflight, before any capture', async () => {
    const out = newOut();
    const r = await run(inNamespace(fx.lab.client.ns, [process.execPath, fx.bin, 'capture', ...baseArgs(out), '--remote-interface', 'nosuch0', '--max', '5']));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to start: interface nosuch0 does not exist on the peer/);
    expect(runJson(out).status).toBe('refused');
    expect(existsSync(join(out, 'server.pcap'))).toBe(false);
    await expectNothingLeft();
  });
});
