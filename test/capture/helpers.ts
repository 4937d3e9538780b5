/**
 * Helpers for the capture tests: prerequisites (root and tools; a failure, not a skip, on CI),
 * unique namespace names, a JavaScript build of the whole CLI (the capture runs "on the client
 * host", so it runs as `ip netns exec <client ns> node synprobe.js capture ...`: a Node process
 * cannot enter a namespace), and a look at which processes live in a namespace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statfsSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function missingPrerequisites(tools: string[]): string | null {
  if (process.getuid?.() !== 0) return 'root';
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t} || test -x ${t}`]).status !== 0);
  return missing.length > 0 ? `the tools ${missing.join(', ')}` : null;
}

/** true when the tests can run; on CI a missing prerequisite throws instead of skipping. */
export function canRunWith(tools: string[]): boolean {
  const missing = missingPrerequisites(tools);
  if (missing !== null && process.env['CI']) {
    throw new Error(`the capture tests need ${missing} (CI is set, so they fail instead of skipping)`);
  }
  return missing === null;
}

export function uniqueName(kind = 'cap'): string {
  return `sptest-${kind}-${randomBytes(3).toString('hex')}`;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/**
 * Transpiles src/ (no type check: tsc does that) into node_modules/.cache/synprobe-capture-test-
 * <hash>/dist, beside a copy of package.json and bin/, so `node <dir>/bin/synprobe.js` is the CLI
 * built from the sources as they are now. Returns the bin path.
 */
export function buildCli(): string {
  const files = listTs(join(ROOT, 'src'));
  const sources = files.map((f) => readFileSync(f, 'utf8'));
  const hash = createHash('sha256').update(ts.version).update('with build/ linked').update(files.join('\0')).update(sources.join('\0')).digest('hex').slice(0, 16);
  const cache = join(ROOT, 'node_modules', '.cache');
  const out = join(cache, `synprobe-capture-test-${hash}`);
  const bin = join(out, 'bin', 'synprobe.js');
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const staging = join(cache, `synprobe-capture-staging-${randomBytes(4).toString('hex')}`);
  files.forEach((file, i) => {
    const js = ts.transpileModule(sources[i]!, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: file,
    }).outputText;
    const target = join(staging, 'dist', relative(join(ROOT, 'src'), file).replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
  });
  copyFileSync(join(ROOT, 'package.json'), join(staging, 'package.json'));
  mkdirSync(join(staging, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin', 'synprobe.js'), join(staging, 'bin', 'synprobe.js'));
  // The probe's native connect loop, as npm install built it for the package.
  symlinkSync(join(ROOT, 'build'), join(staging, 'build'));
  try {
    renameSync(staging, out);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // built meanwhile by another run
  }
  // builds of older sources: gone after half an hour (a run still using one has long started)
  for (const e of readdirSync(cache)) {
    const p = join(cache, e);
    if (p !== out && /^synprobe-capture-(test|staging)-/.test(e) && Date.now() - statSync(p).mtimeMs > 30 * 60_000) {
      rmSync(p, { recursive: true, force: true });
    }
  }
  return bin;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs argv (no shell), collecting output; SIGKILL after timeoutMs. */
export function run(argv: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    child.on('error', (err) => { clearTimeout(timer); resolve({ code: null, signal: null, stdout, stderr: stderr + String(err) }); });
  });
}

/** The commands of the processes whose network namespace is `ns` (`ip netns pids`). */
export function processesIn(ns: string): Array<{ pid: number; comm: string; args: string }> {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  const out: Array<{ pid: number; comm: string; args: string }> = [];
  for (const p of (r.stdout ?? '').split('\n').map((s) => s.trim()).filter(Boolean)) {
    try {
      const comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      const args = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(p), comm, args });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function tcpdumpsIn(ns: string): number[] {
  return processesIn(ns).filter((p) => p.comm === 'tcpdump').map((p) => p.pid);
}

/** Waits until `check` is true (polling), or the timeout; returns the last value. */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

/** Children of `pid` with their argv. */
export function childrenOf(pid: number): Array<{ pid: number; args: string[] }> {
  const out: Array<{ pid: number; args: string[] }> = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      out.push({ pid: Number(e), args: readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean) });
    } catch {
      // gone
    }
  }
  return out;
}

/** Packets in a pcap that match a tcpdump filter (tcpdump -r, offline: no privileges, no traffic). */
export function countPackets(file: string, filter: string): number {
  return readWithTcpdump(file, filter, false);
}

/**
 * countPackets for a capture still being written (polling while a run goes on): the last record
 * may be half written, which tcpdump -r reports as a truncated file after printing the packets
 * before it; those count. A file not there yet has none.
 */
export function countPacketsSoFar(file: string, filter: string): number {
  return readWithTcpdump(file, filter, true);
}

function readWithTcpdump(file: string, filter: string, growing: boolean): number {
  const r = spawnSync('tcpdump', ['-n', '-r', file, filter], { encoding: 'utf8' });
  if (r.status !== 0 && !(growing && /truncated dump file|No such file/.test(r.stderr))) throw new Error(`tcpdump -r ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).length;
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

export interface CliRun {
  proc: import('node:child_process').ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The exit status (null when killed by a signal). */
  done: Promise<number | null>;
  /** Resolves once stderr matches `re` (what came before counts); rejects on exit or timeout. */
  waitStderr(re: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * Starts argv (no shell) with its output collected. `detached`: in a process group of its own
 * (its pid is the group's id), as a command typed on a terminal is.
 */
export function spawnCli(argv: string[], opts: { detached?: boolean; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false, env: opts.env ?? process.env });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; for (const w of [...waiters]) w(); });
  const done = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    done,
    waitStderr: (re, timeoutMs = 30_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} on stderr within ${timeoutMs} ms:\n${err}`)), timeoutMs);
      const check = (): void => { if (re.test(err)) { clearTimeout(timer); resolve(); } };
      waiters.push(check);
      void done.then(() => { if (!re.test(err)) { clearTimeout(timer); reject(new Error(`exited before ${re}:\n${err}`)); } });
      check();
    }),
  };
}

/** The inode of a named network namespace (/run/netns/<ns>), or null when it does not exist. */
export function netnsInode(ns: string): number | null {
  try {
    return statSync(`/run/netns/${ns}`).ino;
  } catch {
    return null;
  }
}

/** Every process whose network namespace is one of `inodes` (found through /proc/<pid>/ns/net). */
export function processesInNetns(inodes: Iterable<number>): Array<{ pid: number; args: string }> {
  const want = new Set([...inodes].map((i) => `net:[${i}]`));
  const out: Array<{ pid: number; args: string }> = [];
  if (want.size === 0) return out;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!want.has(readlinkSync(`/proc/${e}/ns/net`))) continue;
      out.push({ pid: Number(e), args: readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

/**
 * Processes still in a network namespace that had one of `inodes` and has since been deleted
 * (ip netns del). Namespace inodes are reused once free: an inode that a namespace named in
 * /run/netns has now belongs to a namespace made since (another test's), not to a leftover.
 */
export function processesInDeletedNetns(inodes: Iterable<number>): Array<{ pid: number; args: string }> {
  const named = new Set<number>();
  for (const e of readdirSync('/run/netns')) {
    try { named.add(statSync(`/run/netns/${e}`).ino); } catch { /* gone */ }
  }
  return processesInNetns([...inodes].filter((i) => !named.has(i)));
}

/** The pids of process group `pgid` (a process started with `detached` and what it started in it). */
export function processGroup(pgid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Fills the file system holding `dir` to the last block with a file `name`; returns its size. */
export function fillDisk(dir: string, name = 'ballast'): number {
  const fd = openSync(join(dir, name), 'wx');
  let size = 0;
  try {
    for (const chunk of [1 << 20, 64 << 10, 4096, 512, 1]) {
      const buf = Buffer.alloc(chunk);
      for (;;) {
        try {
          const n = writeSync(fd, buf, 0, chunk, size);
          size += n;
          if (n < chunk) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return size;
}

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/** A pcap filter for SYNs without ACK: the client's connection attempts. */
export const SYN_ONLY = 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0';

/** Signals one process the test found; never a group or everything (pid <= 0 is refused). */
export function signalPid(pid: number, sig: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`refusing to signal pid ${pid}`);
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** run.json in `out` as it is now: null while it is being rewritten (a torn read) or not there yet. */
export function readRunJsonIfWhole<T = unknown>(out: string): T | null {
  try {
    return JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as T;
  } catch {
    return null;
  }
}

/** `synprobe serve --port <lab ports>` from the CLI at `bin`, in the lab's server namespace; resolves once it listens. */
export async function startServeInLab(lab: { server: { ns: string }; port: number }, bin: string): Promise<ChildProcess> {
  const argv = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, bin, 'serve', '--port', String(lab.port)];
  const serve = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    serve.stdout!.on('data', (b: Buffer) => { seen += b.toString(); if (/listening/.test(seen)) resolve(); });
    serve.once('exit', (c) => reject(new Error(`serve exited ${c}: ${seen}`)));
  });
  return serve;
}

/** Nothing of a capture may be left: no tcpdump in either namespace, no ssh in the client one. */
export async function nothingLeftOf(lab: { client: { ns: string }; server: { ns: string } }): Promise<{ tcpdump: boolean; ssh: boolean }> {
  return {
    tcpdump: await waitFor(() => tcpdumpsIn(lab.server.ns).length === 0 && tcpdumpsIn(lab.client.ns).length === 0, 10_000),
    ssh: await waitFor(() => processesIn(lab.client.ns).filter((p) => p.comm === 'ssh').length === 0, 10_000),
  };
}
