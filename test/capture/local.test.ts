/**
 * tcpdump on "this host": started, shown listening, real traffic through a namespace interface,
 * stopped by SIGTERM with its counts parsed; and every way it fails to start or dies.
 *
 * The test process cannot enter a namespace, so the tcpdump it starts is a tiny executable that
 * execs `ip netns exec <ns> tcpdump "$@"` (the pid stays tcpdump's: both exec).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpdumpError, buildClientFilter, startLocalCapture } from '../../src/tcpdump/local.js';
import { nowNs } from '../../src/run/run-facts.js';
import { buildCli, canRunWith, countPackets, run, uniqueName, waitFor } from './helpers.js';

const canRun = canRunWith(['ip', 'tcpdump']);

function sh(script: string): void {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe.skipIf(!canRun)('local tcpdump (root)', () => {
  const name = uniqueName('cap');
  const nsC = `${name}-c`;
  const nsS = `${name}-s`;
  const ifC = `${name.slice(-6)}c0`;
  const ifS = `${name.slice(-6)}s0`;
  const addrS = '198.18.250.2';
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const wrapper = join(dir, 'tcpdump-in-ns');
  let server: ChildProcess | null = null;

  /** n connections from the client namespace to the server's port 8000, each closed at once. */
  async function traffic(n: number): Promise<void> {
    const js = `const net=require('net');let k=0;(function go(){if(k++>=${n})return;const s=net.connect(8000,'${addrS}',()=>{s.end();go();});s.on('error',()=>go());})();`;
    const r = await run(['ip', 'netns', 'exec', nsC, process.execPath, '-e', js], 30_000);
    if (r.code !== 0) throw new Error(r.stderr);
  }

  beforeAll(async () => {
    sh(`ip netns add ${nsC} && ip netns add ${nsS}`);
    sh(`ip link add ${ifC} netns ${nsC} type veth peer name ${ifS} netns ${nsS}`);
    sh(`ip -n ${nsC} addr add 198.18.250.1/24 dev ${ifC} && ip -n ${nsS} addr add ${addrS}/24 dev ${ifS}`);
    sh(`ip -n ${nsC} link set ${ifC} up && ip -n ${nsS} link set ${ifS} up && ip -n ${nsC} link set lo up && ip -n ${nsS} link set lo up`);
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${nsC} tcpdump "$@"\n`);
    chmodSync(wrapper, 0o755);
    server = spawn('ip', ['netns', 'exec', nsS, process.execPath, '-e', `require('net').createServer((s)=>{s.on('error',()=>{});s.resume();}).listen(8000,'${addrS}',()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (c) => reject(new Error(`server exited ${c}`)));
    });
  });

  afterAll(async () => {
    server?.kill('SIGTERM');
    spawnSync('ip', ['netns', 'del', nsC]);
    spawnSync('ip', ['netns', 'del', nsS]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('captures real traffic on a namespace interface, stops on SIGTERM, flushes, and its counts are parsed', async () => {
    const file = join(dir, 'client.pcap');
    const before = nowNs();
    const cap = await startLocalCapture({ interface: ifC, filter: buildClientFilter(addrS, 8000), file, tcpdumpPath: wrapper });
    expect(cap.startedAtNs).toBeGreaterThan(before);
    // the pid we signal is tcpdump's own, not a wrapper's
    expect(readFileSync(`/proc/${cap.pid}/comm`, 'utf8').trim()).toBe('tcpdump');
    await traffic(20);
    await new Promise((r) => setTimeout(r, 300));
    const stopAsked = nowNs();
    const res = await cap.stop();
    expect(res.clean).toBe(true);
    expect(res.problem).toBeNull();
    expect(res.exitCode).toBe(0);
    expect(res.stoppedAtNs).toBeLessThanOrEqual(stopAsked + 1_000_000n);
    expect(res.stoppedAtNs).toBeGreaterThanOrEqual(cap.startedAtNs - 1_000_000n);
    expect(res.stats.droppedByKernel).toBe(0);
    // 20 connections: SYN, SYN-ACK, ACK, FINs and ACKs: at least 3 each
    expect(res.stats.captured).toBeGreaterThanOrEqual(60);
    expect(res.stats.receivedByFilter).toBeGreaterThanOrEqual(res.stats.captured!);
    // the file is flushed: everything tcpdump counted is in it
    expect(countPackets(file, 'tcp')).toBe(res.stats.captured);
    expect(countPackets(file, 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0')).toBe(20);
    expect(alive(cap.pid)).toBe(false);
    expect(await cap.stop()).toBe(res); // idempotent
  });

  it('reports a tcpdump that dies during the run, with the last moment it was seen alive', async () => {
    const file = join(dir, 'died.pcap');
    const cap = await startLocalCapture({ interface: ifC, filter: buildClientFilter(addrS, 8000), file, tcpdumpPath: wrapper });
    let unexpected: string | null = null;
    cap.onUnexpectedExit((info) => { unexpected = info.problem; });
    await traffic(3);
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = nowNs();
    process.kill(cap.pid, 'SIGKILL');
    expect(await waitFor(() => unexpected !== null, 5000)).toBe(true);
    expect(unexpected).toMatch(/stopped by itself.*SIGKILL/);
    const res = await cap.stop();
    expect(res.clean).toBe(false);
    expect(res.stats.droppedByKernel).toBeNull();
    expect(res.stoppedAtNs).toBeLessThanOrEqual(killedAt);
    // what it wrote before dying is there (-U: written per packet)
    expect(countPackets(file, 'tcp')).toBeGreaterThanOrEqual(9);
  });

  it('tcpdump dies with synprobe: the watchdog SIGTERMs it when synprobe is SIGKILLed', async () => {
    const bin = buildCli();
    const local = join(bin, '..', '..', 'dist', 'tcpdump', 'local.js');
    const script = `import { startLocalCapture } from ${JSON.stringify(local)};
      const cap = await startLocalCapture({ interface: ${JSON.stringify(ifC)}, filter: 'tcp port 8000', file: ${JSON.stringify(join(dir, 'orphan.pcap'))}, tcpdumpPath: ${JSON.stringify(wrapper)} });
      console.log(cap.pid); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
      child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
    });
    expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    expect(await waitFor(() => !alive(pid), 5000)).toBe(true);
  });

  it('says what to do when tcpdump is missing, not allowed, or the interface does not exist', async () => {
    const f = (n: string): string => join(dir, `${n}.pcap`);
    const missing = await startLocalCapture({ interface: ifC, filter: 'tcp', file: f('missing'), tcpdumpPath: join(dir, 'no-such-tcpdump') }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TcpdumpError);
    expect((missing as TcpdumpError).code).toBe('tcpdump-missing');
    expect((missing as TcpdumpError).fix).toMatch(/apt-get install tcpdump/);

    const denied = join(dir, 'tcpdump-denied');
    writeFileSync(denied, '#!/bin/sh\necho "tcpdump: eth0: You don\'t have permission to perform this capture on that device" >&2\necho "(socket: Operation not permitted)" >&2\nexit 1\n');
    chmodSync(denied, 0o755);
    const perm = await startLocalCapture({ interface: 'eth0', filter: 'tcp', file: f('denied'), tcpdumpPath: denied }).catch((e: unknown) => e);
    expect((perm as TcpdumpError).code).toBe('tcpdump-permission');
    expect((perm as TcpdumpError).fix).toMatch(/root|setcap/);

    const noif = await startLocalCapture({ interface: 'nosuchif0', filter: 'tcp', file: f('noif'), tcpdumpPath: wrapper }).catch((e: unknown) => e);
    expect((noif as TcpdumpError).code).toBe('interface-missing');
    expect((noif as TcpdumpError).message).toMatch(/nosuchif0 does not exist on this host/);
  });

  it('gives up on a tcpdump that never starts listening, shows what it said, and leaves nothing running', async () => {
    const mute = join(dir, 'tcpdump-mute');
    writeFileSync(mute, '#!/bin/sh\necho "tcpdump: warning: something odd" >&2\nexec sleep 30\n');
    chmodSync(mute, 0o755);
    const t0 = Date.now();
    const err = await startLocalCapture({ interface: 'eth0', filter: 'tcp', file: join(dir, 'mute.pcap'), tcpdumpPath: mute, listenTimeoutMs: 800 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((err as TcpdumpError).code).toBe('tcpdump-timeout');
    expect((err as TcpdumpError).message).toMatch(/something odd/);
    const sleepers = spawnSync('pgrep', ['-f', `^sleep 30$`], { encoding: 'utf8' }).stdout.trim();
    // the mute "tcpdump" (now sleep, same pid) was stopped: no sleeper of ours is left
    for (const pid of sleepers.split('\n').filter(Boolean)) {
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8').includes(dir)).toBe(false);
    }
  });

  it('never writes through an existing file or symlink', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    spawnSync('ln', ['-s', victim, join(dir, 'trap.pcap')]);
    const err = await startLocalCapture({ interface: ifC, filter: 'tcp', file: join(dir, 'trap.pcap'), tcpdumpPath: wrapper }).catch((e: unknown) => e);
    expect((err as TcpdumpError).code).toBe('output-error');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(existsSync(join(dir, 'trap.pcap'))).toBe(true);
  });
});
