/**
 * The rules do what they claim: the probe runs in the client namespace against the listener in
 * the server namespace, and the count established and the failure match the scenario.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countRuleHits, createLab, destroyLab, inNamespace, runCommand, type Lab, type Scenario } from '../../src/lab/topology.js';
import type { ProbeResult } from '../../src/probe/probe.js';
import { nativeEngine } from '../../src/probe/native.js';
import { buildProbeMain, labTestsCanRun, startLineChild, uniqueLabName, type LineChild } from './helpers.js';

const canRun = labTestsCanRun(['ip', 'nft', 'ss']);
const LIMIT = 5;

interface LabRun { result: ProbeResult; listener: { held: number; accepted: number }; serverPeers: string[] }

/** Both probe engines (the native one runs when built; CI builds it). */
const ENGINES = nativeEngine().binding || process.env.CI ? ['native', 'node'] : ['node'];

describe.skipIf(!canRun).each(ENGINES)('scenarios (root), %s engine', (engine) => {
  const name = uniqueLabName();
  let probeMain = '';
  let children: LineChild[] = [];

  beforeAll(() => { probeMain = buildProbeMain(); });
  afterEach(async () => {
    for (const child of children) await child.stop();
    children = [];
    await destroyLab(name);
  });
  afterAll(async () => { await destroyLab(name); });

  /** Listener in the server namespace, probe (holding its connections) in the client namespace. */
  async function runInLab(lab: Lab, max: number, timeoutMs = 20_000): Promise<LabRun> {
    const server = startLineChild(inNamespace(lab.server.ns, [process.execPath, probeMain, 'serve', '--port', String(lab.port)]));
    children.push(server);
    expect(JSON.parse(await server.nextLine())).toMatchObject({ listening: { ports: [lab.port] } });
    const probe = startLineChild(inNamespace(lab.client.ns, [
      'env', `SYNPROBE_PROBE_ENGINE=${engine}`, process.execPath, probeMain, 'probe', '--host', lab.peer, '--port', String(lab.port),
      '--max', String(max), '--timeout', String(timeoutMs), '--hold',
    ]));
    children.push(probe);
    const { result } = JSON.parse(await probe.nextLine(timeoutMs + 10_000)) as { result: ProbeResult };
    expect(result.engine).toBe(engine);
    const ss = await runCommand(inNamespace(lab.server.ns, ['ss', '-Htn', 'state', 'established', `( sport = :${lab.port} )`]));
    const serverPeers = ss.stdout.split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s+/).at(-1)!);
    await server.stop();
    const listener = JSON.parse(await server.nextLine()) as { held: number; accepted: number };
    return { result, listener, serverPeers };
  }

  const capped: { scenario: Scenario; code: string; kind: string; accepted: number }[] = [
    { scenario: 'path-cap', code: 'ETIMEDOUT', kind: 'timeout', accepted: LIMIT },
    { scenario: 'synack-lost', code: 'ETIMEDOUT', kind: 'timeout', accepted: LIMIT },
    { scenario: 'server-drop', code: 'ETIMEDOUT', kind: 'timeout', accepted: LIMIT },
    { scenario: 'refused', code: 'ECONNREFUSED', kind: 'refused', accepted: LIMIT },
    { scenario: 'nat', code: 'ETIMEDOUT', kind: 'timeout', accepted: LIMIT },
    { scenario: 'ipv6', code: 'ETIMEDOUT', kind: 'timeout', accepted: LIMIT },
  ];

  it.each(capped)('$scenario with limit 5: exactly 5 established, attempt 6 fails with $code', async ({ scenario, code, kind, accepted }) => {
    // tcp_syn_retries=1 with the kernel's linear timeouts: 3 SYN copies, connect fails at ~3 s.
    const lab = await createLab({ name, scenario, limit: LIMIT, synRetries: 1 });
    const { result, listener, serverPeers } = await runInLab(lab, 20);
    expect(result.established).toBe(LIMIT);
    expect(result.attempts).toBe(LIMIT + 1);
    expect(result.stoppedBy).toBe('failure');
    expect(result.failure).toMatchObject({ attempt: LIMIT + 1, code, kind });
    expect(result.failure!.localPort).toBeGreaterThan(0);
    expect(listener).toEqual({ held: accepted, accepted });
    // The rule's counter: every SYN copy of attempt 6 (3 with tcp_syn_retries=1), or for
    // synack-lost each SYN-ACK the server sent for it (one per SYN copy, plus its own retries).
    const hits = await countRuleHits(lab);
    if (scenario === 'refused') expect(hits).toBe(1);
    else if (scenario === 'synack-lost') expect(hits).toBeGreaterThanOrEqual(3);
    else expect(hits).toBe(3);
    if (kind === 'timeout') {
      // The kernel gave up, not our 20 s timer.
      expect(result.failure!.elapsedMs).toBeGreaterThan(2500);
      expect(result.failure!.elapsedMs).toBeLessThan(10_000);
      // The rate counts the time until the failing attempt began, not its 3 s wait: 5 connections
      // in a few milliseconds, not 5 over ~3 s.
      expect(result.ratePerSec).toBeGreaterThan((5 * LIMIT * 1000) / result.durationMs);
    }
    if (scenario === 'nat') {
      // The server sees the router's address and ports from the snat range, never the client.
      expect(serverPeers).toHaveLength(LIMIT);
      for (const peer of serverPeers) {
        // ss shows peers of a dual-stack listener as [::ffff:a.b.c.d]:port.
        const addr = peer.slice(0, peer.lastIndexOf(':')).replace(/^\[(::ffff:)?|\]$/g, '');
        const port = Number(peer.slice(peer.lastIndexOf(':') + 1));
        expect(addr).toBe(lab.router.serverSide.addr4);
        expect(port).toBeGreaterThanOrEqual(20_000);
        expect(port).toBeLessThanOrEqual(29_999);
      }
    } else if (scenario === 'ipv6') {
      for (const peer of serverPeers) expect(peer).toContain(lab.client.addr6);
    }
  });

  it('open: no rule, the probe reaches max', async () => {
    const lab = await createLab({ name, scenario: 'open', limit: LIMIT, synRetries: 1 });
    const { result, listener } = await runInLab(lab, 30);
    expect(result).toMatchObject({ attempts: 30, established: 30, stoppedBy: 'max', failure: null });
    expect(listener).toEqual({ held: 30, accepted: 30 });
  });

  it('lossy: every 3rd new SYN is dropped, every connection still gets through', async () => {
    const lab = await createLab({ name, scenario: 'lossy', limit: LIMIT, lossModulo: 3 });
    const { result } = await runInLab(lab, 16, 60_000);
    expect(result).toMatchObject({ attempts: 16, established: 16, stoppedBy: 'max', failure: null });
    const { stdout } = await runCommand(inNamespace(lab.client.ns, ['nstat', '-az', 'TcpExtTCPSynRetrans']));
    const retrans = Number(/TcpExtTCPSynRetrans\s+(\d+)/.exec(stdout)?.[1] ?? 'NaN');
    // Every SYN the router dropped was retransmitted once, and nothing else was lost.
    expect(retrans).toBe(await countRuleHits(lab));
  }, 120_000);

  it('the probe\'s own timeout ends a connect the kernel would keep retrying', async () => {
    const lab = await createLab({ name, scenario: 'path-cap', limit: 0 });
    const { result } = await runInLab(lab, 5, 1500);
    expect(result).toMatchObject({ attempts: 1, established: 0, stoppedBy: 'failure' });
    expect(result.failure).toMatchObject({ code: 'ETIMEDOUT', kind: 'timeout', localAddress: lab.client.addr4 });
    expect(result.failure!.elapsedMs).toBeGreaterThanOrEqual(1500);
    expect(result.failure!.elapsedMs).toBeLessThan(3000);
    // Destroying the socket stopped the SYN retransmissions: nothing left in SYN-SENT.
    const ss = await runCommand(inNamespace(lab.client.ns, ['ss', '-Htn', 'state', 'syn-sent']));
    expect(ss.stdout.trim()).toBe('');
  });
});
