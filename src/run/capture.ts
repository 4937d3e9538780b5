/**
 * `synprobe capture` as a library: preflight → counters before → both captures started and
 * shown listening → the single-worker probe → hold → both captures stopped while every
 * connection is still held → counters after → connections closed → run.json → analysis →
 * report.md. Whatever happens (Ctrl-C, a tcpdump dying, ssh lost, a full disk), captures are
 * stopped cleanly, files are kept, run.json says what happened, and no tcpdump is left running.
 */
import { lookup } from 'node:dns/promises';
import { lstat, mkdir, rmdir, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../cli/io.js';
import { analyzeCaptures, type AnalysisResult } from '../analyze/index.js';
import { exitStatusFor, renderReport, type Format } from '../report/index.js';
import { writePictures } from '../report/picture/index.js';
import { chooseEngine, runProbe, type HeldProbe, type ProbeProgress } from '../probe/probe.js';
import { readVersion } from '../version.js';
import { describePorts, formatPorts } from '../ports.js';
import { createLocalRunner, type CommandRunner } from '../preflight/runner.js';
import { capacities, checkSudo, collectHostPreflight, evaluatePreflight, PreflightRefusedError, refusals } from '../preflight/checks.js';
import { diffSnapshots, KEY_COUNTERS, takeSnapshot } from '../counters/snapshot.js';
import {
  DEFAULT_SNAPLEN,
  TcpdumpError,
  buildClientFilter,
  buildServerFilter,
  startLocalCapture,
  validateInterfaceName,
  validatePort,
  type CaptureStopResult,
  type LocalCapture,
} from '../tcpdump/local.js';
import {
  SshError,
  openSshControl,
  startRemoteCapture,
  validateHost,
  validateSshTarget,
  type RemoteCapture,
  type SshControl,
} from '../tcpdump/remote.js';
import {
  RUN_FACTS_SCHEMA,
  isoFromNs,
  nowNs,
  writeNewFile,
  RunFactsFile,
  type CaptureFacts,
  type HostFacts,
  type PreflightFinding,
  type RecordedOptions,
  type RunFacts,
  type RunPhase,
} from './run-facts.js';
import { watchDiskSpace, type DiskWatch } from './disk-space.js';
import { formatInteger } from '../numbers.js';

export const OUTPUT_FILES = ['client.pcap', 'server.pcap', 'run.json', 'report.md', 'evidence.svg', 'evidence.png'] as const;

export interface CaptureOptions extends RecordedOptions {
  /** Output directory; null: synprobe-<timestamp>/ in cwd. */
  out: string | null;
  format: Format;
  redact: boolean;
  /** The command line, for run.json and the report (e.g. ['synprobe', 'capture', ...]). */
  command: string[];
  cwd?: string;
  snapLen?: number;
}

export interface CaptureHooks {
  /** One line of progress or warning, for stderr. */
  log(line: string): void;
  progress?(p: ProbeProgress): void;
  /** Ctrl-C / SIGTERM: stop cleanly; `reason` names the signal. */
  signal?: AbortSignal;
}

export interface CaptureOutcome {
  /** 0 nothing lost, 1 loss found, 2 error / interrupted / refused. */
  exitStatus: 0 | 1 | 2;
  facts: RunFacts;
  outDir: string | null;
  analysis: AnalysisResult | null;
  /** The report in the chosen format (null when there is nothing to analyze). */
  report: string | null;
  /** The one line that says what went wrong and what to do; null when all went well. */
  error: string | null;
}

// ---------------------------------------------------------------------------------------------

function timestampName(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `synprobe-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Node's recursive mkdir reports ENOENT where the real cause is a read-only or unwritable file
 * system (seen on Node 20 with a read-only tmpfs): create the first missing directory under the
 * nearest existing one without `recursive`, which fails with the true error.
 */
async function explainMkdirFailure(dir: string, error: NodeJS.ErrnoException): Promise<string> {
  if (error.code !== 'ENOENT') return error.message;
  let child = dir;
  let parent = dirname(dir);
  while (parent !== child) {
    const exists = await lstat(parent).then(() => true, () => false);
    if (exists) {
      try {
        await mkdir(child, { mode: 0o755 });
        await rmdir(child); // it could be made after all: the first error stands
      } catch (e) {
        return (e as Error).message;
      }
      break;
    }
    child = parent;
    parent = dirname(parent);
  }
  return error.message;
}

/**
 * The output directory: created when missing; when it exists it must be a real directory (not a
 * symlink) holding none of the output files. Files are created later with O_EXCL|O_NOFOLLOW.
 */
export async function prepareOutDir(out: string | null, cwd = process.cwd()): Promise<string> {
  if (out === null) {
    const base = join(cwd, timestampName());
    for (let i = 0; i < 100; i++) {
      const dir = i === 0 ? base : `${base}-${i + 1}`;
      try {
        await mkdir(dir, { mode: 0o755 });
        return dir;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create ${dir}: ${(err as Error).message}`);
      }
    }
    throw new UsageError(`cannot find a free name for ${base}`);
  }
  if (/[\x00-\x1f]/.test(out)) throw new UsageError('--out contains control characters');
  const dir = resolve(cwd, out);
  let st;
  try {
    st = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`--out ${out}: ${(err as Error).message}`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new UsageError(`cannot create --out ${out}: ${await explainMkdirFailure(dir, e as NodeJS.ErrnoException)}`);
    }
    return dir;
  }
  if (st.isSymbolicLink()) throw new UsageError(`--out ${out} is a symbolic link: give the real directory`);
  if (!st.isDirectory()) throw new UsageError(`--out ${out} exists and is not a directory`);
  for (const f of OUTPUT_FILES) {
    try {
      await lstat(join(dir, f));
      throw new UsageError(`${join(out, f)} already exists: choose a new --out directory`);
    } catch (err) {
      if (err instanceof UsageError) throw err;
    }
  }
  return dir;
}

async function resolvePeer(peer: string): Promise<string> {
  if (isIP(peer) !== 0) return peer;
  try {
    return (await lookup(peer)).address;
  } catch (err) {
    throw new UsageError(`cannot resolve --peer ${peer}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((res) => {
    if (signal.aborted || ms <= 0) { res(); return; }
    const t = setTimeout(() => { signal.removeEventListener('abort', done); res(); }, ms);
    const done = (): void => { clearTimeout(t); res(); };
    signal.addEventListener('abort', done, { once: true });
  });
}

function emptyHost(role: 'client' | 'server', reachedAs: string): HostFacts {
  return { role, reachedAs, interface: null, preflight: null, counters: { before: null, after: null, diff: null }, capture: null };
}

function captureFacts(
  file: string,
  iface: string,
  filter: string,
  snapLen: number,
  command: string[],
  startedAtNs: bigint,
  clock: CaptureFacts['clock'],
  stop: CaptureStopResult | null,
): CaptureFacts {
  return {
    file,
    bytes: stop?.bytes ?? null,
    interface: iface,
    filter,
    snapLen,
    command,
    startedAt: isoFromNs(startedAtNs),
    stoppedAt: stop ? isoFromNs(stop.stoppedAtNs) : null,
    clock,
    captured: stop?.stats.captured ?? null,
    receivedByFilter: stop?.stats.receivedByFilter ?? null,
    droppedByKernel: stop?.stats.droppedByKernel ?? null,
    droppedByInterface: stop?.stats.droppedByInterface ?? null,
    exitCode: stop?.exitCode ?? null,
    signal: stop?.signal ?? null,
    clean: stop?.clean ?? false,
    stderr: stop?.stderr ?? '',
    problem: stop ? stop.problem : 'the capture was not stopped',
  };
}

function findingLine(f: PreflightFinding): string {
  return `${f.level === 'refuse' ? 'REFUSED' : f.level}: ${f.message}${f.fix ? ` — fix: ${f.fix}` : ''}`;
}

/** Markdown sections with the run facts, added to the analysis report. */
export function runFactsSections(facts: RunFacts): Array<{ title: string; body: string }> {
  const sections: Array<{ title: string; body: string }> = [];
  const run: string[] = [
    `- status: **${facts.status}** (last phase: ${facts.phase})${facts.interrupted ? `, interrupted by ${facts.interrupted.signal} while ${facts.interrupted.phase}` : ''}`,
    `- started ${facts.startedAt}, ended ${facts.endedAt ?? '?'}`,
  ];
  const p = facts.probe;
  if (p) {
    run.push(`- probe: ${formatInteger(p.attempts)} attempts, ${formatInteger(p.established)} established and held, stopped by ${p.stoppedBy}`
      + (p.failure ? ` — attempt ${formatInteger(p.failure.attempt)} failed after ${(p.failure.elapsedMs / 1000).toFixed(1)} s: ${p.failure.code} (${p.failure.kind})` : '')
      + `; ${p.ratePerSec.toFixed(0)} connections/s${p.engine ? ` (${p.engine === 'native' ? 'native connect loop' : "Node's sockets"})` : ''}`);
    if (p.engineNote) run.push(`- probe engine: Node's sockets, because ${p.engineNote}`);
    if (p.pairs && p.pairs.length > 1) {
      run.push(`- pairs (source → destination port: held of attempts): ${p.pairs.map((x) => `${x.source ?? 'kernel-chosen'} → ${x.port}: ${formatInteger(x.established)} of ${formatInteger(x.attempts)}`).join('; ')}`);
    }
    if (p.skippedLocalPorts) run.push(`- ${formatInteger(p.skippedLocalPorts)} local ports skipped (taken by other sockets; no SYN sent)`);
  }
  for (const pr of facts.problems) run.push(`- problem (${pr.phase}): ${pr.message}${pr.fix ? ` — ${pr.fix}` : ''}`);
  sections.push({ title: 'Run', body: run.join('\n') });

  const pre: string[] = [];
  for (const host of [facts.client, facts.server]) {
    if (!host?.preflight) continue;
    for (const f of host.preflight.findings) if (f.level !== 'ok') pre.push(`- ${host.role}: ${findingLine(f)}`);
  }
  if (pre.length) sections.push({ title: 'Preflight', body: pre.join('\n') });

  const counters: string[] = [];
  for (const host of [facts.client, facts.server]) {
    const d = host?.counters.diff;
    if (!host || !d) continue;
    const key = KEY_COUNTERS[host.role].map((k) => `${k} ${d.nstat[k] !== undefined ? `+${formatInteger(d.nstat[k]!)}` : '0'}`);
    counters.push(`- ${host.role}: ${key.join(', ')}`);
    if (d.conntrackCount !== null) counters.push(`- ${host.role}: nf_conntrack_count ${d.conntrackCount >= 0 ? '+' : ''}${formatInteger(d.conntrackCount)}`);
    const ct = Object.entries(d.conntrackStats).map(([k, v]) => `${k} +${formatInteger(v)}`);
    if (ct.length) counters.push(`- ${host.role}: conntrack -S ${ct.join(', ')}`);
    const eth = Object.entries(d.ethtool).map(([k, v]) => `${k} +${formatInteger(v)}`);
    if (eth.length) counters.push(`- ${host.role}: ethtool -S ${host.counters.after?.ethtool?.interface ?? ''} ${eth.join(', ')}`);
    const allowance = Object.entries(host.counters.after?.ethtool?.counters ?? {}).filter(([k]) => /allowance/.test(k));
    if (allowance.length) counters.push(`- ${host.role}: ${allowance.map(([k, v]) => `${k} = ${formatInteger(v)}`).join(', ')}`);
  }
  if (counters.length) sections.push({ title: 'Counters (after − before)', body: counters.join('\n') });

  const caps: string[] = [];
  for (const host of [facts.client, facts.server]) {
    const c = host?.capture;
    if (!host || !c) continue;
    caps.push(`- ${host.role}: \`tcpdump -i ${c.interface}\` from ${c.startedAt ?? '?'} to ${c.stoppedAt ?? '?'} (${c.clock === 'own' ? 'its own clock' : 'estimated from the client clock'}): `
      + `${c.captured ?? '?'} captured, ${c.receivedByFilter ?? '?'} received by filter, ${c.droppedByKernel ?? '?'} dropped by kernel`
      + `${c.droppedByInterface ? `, ${c.droppedByInterface} dropped by interface` : ''}${c.clean ? '' : ` — ${c.problem}`}`);
    caps.push(`  filter: \`${c.filter}\``);
  }
  if (caps.length) sections.push({ title: 'Capture runs', body: caps.join('\n') });
  return sections;
}

// ---------------------------------------------------------------------------------------------

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/** Problems that do not make a run fail. */
const SOFT_PROBLEMS = new Set(['kernel-drops']);

export async function runCapture(options: CaptureOptions, hooks: CaptureHooks): Promise<CaptureOutcome> {
  // validate again: the library can be called without the CLI
  const peer = validateHost(options.peer);
  if (!Array.isArray(options.ports) || options.ports.length === 0) throw new UsageError('--port needs at least one port');
  const ports = options.ports.map((p) => validatePort(p));
  const sshTarget = options.remote ? validateSshTarget(options.ssh ?? peer) : null;
  if (options.interface) validateInterfaceName(options.interface);
  if (options.remoteInterface) validateInterfaceName(options.remoteInterface, '--remote-interface');
  if (!Number.isInteger(options.max) || options.max < 1) throw new UsageError('--max must be a whole number of at least 1');
  const bindAuto = options.bind.length === 1 && options.bind[0] === 'auto';
  if (!bindAuto) for (const b of options.bind) if (isIP(b) === 0) throw new UsageError(`--bind must be IP addresses or auto, not '${b}'`);
  const snapLen = options.snapLen ?? DEFAULT_SNAPLEN;

  const outDir = await prepareOutDir(options.out, options.cwd);
  const files = {
    clientPcap: join(outDir, 'client.pcap'),
    serverPcap: join(outDir, 'server.pcap'),
    runJson: join(outDir, 'run.json'),
    report: join(outDir, 'report.md'),
    svg: join(outDir, 'evidence.svg'),
    png: join(outDir, 'evidence.png'),
  };

  const facts: RunFacts = {
    schema: RUN_FACTS_SCHEMA,
    tool: { name: 'synprobe', version: readVersion() },
    command: options.command,
    options: {
      peer, peerAddress: null, ports, ssh: sshTarget, sshOptions: options.sshOptions,
      interface: options.interface, remoteInterface: options.remoteInterface, sudo: options.sudo,
      max: options.max, connectTimeoutMs: options.connectTimeoutMs, holdMs: options.holdMs,
      bind: options.bind, remote: options.remote, out: outDir,
    },
    versions: {
      node: process.version, synprobe: readVersion(), ssh: null,
      tcpdumpClient: null, tcpdumpServer: null, kernelClient: null, kernelServer: null,
    },
    startedAt: isoFromNs(nowNs()),
    endedAt: null,
    status: 'running',
    phase: 'setup',
    interrupted: null,
    problems: [],
    client: emptyHost('client', 'local'),
    server: options.remote ? emptyHost('server', sshTarget!) : null,
    probe: null,
    ssh: null,
    files: { clientPcap: null, serverPcap: null, runJson: 'run.json', report: null },
  };

  // run.json exists from the start (and keeps room on the disk for its last version)
  let runFile: RunFactsFile;
  try {
    runFile = await RunFactsFile.create(files.runJson, facts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot write ${files.runJson}: ${e.code === 'ENOSPC' ? 'the disk is full' : e.code === 'EROFS' ? 'read-only file system' : e.message}: choose another --out`);
  }

  const log = hooks.log;
  const phase = (p: RunPhase): void => {
    facts.phase = p;
    void runFile.update(facts);
  };
  const problem = (code: string, message: string, fix?: string): void => {
    facts.problems.push({ phase: facts.phase, code, message, ...(fix ? { fix } : {}) });
  };
  // stops the probe and the hold: on Ctrl-C, or when a capture or the ssh connection dies
  const stopRun = new AbortController();
  const onUserAbort = (): void => {
    if (!facts.interrupted) {
      const reason = hooks.signal?.reason;
      facts.interrupted = { signal: typeof reason === 'string' ? reason : 'SIGINT', phase: facts.phase, at: isoFromNs(nowNs()) };
      log(`interrupted (${facts.interrupted.signal}) while ${facts.phase}: stopping the captures cleanly, keeping what was captured ...`);
    }
    stopRun.abort();
  };
  if (hooks.signal?.aborted) onUserAbort();
  hooks.signal?.addEventListener('abort', onUserAbort);
  const checkInterrupted = (): void => {
    if (hooks.signal?.aborted) throw new Interrupted();
  };

  let ctl: SshControl | null = null;
  let local: LocalCapture | null = null;
  let remote: RemoteCapture | null = null;
  let probe: HeldProbe | null = null;
  let localStop: CaptureStopResult | null = null;
  let remoteStop: CaptureStopResult | null = null;
  let clientIface = options.interface;
  let serverIface = options.remoteInterface;
  let peerAddress: string | null = null;
  let mainError: string | null = null;
  let diskWatch: DiskWatch | null = null;
  const localRunner: CommandRunner = createLocalRunner();

  const stopCaptures = async (): Promise<void> => {
    const [l, r] = await Promise.all([
      local && !localStop ? local.stop() : Promise.resolve(localStop),
      remote && !remoteStop ? remote.stop() : Promise.resolve(remoteStop),
    ]);
    localStop = l;
    remoteStop = r;
  };

  const takeCounters = async (which: 'before' | 'after'): Promise<void> => {
    const jobs: Promise<void>[] = [];
    jobs.push(takeSnapshot(localRunner, { interface: clientIface }).then((s) => { facts.client.counters[which] = s; }, (e: Error) => { log(`warning: counters on this host: ${e.message}`); }));
    if (ctl && facts.server && ctl.alive()) {
      const srv = facts.server;
      jobs.push(takeSnapshot(ctl.runner, { interface: serverIface, sudo: options.sudo }).then((s) => { srv.counters[which] = s; }, (e: Error) => { log(`warning: counters on the peer: ${e.message}`); }));
    }
    await Promise.all(jobs);
    for (const h of [facts.client, facts.server]) {
      if (h && which === 'after' && h.counters.before && h.counters.after) h.counters.diff = diffSnapshots(h.counters.before, h.counters.after);
    }
  };

  try {
    // -- setup
    peerAddress = await resolvePeer(peer);
    facts.options.peerAddress = peerAddress;
    checkInterrupted();
    if (sshTarget) {
      log(`connecting to ${sshTarget} over ssh (one connection, kept for the whole run) ...`);
      ctl = await openSshControl({ target: sshTarget, options: options.sshOptions, signal: hooks.signal });
      facts.ssh = { connection: ctl.connection?.text ?? null, controlled: true };
      const sshVersion = await localRunner.run(['ssh', '-V']);
      facts.versions.ssh = (sshVersion.stderr || sshVersion.stdout).trim().split('\n')[0] ?? null;
      ctl.onLost((stderr) => {
        problem('ssh-lost', `the ssh connection to ${sshTarget} closed during the run${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`);
        stopRun.abort();
      });
      const sshPort = ctl.connection?.portB;
      if (sshPort !== undefined && ports.includes(sshPort)) {
        log(`warning: the probe port ${sshPort} is the peer's ssh port: the ssh session is excluded from both captures by its 4-tuple`);
      }
    }
    checkInterrupted();

    // -- preflight
    phase('preflight');
    log('preflight ...');
    const evalOpts = { max: options.max, connectTimeoutMs: options.connectTimeoutMs, sudo: options.sudo, ports: ports.length };
    const clientPreflight = await collectHostPreflight(localRunner, {
      role: 'client', ports, bind: options.bind, peerAddress, interface: options.interface, connectTimeoutMs: options.connectTimeoutMs,
    });
    clientPreflight.findings = evaluatePreflight(clientPreflight, evalOpts);
    facts.client.preflight = clientPreflight;
    facts.versions.kernelClient = clientPreflight.kernel;
    facts.versions.tcpdumpClient = clientPreflight.tcpdump.version;
    clientIface = clientPreflight.captureInterface?.name ?? 'any';
    facts.client.interface = clientIface;
    if (ctl && facts.server) {
      const serverPre = await collectHostPreflight(ctl.runner, {
        role: 'server', ports, peerAddress, interface: options.remoteInterface, connectTimeoutMs: options.connectTimeoutMs,
        sshServerAddress: ctl.connection?.addrB ?? null, sudo: options.sudo,
      });
      serverPre.findings = evaluatePreflight(serverPre, evalOpts);
      if (options.sudo) serverPre.findings.unshift(await checkSudo(ctl.runner));
      facts.server.preflight = serverPre;
      facts.versions.kernelServer = serverPre.kernel;
      facts.versions.tcpdumpServer = serverPre.tcpdump.version;
      serverIface = serverPre.captureInterface?.name ?? 'any';
      facts.server.interface = serverIface;
    }
    for (const host of [facts.client, facts.server]) {
      for (const f of host?.preflight?.findings ?? []) {
        if (f.level === 'warn' || f.level === 'refuse' || f.id === 'syn-timing' || f.id === 'capacity' || f.id === 'sources') log(`  ${host!.role}: ${findingLine(f)}`);
      }
    }
    const refused = [...refusals(facts.client.preflight?.findings ?? []), ...refusals(facts.server?.preflight?.findings ?? [])];
    if (refused.length > 0) throw new PreflightRefusedError(refused);
    checkInterrupted();

    // -- counters before
    phase('counters-before');
    await takeCounters('before');
    checkInterrupted();

    // -- captures
    phase('capture-start');
    const clientFilter = buildClientFilter(peerAddress, ports, ctl?.connection ?? null);
    local = await startLocalCapture({ interface: clientIface, filter: clientFilter, file: files.clientPcap, snapLen });
    facts.files.clientPcap = 'client.pcap';
    facts.client.capture = captureFacts('client.pcap', clientIface, clientFilter, snapLen, local.argv, local.startedAtNs, 'own', null);
    log(`capturing on this host: tcpdump -i ${clientIface} (listening) → ${files.clientPcap}`);
    local.onUnexpectedExit((info) => {
      localStop = info;
      problem('capture-died', `the capture on this host stopped during the run: ${info.problem}`, 'the evidence ends there; check disk space and dmesg, then run again');
      log(`error: the capture on this host stopped: ${info.problem}`);
      stopRun.abort();
    });
    // tcpdump keeps running on a full disk without a word (see disk-space.ts): notice it here
    diskWatch = watchDiskSpace(outDir, (space) => {
      problem('disk-full', `the file system holding ${outDir} is full (${space.freeBytes} bytes free): the captures cannot record any more`, 'free space there, or choose another --out, and run again');
      log(`error: the disk holding ${outDir} is full: stopping the run`);
      stopRun.abort();
    });
    if (ctl && facts.server) {
      const serverFilter = buildServerFilter(ports);
      remote = await startRemoteCapture(ctl, {
        interface: serverIface ?? 'any', filter: serverFilter, file: files.serverPcap, snapLen, sudo: options.sudo,
      });
      facts.files.serverPcap = 'server.pcap';
      facts.server.capture = captureFacts('server.pcap', serverIface ?? 'any', remote.filter, snapLen, remote.argv, remote.startedAtNs, remote.clock, null);
      log(`capturing on the peer: tcpdump -i ${serverIface} (listening, streamed over ssh) → ${files.serverPcap}`);
      remote.onUnexpectedExit((info) => {
        remoteStop = info;
        problem('capture-died', `the capture on the peer stopped during the run: ${info.problem}`, 'the evidence from the peer ends there; see its message');
        log(`error: the capture on the peer stopped: ${info.problem}`);
        stopRun.abort();
      });
    }
    checkInterrupted();

    // -- probe
    phase('probing');
    const sources = facts.client.preflight?.sources?.addresses ?? [];
    const pairCount = Math.max(1, sources.length) * ports.length;
    log(`probing ${peerAddress} ${describePorts(ports)}${sources.length ? ` from ${sources.join(', ')}` : ''}: one connection at a time`
      + `${pairCount > 1 ? ` going round ${pairCount} (source, port) pairs` : ''}, each held, up to ${formatInteger(options.max)}, stop at the first failure (connect timeout ${options.connectTimeoutMs / 1000} s) ...`);
    const engineNote = chooseEngine().note;
    if (engineNote) log(`warning: ${engineNote}; probing with Node's sockets instead (about a third of the connect rate)`);
    probe = await runProbe({
      host: peerAddress,
      ports,
      max: options.max,
      connectTimeoutMs: options.connectTimeoutMs,
      ...(sources.length ? { binds: sources } : {}),
      ...(hooks.progress ? { onProgress: hooks.progress } : {}),
      signal: stopRun.signal,
    });
    const result = probe.result;
    facts.probe = { ...result, failure: result.failure ? { ...result.failure } : null, pairs: result.pairs.map((p) => ({ ...p })) };
    if (result.failure) {
      const f = result.failure;
      log(`attempt ${formatInteger(f.attempt)} failed after ${(f.elapsedMs / 1000).toFixed(1)} s: ${f.code} (${f.kind}); ${formatInteger(result.established)} connections held`);
      if (f.kind === 'refused' && result.established === 0) {
        problem('peer-not-listening', `the peer refused the first connection: nothing listens on ${peerAddress} port ${f.remotePort}`, `start the listener there first: synprobe serve --port ${formatPorts(ports)}`);
      } else if (f.kind === 'unreachable') {
        problem('peer-unreachable', `the peer is unreachable from here (${f.code}: ${f.message})`, 'check the address and the routes (ip route get ADDRESS)');
      } else if (f.kind === 'local-limit') {
        const portsCap = capacities(facts.client.preflight!, ports.length).find((c) => c.id === 'local-ports');
        const portsRanOut = (f.code === 'EADDRNOTAVAIL' || f.code === 'EADDRINUSE') && portsCap !== undefined;
        problem('local-limit',
          portsRanOut
            ? `this host ran out of local ports after ${formatInteger(result.established)} connections (${f.code}: ${f.message}): ${portsCap!.what} allow ${formatInteger(portsCap!.allows)}; a limit of this host, not of the network`
            : `a limit on this host stopped the probe (${f.code}: ${f.message}), not the network`,
          portsRanOut
            ? 'more source addresses (--bind a,b or --bind auto), more destination ports (--port 8000-8003), or a wider net.ipv4.ip_local_port_range'
            : 'see the preflight findings; raise the limit or lower --max');
      }
    } else {
      log(`${formatInteger(result.established)} connections established and held (${result.stoppedBy === 'max' ? `--max ${formatInteger(options.max)} reached` : 'probe stopped early'})`);
    }

    // -- hold
    if (!stopRun.signal.aborted && options.holdMs > 0) {
      phase('holding');
      log(`holding for ${options.holdMs / 1000} s ...`);
      await sleep(options.holdMs, stopRun.signal);
    }
  } catch (err) {
    if (err instanceof Interrupted || (err instanceof SshError && err.code === 'ssh-interrupted')) {
      // recorded by onUserAbort
    } else if (err instanceof PreflightRefusedError) {
      facts.status = 'refused';
      for (const f of err.findings) problem('preflight-refused', f.message, f.fix);
      mainError = `refusing to start: ${err.findings.map((f) => `${f.message}${f.fix ? ` — fix: ${f.fix}` : ''}`).join('; ')}`;
    } else if (err instanceof SshError || err instanceof TcpdumpError) {
      problem(err.code, err.message, err.fix);
      mainError = `${err.message}${err.fix ? ` — ${err.fix}` : ''}`;
    } else if (err instanceof UsageError) {
      problem('usage', err.message);
      mainError = err.message;
    } else {
      const e = err as Error;
      problem('internal', e.stack ?? String(e));
      mainError = `internal error: ${e.message}`;
    }
  } finally {
    diskWatch?.stop();
    // A signal from here on is still recorded (run.json says it came while stopping) but stops
    // nothing: the captures are stopped and flushed in full whatever arrives (the CLI quits at
    // once only on a third signal).
    // -- stop both captures while the connections are still held
    if (local || remote) {
      phase('capture-stop');
      await stopCaptures().catch((e: Error) => problem('capture-stop', e.message));
      if (local && facts.client.capture) {
        facts.client.capture = captureFacts('client.pcap', clientIface ?? 'any', facts.client.capture.filter, snapLen, local.argv, local.startedAtNs, 'own', localStop);
      }
      if (remote && facts.server?.capture) {
        facts.server.capture = captureFacts('server.pcap', serverIface ?? 'any', remote.filter, snapLen, remote.argv, remote.startedAtNs, remote.clock, remoteStop);
      }
      for (const host of [facts.client, facts.server]) {
        const c = host?.capture;
        if (!host || !c) continue;
        const where = host.role === 'client' ? 'on this host' : 'on the peer';
        if (!c.clean && !facts.problems.some((p) => p.code === 'capture-died' && p.message.includes(where))) {
          problem('capture-unclean', `the capture ${where} did not stop cleanly: ${c.problem}`);
        }
        if (c.droppedByKernel) {
          problem('kernel-drops', `tcpdump ${where} dropped ${formatInteger(c.droppedByKernel)} packets in the kernel: no SYN can be called lost while it dropped packets`, 'run again with fewer other traffic on the interface');
          log(`warning: tcpdump ${where} dropped ${formatInteger(c.droppedByKernel)} packets in the kernel`);
        }
        log(`stopped the capture ${where}: ${c.captured ?? '?'} packets captured, ${c.droppedByKernel ?? '?'} dropped by kernel${c.clean ? '' : ` (${c.problem})`}`);
      }
      phase('counters-after');
      await takeCounters('after').catch(() => undefined);
    }
    if (probe) {
      phase('closing');
      await probe.close().catch((e: Error) => problem('closing', e.message));
    }
    if (ctl) await ctl.close().catch(() => undefined);
    hooks.signal?.removeEventListener('abort', onUserAbort);
    if (facts.status !== 'refused') {
      if (facts.interrupted) facts.status = 'interrupted';
      else if (facts.problems.some((p) => !SOFT_PROBLEMS.has(p.code))) facts.status = 'failed';
      else facts.status = 'completed';
    }
    facts.endedAt = isoFromNs(nowNs());
    try {
      await runFile.finish(facts);
    } catch (err) {
      log(`error: cannot write ${files.runJson}: ${(err as Error).message}`);
      mainError ??= `cannot write ${files.runJson}: ${(err as Error).message}`;
    }
  }

  // -- analysis: whatever was captured
  let analysis: AnalysisResult | null = null;
  let report: string | null = null;
  const clientBytes = await stat(files.clientPcap).then((s) => s.size, () => 0);
  // nothing to analyze before the probe ran (refused, failed or interrupted early)
  if (local && clientBytes > 0 && facts.probe !== null) {
    phase('analyzing');
    const serverBytes = remote ? await stat(files.serverPcap).then((s) => s.size, () => 0) : 0;
    try {
      analysis = await analyzeCaptures({
        clientFile: files.clientPcap,
        serverFile: serverBytes > 0 ? files.serverPcap : null,
        ports,
        peer: peerAddress,
        run: facts,
      });
      const sections = runFactsSections(facts);
      const reproduce = [
        options.command.join(' '),
        `synprobe analyze client.pcap${serverBytes > 0 ? ' server.pcap' : ''} --port ${formatPorts(ports)} --peer ${peerAddress} --run run.json --format markdown`,
      ];
      // The picture first, so report.md can refer to it; a picture that fails costs only itself.
      let image: string | null = null;
      try {
        image = await writePictures(analysis, { svg: files.svg, png: files.png, redact: options.redact });
      } catch (err) {
        log(`warning: cannot write the evidence picture: ${(err as Error).message}`);
      }
      try {
        await writeNewFile(files.report, renderReport(analysis, 'markdown', { redact: options.redact, sections, reproduce, image }));
        facts.files.report = 'report.md';
      } catch (err) {
        log(`error: cannot write ${files.report}: ${(err as Error).message}`);
      }
      report = renderReport(analysis, options.format, { redact: options.redact, sections, reproduce });
    } catch (err) {
      const msg = `cannot analyze the captures: ${(err as Error).message}`;
      log(`error: ${msg} (the files are kept in ${outDir})`);
      mainError ??= msg;
    }
  }
  if (analysis || facts.phase === 'analyzing') facts.phase = 'done';

  if (!mainError) {
    const hard = facts.problems.find((p) => !SOFT_PROBLEMS.has(p.code) && p.code !== 'preflight-refused');
    if (hard) mainError = `${hard.message}${hard.fix ? ` — ${hard.fix}` : ''}`;
  }
  let exitStatus: 0 | 1 | 2 = 2;
  const capturesClean = (!local || facts.client.capture?.clean === true) && (!remote || facts.server?.capture?.clean === true);
  if (analysis && capturesClean && mainError === null && (facts.status === 'completed' || facts.status === 'interrupted')) {
    // interrupted but both captures stopped cleanly: the evidence stands, as far as it goes
    exitStatus = exitStatusFor(analysis);
  }
  if (!mainError && exitStatus === 2 && facts.status === 'interrupted') {
    mainError = facts.probe === null ? `interrupted while ${facts.interrupted?.phase ?? 'starting'}, before the probe started` : 'interrupted before the captures could be analyzed';
  }
  log(`files kept in ${outDir}`);
  return { exitStatus, facts, outDir, analysis, report, error: mainError };
}
