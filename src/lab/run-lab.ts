/**
 * `synprobe lab`: builds the client — router — server namespaces, starts `synprobe serve` and a
 * throw-away OpenSSH server in the server namespace, and runs `synprobe capture` from the client
 * namespace exactly as a user would against a real peer. Teardown always happens (success,
 * error, Ctrl-C); a lab left by a killed run is removed at the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLab, destroyLab, findStaleLabs, inNamespace, startSshd, type Lab, type LabSshd, type Scenario } from './topology.js';
import { findExecutable } from '../tcpdump/local.js';
import { describePorts, formatPorts } from '../ports.js';

export const LAB_NAME = 'synlab';

export interface LabRunOptions {
  scenario: Scenario;
  limit: number;
  /** How capture reaches the server host; only ssh (a real sshd in the server namespace) for now. */
  remote: 'ssh';
  keep: boolean;
  out: string | null;
  format: string;
  redact: boolean;
  /** The probe's connect timeout: how long the failing attempt retransmits. */
  connectTimeout: string;
  /** Lab name (namespace prefix); tests use their own. */
  name?: string;
  /** Probe ports (default [8000]): synprobe serve listens on all, capture goes round them. */
  ports?: number[];
  /** Client source addresses (default 1); more than one are all given to capture --bind. */
  sources?: number;
  /** Narrow the client's ip_local_port_range to this many ports. */
  localPorts?: number;
  /** The probe's --max (default: from the scenario and the limit). */
  max?: number;
}

export interface LabRunHooks {
  /** Progress lines ("building lab ...") for stderr. */
  log(line: string): void;
  /** Where the capture child's stdout goes (the report). */
  stdout(text: string): void;
  stderr(text: string): void;
  signal?: AbortSignal;
}

export interface LabRunResult {
  exitCode: number;
  lab: Lab | null;
  kept: boolean;
}

/** The Debian package that brings each tool the lab runs. */
const TOOLS: Array<[string, string]> = [
  ['ip', 'iproute2'],
  ['nft', 'nftables'],
  ['tcpdump', 'tcpdump'],
  ['sshd', 'openssh-server'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
];

export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

export async function checkLabPrerequisites(remote: 'ssh' | 'none'): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new LabError('synprobe lab needs root (it creates network namespaces): run it with sudo, e.g. sudo npx synprobe lab');
  }
  const missing: string[] = [];
  for (const [tool, pkg] of TOOLS) {
    if (remote === 'none' && pkg.startsWith('openssh')) continue;
    if ((await findExecutable(tool)) === null) missing.push(`${tool} (Debian package ${pkg})`);
  }
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => /package (\S+)\)/.exec(m)![1]))].join(' ');
    throw new LabError(`missing ${missing.join(', ')}: apt-get install ${pkgs}`);
  }
}

/** Removes the lab `name` if a killed run (or --keep) left it behind. Returns the names removed. */
export async function cleanupLabs(name = LAB_NAME): Promise<string[]> {
  // exactly this lab: findStaleLabs matches a prefix, and 'synlab' must not take 'synlab2' along
  const stale = (await findStaleLabs(name)).filter((n) => n === name);
  for (const lab of stale) await destroyLab(lab);
  return stale;
}

const BIN = fileURLToPath(new URL('../../bin/synprobe.js', import.meta.url));

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new LabError(`${what} did not start within ${timeoutMs} ms: ${seen.trim()}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new LabError(`${what} exited (${code}) before it was ready: ${seen.trim()}`));
    });
  });
}

function stopChild(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Probes per scenario: a cap stops the probe at limit + 1; the others run to a fixed count. */
function maxAttempts(opts: LabRunOptions): number {
  if (opts.max !== undefined) return opts.max;
  if (opts.scenario === 'lossy') return Math.min(opts.limit, 40);
  if (opts.scenario === 'open') return opts.limit;
  return opts.limit + 50;
}

export function captureArgs(lab: Lab, opts: LabRunOptions, sshd: LabSshd | null): string[] {
  const args = [
    'capture',
    '--peer', lab.peer,
    '--port', formatPorts(lab.ports),
    '--interface', lab.client.iface,
    '--remote-interface', lab.server.iface,
    '--max', String(maxAttempts(opts)),
    '--connect-timeout', opts.connectTimeout,
    '--hold', '1s',
    '--format', opts.format,
  ];
  if (lab.clientSources.length > 1) args.push('--bind', lab.clientSources.join(','));
  if (sshd) {
    args.push('--ssh', sshd.target);
    for (const o of sshd.sshOptions) args.push(`--ssh-option=${o}`);
  }
  if (opts.out) args.push('--out', opts.out);
  if (opts.redact) args.push('--redact');
  return args;
}

/** What the lab was doing, for the line that reports an interruption. */
export type LabStep = 'building the lab' | 'starting synprobe serve' | 'starting sshd' | 'running capture';

/** The signal named by an AbortSignal's reason (the CLI aborts with the signal's name). */
function signalName(signal: AbortSignal | undefined): NodeJS.Signals {
  const reason: unknown = signal?.reason;
  return reason === 'SIGTERM' || reason === 'SIGHUP' ? reason : 'SIGINT';
}

/**
 * Runs the lab. On `hooks.signal` (Ctrl-C, SIGTERM): while capture runs, the same signal is passed
 * on to it once, so it stops both tcpdumps cleanly and keeps what they captured; before that, the
 * step under way finishes (none takes more than seconds) and nothing further starts. Either way
 * the teardown follows, and one line says what was interrupted; the result's exit status is 2.
 *
 * The children run in their own process groups: Ctrl-C on a terminal signals the whole
 * foreground group, and must reach only this process. Otherwise `synprobe serve` would close
 * every held connection, and capture would get the signal twice, while capture still stops the
 * tcpdumps "while every connection is held".
 */
export async function runLab(opts: LabRunOptions, hooks: LabRunHooks): Promise<LabRunResult> {
  const name = opts.name ?? LAB_NAME;
  await checkLabPrerequisites(opts.remote);
  const stale = await cleanupLabs(name);
  if (stale.length > 0) hooks.log(`removed a lab left behind by an earlier run: ${stale.join(', ')}`);

  let lab: Lab | null = null;
  let server: ChildProcess | null = null;
  let capture: ChildProcess | null = null;
  let sshd: LabSshd | null = null;
  let step: LabStep = 'building the lab';
  let interruptedAt: LabStep | null = null;
  const onAbort = (): void => {
    interruptedAt ??= step;
    // capture stops its tcpdumps and keeps what it captured; teardown follows its exit
    if (capture && capture.exitCode === null && capture.signalCode === null) capture.kill(signalName(hooks.signal));
  };
  if (hooks.signal?.aborted) onAbort();
  hooks.signal?.addEventListener('abort', onAbort);
  const interrupted = (): boolean => hooks.signal?.aborted === true;
  try {
    try {
      if (interrupted()) return { exitCode: 2, lab, kept: false };
      hooks.log(`building lab '${name}' (scenario ${opts.scenario}, limit ${opts.limit}) ...`);
      lab = await createLab({
      name, scenario: opts.scenario, limit: opts.limit,
      ...(opts.ports ? { ports: opts.ports } : {}),
      ...(opts.sources ? { clientAddresses: opts.sources } : {}),
      ...(opts.localPorts ? { localPorts: opts.localPorts } : {}),
    });
    if (lab.clientSources.length > 1) hooks.log(`  client source addresses: ${lab.clientSources.join(', ')}`);
    if (lab.clientPortRange) hooks.log(`  client ip_local_port_range narrowed to ${lab.clientPortRange[0]}-${lab.clientPortRange[1]}`);
      for (const r of lab.rules) hooks.log(`  nft in ${r.ns}: ${r.script.replace(/\s+/g, ' ').trim()}`);
      if (interrupted()) return { exitCode: 2, lab, kept: opts.keep };

      step = 'starting synprobe serve';
      const serveArgv = inNamespace(lab.server.ns, [process.execPath, BIN, 'serve', '--port', formatPorts(lab.ports)]);
      server = spawn(serveArgv[0], serveArgv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      await waitForOutput(server, /listening/i, 10_000, 'synprobe serve');
      hooks.log(`  synprobe serve listening on ${lab.peer} ${describePorts(lab.ports)} in ${lab.server.ns}`);
      if (interrupted()) return { exitCode: 2, lab, kept: opts.keep };

      step = 'starting sshd';
      sshd = await startSshd(lab);
      hooks.log(`  sshd listening in ${lab.server.ns} (throw-away key in ${sshd.dir})`);
      if (interrupted()) return { exitCode: 2, lab, kept: opts.keep };

      step = 'running capture';
      const argv = inNamespace(lab.client.ns, [process.execPath, BIN, ...captureArgs(lab, opts, sshd)]);
      hooks.log(`running in ${lab.client.ns}: synprobe ${captureArgs(lab, opts, sshd).join(' ')}`);
      capture = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      capture.stdout!.on('data', (b: Buffer) => hooks.stdout(b.toString('utf8')));
      capture.stderr!.on('data', (b: Buffer) => hooks.stderr(b.toString('utf8')));
      const exitCode = await new Promise<number>((resolve) => {
        capture!.once('exit', (code, sig) => resolve(code ?? (sig ? 2 : 0)));
      });
      return { exitCode: interrupted() ? 2 : exitCode, lab, kept: opts.keep };
    } catch (err) {
      // a step that failed because of the interruption (a command killed by a terminal's Ctrl-C)
      if (interrupted()) return { exitCode: 2, lab, kept: opts.keep && lab !== null };
      throw err;
    }
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    await stopChild(capture);
    // Processes never outlive the command; with --keep the namespaces and their rules stay.
    await stopChild(server);
    await sshd?.stop().catch(() => undefined);
    let removed = false;
    if (!opts.keep || lab === null) {
      removed = await destroyLab(name).then(() => true, (err: Error) => { hooks.log(`warning: teardown: ${err.message}`); return false; });
    } else {
      hooks.log(`lab '${name}' kept (namespaces and nft rules; no process left running). Enter it with:`);
      for (const ns of [lab.client.ns, lab.router.ns, lab.server.ns]) hooks.log(`  ip netns exec ${ns} bash`);
      hooks.log(`start the listener again with: ip netns exec ${lab.server.ns} npx synprobe serve --port ${formatPorts(lab.ports)}`);
      hooks.log(`remove it with: synprobe lab --cleanup${name === LAB_NAME ? '' : ` --name ${name}`}`);
    }
    if (interrupted()) {
      const what = removed ? `lab '${name}' torn down, nothing of it left running` : opts.keep && lab !== null ? `lab '${name}' kept, nothing of it left running` : `the teardown of lab '${name}' failed: remove it with synprobe lab --cleanup${name === LAB_NAME ? '' : ` --name ${name}`}`;
      hooks.log(`interrupted (${signalName(hooks.signal)}) while ${interruptedAt ?? step}: ${what}`);
    }
  }
}
