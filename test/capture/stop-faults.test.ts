/**
 * `synprobe capture` faults that remote.test.ts leaves out, on the same real parts (the built CLI
 * in the lab's client namespace, a real sshd and `synprobe serve` in the server namespace, real
 * tcpdump on both sides):
 *
 * - Ctrl-C / SIGTERM, twice, while both captures are being stopped. That phase lasts milliseconds,
 *   so the test makes it last by a real means: one tcpdump is frozen (SIGSTOP) during the hold,
 *   so the stop it gets (its SIGTERM stays pending) cannot finish until the test thaws it
 *   (SIGCONT) — a tcpdump slow to flush, as on a loaded host. Every signal is sent while run.json
 *   says `capture-stop` and the frozen tcpdump is provably still there.
 * - client.pcap filling the disk: tcpdump 4.99 does not die on ENOSPC (it keeps counting packets
 *   it can no longer write, and exits 0), so synprobe must notice the full disk itself.
 * - run.json on a disk filled after the start: its room was reserved at creation.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inNamespace } from '../../src/lab/topology.js';
import { RUN_JSON_RESERVE, RunFactsFile, formatRunFacts, type RunFacts, type RunProblem } from '../../src/run/run-facts.js';
import { readCapture } from '../../src/read/open.js';
import { diskSpace, watchDiskSpace } from '../../src/run/disk-space.js';
import {
  SYN_ONLY, canRunWith, countPackets, countPacketsSoFar, fillDisk, freeBytes, readRunJsonIfWhole, run, signalPid, tcpdumpsIn, waitFor, type CliRun,
} from './helpers.js';
import { RemoteCaptureLab } from './remote-lab.js';

const canRun = canRunWith(['ip', 'nft', 'tcpdump', 'ssh', 'ssh-keygen', '/usr/sbin/sshd']);

const LIMIT = 20;


const readRunJson = (out: string): RunFacts | null => readRunJsonIfWhole<RunFacts>(out);

/** The process state letter from /proc (R, S, T for stopped, Z, ...). */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}


describe.skipIf(!canRun)('synprobe capture: faults while stopping and on a full disk (root, lab namespaces)', () => {
  const fx = new RemoteCaptureLab('stp', LIMIT);
  const startCli = (args: string[]): CliRun => fx.startCli(args);
  const expectNothingLeft = (): Promise<void> => fx.expectNothingLeft();
  /** Frozen processes to thaw whatever happens. */
  const frozen = new Set<number>();
  const mounts: string[] = [];

  function freeze(pid: number): void {
    frozen.add(pid);
    signalPid(pid, 'SIGSTOP');
  }

  function thaw(pid: number): void {
    signalPid(pid, 'SIGCONT');
    frozen.delete(pid);
  }

  function baseArgs(out: string, connectTimeout = '3s'): string[] {
    return ['--peer', fx.lab.peer, '--port', String(fx.lab.port), ...fx.sshArgs(), '--connect-timeout', connectTimeout, '--format', 'json', '--out', out];
  }

  async function tmpfs(size: string): Promise<string> {
    const mnt = fx.newPath('fs');
    mkdirSync(mnt);
    const m = await run(['mount', '-t', 'tmpfs', '-o', `size=${size}`, `${fx.name}-fs`, mnt]);
    expect(m.code, m.stderr).toBe(0);
    mounts.push(mnt);
    return mnt;
  }

  afterEach(async () => {
    for (const pid of [...frozen]) thaw(pid);
    await fx.stopRunning();
    for (const mnt of mounts.splice(0)) await run(['umount', mnt]);
  });

  const cases: Array<['SIGINT' | 'SIGTERM', string, 'client' | 'server']> = [
    ['SIGINT', 'Ctrl-C', 'client'],
    ['SIGTERM', 'SIGTERM', 'server'],
  ];
  for (const [sig, label, slow] of cases) {
    it(`${label} twice while the captures are being stopped (the ${slow} tcpdump slow to stop): the stop completes, both pcaps whole, run.json says interrupted while capture-stop`, async () => {
      const out = fx.newPath();
      const cli = startCli([...baseArgs(out), '--max', '10', '--hold', '3s']);
      await cli.waitStderr(/holding for/);
      const ns = slow === 'client' ? fx.lab.client.ns : fx.lab.server.ns;
      const pids = tcpdumpsIn(ns);
      expect(pids).toHaveLength(1);
      const tcpdump = pids[0]!;
      freeze(tcpdump);
      // the hold ends, the stop begins and waits on the frozen tcpdump
      expect(await waitFor(() => readRunJson(out)?.phase === 'capture-stop', 20_000, 20)).toBe(true);
      expect(procState(tcpdump)).toBe('T');

      cli.proc.kill(sig);
      await cli.waitStderr(new RegExp(`interrupted \\(${sig}\\) while capture-stop`));
      cli.proc.kill(sig);
      await cli.waitStderr(/still stopping the captures so that nothing is lost/);
      // neither signal cut the stop short: the same tcpdump is still there, waiting to flush
      expect(procState(tcpdump)).toBe('T');
      expect(readRunJson(out)?.phase).toBe('capture-stop');
      thaw(tcpdump);
      const code = await cli.done;

      const facts = readRunJson(out)!;
      expect(facts.status).toBe('interrupted');
      expect(facts.interrupted).toMatchObject({ signal: sig, phase: 'capture-stop' });
      expect(facts.probe).toMatchObject({ attempts: 10, established: 10, stoppedBy: 'max' });
      for (const [file, c] of [['client.pcap', facts.client.capture!], ['server.pcap', facts.server!.capture!]] as const) {
        expect(c, file).toMatchObject({ clean: true, exitCode: 0, problem: null });
        // flushed: the file holds every packet tcpdump counted
        expect(countPackets(join(out, file), 'tcp'), file).toBe(c.captured);
        expect(countPackets(join(out, file), SYN_ONLY), file).toBe(10);
      }
      // the captures are complete: the exit status is the analysis' (10 held, nothing lost)
      const report = JSON.parse(cli.stdout());
      expect(report.summary.established).toBe(10);
      expect(code).toBe(report.summary.pathLoss ? 1 : 0);
      console.log(`[${label}, ${slow} slow] exit ${code}; run.json ${facts.status} (${facts.interrupted?.signal} while ${facts.interrupted?.phase}); `
        + `client.pcap ${facts.client.capture!.captured} packets, server.pcap ${facts.server!.capture!.captured} packets`);
      await expectNothingLeft();
    });
  }

  it('client.pcap fills the disk: tcpdump says nothing, synprobe notices the full disk, stops the run, reports the lost tail; run.json complete', async () => {
    const mnt = await tmpfs('8m');
    const out = join(mnt, 'out');
    const cli = startCli([...baseArgs(out, '60s'), '--max', String(LIMIT + 30), '--hold', '1s']);
    await cli.waitStderr(/probing/);
    // the attempt past the cap retransmits; everything the server will ever see has been written
    expect(await waitFor(() => countPacketsSoFar(join(out, 'client.pcap'), SYN_ONLY) > LIMIT && countPacketsSoFar(join(out, 'server.pcap'), SYN_ONLY) === LIMIT, 20_000, 200)).toBe(true);

    // synprobe frozen, so that only tcpdump meets the full disk: fill it, then send SYNs that only
    // the client capture sees (the router drops them: the cap is reached) until client.pcap needs
    // a new page
    const synprobe = cli.proc.pid!;
    freeze(synprobe);
    const before = statSync(join(out, 'client.pcap')).size;
    fillDisk(mnt);
    expect(freeBytes(mnt)).toBe(0);
    const js = `const net=require('net');const s=[];for(let i=0;i<100;i++){const c=net.connect(${fx.lab.port},'${fx.lab.peer}');c.on('error',()=>{});s.push(c);}setTimeout(()=>{for(const c of s)c.destroy();},300);`;
    const burst = await run(inNamespace(fx.lab.client.ns, [process.execPath, '-e', js]), 30_000);
    expect(burst.code, burst.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const after = statSync(join(out, 'client.pcap')).size;
    // the file could only fill its last page: 100 SYNs (~90 bytes each) did not fit
    expect(after).toBeLessThanOrEqual(Math.ceil(before / 4096) * 4096);
    expect(tcpdumpsIn(fx.lab.client.ns)).toHaveLength(1); // tcpdump did not die of it
    thaw(synprobe);

    const code = await cli.done;
    expect(code).toBe(2);
    expect(cli.stderr()).toMatch(/error: the disk holding .* is full: stopping the run/);
    expect(cli.stderr()).toMatch(/synprobe: the file system holding .* is full/);
    // run.json was finished on the full disk: one complete JSON value, its padding cut off
    const text = readFileSync(join(out, 'run.json'), 'utf8');
    const facts = JSON.parse(text) as RunFacts;
    expect(text).toBe(formatRunFacts(facts));
    expect(facts.status).toBe('failed');
    expect(facts.endedAt).not.toBeNull();
    expect(facts.probe!.stoppedBy).toBe('aborted');
    expect(facts.problems.map((p) => p.code)).toEqual(expect.arrayContaining(['disk-full', 'capture-unclean']));
    const client = facts.client.capture!;
    expect(client.clean).toBe(false);
    expect(client.problem).toMatch(/client\.pcap holds \d+ packets but tcpdump captured \d+: the end was lost on the way to disk/);
    expect(facts.server!.capture!).toMatchObject({ clean: true, problem: null });
    expect(countPackets(join(out, 'server.pcap'), SYN_ONLY)).toBe(LIMIT);
    // what exists is kept and read: client.pcap up to its cut-off last record
    const kept = await readCapture(join(out, 'client.pcap'), () => undefined);
    expect(kept.packets).toBeGreaterThan(3 * LIMIT);
    expect(kept.packets).toBeLessThan(client.captured!);
    expect(kept.problem?.kind ?? 'none').toMatch(/cut-short|none/);
    // ... and analyzed: the report covers the attempts it holds
    const report = JSON.parse(cli.stdout());
    expect(report.summary.attempts).toBeGreaterThanOrEqual(LIMIT + 1);
    console.log(`[client.pcap ENOSPC] exit ${code}; run.json ${facts.status}, problems ${facts.problems.map((p) => p.code).join(', ')}; `
      + `client.pcap ${kept.packets} packets kept of ${client.captured} captured (${before} → ${after} bytes during the burst); `
      + `server.pcap ${facts.server!.capture!.captured} packets; report: ${report.summary.attempts} attempts`);
    await expectNothingLeft();
  });

  it('the disk filled after the start (while holding): the run stops, run.json\'s final version fits in the room reserved at creation', async () => {
    const mnt = await tmpfs('8m');
    const out = join(mnt, 'out');
    const cli = startCli([...baseArgs(out), '--max', '10', '--hold', '20s']);
    await cli.waitStderr(/holding for/);
    fillDisk(mnt);
    expect(freeBytes(mnt)).toBe(0);
    const code = await cli.done;

    expect(code).toBe(2);
    expect(cli.stderr()).toMatch(/synprobe: the file system holding .* is full/);
    const text = readFileSync(join(out, 'run.json'), 'utf8');
    const facts = JSON.parse(text) as RunFacts;
    expect(text).toBe(formatRunFacts(facts));
    expect(facts).toMatchObject({ status: 'failed', phase: 'closing' });
    expect(facts.endedAt).not.toBeNull();
    expect(facts.problems.map((p) => [p.code, p.phase])).toEqual([['disk-full', 'holding']]);
    expect(facts.probe).toMatchObject({ attempts: 10, established: 10, stoppedBy: 'max' });
    // nothing was lost: no packet came while the disk was full
    for (const [file, c] of [['client.pcap', facts.client.capture!], ['server.pcap', facts.server!.capture!]] as const) {
      expect(c, file).toMatchObject({ clean: true, exitCode: 0 });
      expect(countPackets(join(out, file), 'tcp'), file).toBe(c.captured);
    }
    expect(facts.client.counters.after).not.toBeNull();
    expect(JSON.parse(cli.stdout()).summary.established).toBe(10);
    console.log(`[disk full while holding] exit ${code}; run.json ${text.length} bytes, ${facts.status}, problems ${facts.problems.map((p) => p.code).join(', ')}; `
      + `client.pcap ${facts.client.capture!.captured} packets, server.pcap ${facts.server!.capture!.captured} packets`);
    await expectNothingLeft();
  });
});

describe.skipIf(!canRun)('RunFactsFile on a disk that fills up after it was created (root: a tmpfs)', () => {
  const base = mkdtempSync(join(tmpdir(), 'sptest-runjson-'));
  const mnt = join(base, 'fs');
  beforeAll(async () => {
    mkdirSync(mnt);
    const m = await run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'sptest-runjson', mnt]);
    expect(m.code, m.stderr).toBe(0);
  });
  afterAll(async () => {
    await run(['umount', mnt]);
    rmSync(base, { recursive: true, force: true });
  });

  it('every later version, up to nearly the reserve, is written and the last one trimmed to one JSON value', async () => {
    const facts = { schema: 'synprobe-run/1', status: 'running', problems: [] as RunProblem[] } as unknown as RunFacts;
    const file = await RunFactsFile.create(join(mnt, 'run.json'), facts);
    fillDisk(mnt);
    expect(freeBytes(mnt)).toBe(0);
    // a run that grew a lot: ~900 KiB of problems, each version longer than the one before
    for (let i = 0; i < 9; i++) {
      facts.problems.push({ phase: 'holding', code: 'x', message: 'y'.repeat(100_000) });
      expect(await file.update(facts)).toBeNull();
    }
    (facts as { status: string }).status = 'failed';
    await file.finish(facts);
    const text = readFileSync(join(mnt, 'run.json'), 'utf8');
    expect(text).toBe(formatRunFacts(facts));
    expect(text.length).toBeGreaterThan(900_000);
    expect(text.length).toBeLessThanOrEqual(RUN_JSON_RESERVE);
    // a file that cannot be made at all is an error at creation, not a silent loss later
    closeSync(openSync(join(mnt, 'probe'), 'w')); // an inode is still there
    await expect(RunFactsFile.create(join(mnt, 'run2.json'), facts)).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});

describe.skipIf(!canRun)('watchDiskSpace: a full disk under --out is noticed (root: tmpfs mounts)', () => {
  const base = mkdtempSync(join(tmpdir(), 'sptest-diskwatch-'));
  const sized = join(base, 'sized');
  const unsized = join(base, 'unsized');
  beforeAll(async () => {
    for (const [dir, size] of [[sized, '1m'], [unsized, '0']] as const) {
      mkdirSync(dir);
      const m = await run(['mount', '-t', 'tmpfs', '-o', `size=${size}`, 'sptest-diskwatch', dir]);
      expect(m.code, m.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    for (const dir of [sized, unsized]) await run(['umount', dir]);
    rmSync(base, { recursive: true, force: true });
  });

  it('says nothing while there is room, once when the last block is taken; nothing on a file system that tells no size', async () => {
    const calls: number[] = [];
    const watch = watchDiskSpace(sized, (s) => calls.push(s.freeBytes), 20);
    const quiet = watchDiskSpace(unsized, () => calls.push(-1), 20);
    expect((await diskSpace(unsized)).sized).toBe(false); // size=0: unlimited, statfs says 0 blocks free
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toEqual([]);
    fillDisk(sized);
    expect(await waitFor(() => calls.length > 0, 2000, 10)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toEqual([0]);
    watch.stop();
    quiet.stop();
  });
});
