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

/** Removes labs left behind by killed runs. Returns their names. */
export async function cleanupLabs(name = LAB_NAME): Promise<string[]> {
  const stale = await findStaleLabs(name);
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
  if (opts.scenario === 'lossy') return Math.min(opts.limit, 40);
  if (opts.scenario === 'open') return opts.limit;
  return opts.limit + 50;
}

export function captureArgs(lab: Lab, opts: LabRunOptions, sshd: LabSshd | null): string[] {
  const args = [
    'capture',
    '--peer', lab.peer,
    '--port', String(lab.port),
    '--interface', lab.client.iface,
    '--remote-interface', lab.server.iface,
    '--max', String(maxAttempts(opts)),
    '--connect-timeout', opts.connectTimeout,
    '--hold', '1s',
    '--format', opts.format,
  ];
  if (sshd) {
    args.push('--ssh', sshd.target);
    for (const o of sshd.sshOptions) args.push(`--ssh-option=${o}`);
  }
  if (opts.out) args.push('--out', opts.out);
  if (opts.redact) args.push('--redact');
  return args;
}

export async function runLab(opts: LabRunOptions, hooks: LabRunHooks): Promise<LabRunResult> {
  const name = opts.name ?? LAB_NAME;
  await checkLabPrerequisites(opts.remote);
  const stale = await cleanupLabs(name);
  if (stale.length > 0) hooks.log(`removed a lab left behind by an earlier run: ${stale.join(', ')}`);

  let lab: Lab | null = null;
  let server: ChildProcess | null = null;
  let capture: ChildProcess | null = null;
  let sshd: LabSshd | null = null;
  const onAbort = (): void => {
    // Ctrl-C: let capture stop its tcpdumps and keep what it captured; teardown follows.
    capture?.kill('SIGINT');
  };
  hooks.signal?.addEventListener('abort', onAbort);
  try {
    hooks.log(`building lab '${name}' (scenario ${opts.scenario}, limit ${opts.limit}) ...`);
    lab = await createLab({ name, scenario: opts.scenario, limit: opts.limit });
    for (const r of lab.rules) hooks.log(`  nft in ${r.ns}: ${r.script.replace(/\s+/g, ' ').trim()}`);

    const serveArgv = inNamespace(lab.server.ns, [process.execPath, BIN, 'serve', '--port', String(lab.port)]);
    server = spawn(serveArgv[0], serveArgv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForOutput(server, /listening/i, 10_000, 'synprobe serve');
    hooks.log(`  synprobe serve listening on ${lab.peer.includes(':') ? `[${lab.peer}]` : lab.peer}:${lab.port} in ${lab.server.ns}`);

    sshd = await startSshd(lab);
    hooks.log(`  sshd listening in ${lab.server.ns} (throw-away key in ${sshd.dir})`);
    if (hooks.signal?.aborted) throw new LabError('interrupted');

    const argv = inNamespace(lab.client.ns, [process.execPath, BIN, ...captureArgs(lab, opts, sshd)]);
    hooks.log(`running in ${lab.client.ns}: synprobe ${captureArgs(lab, opts, sshd).join(' ')}`);
    capture = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    capture.stdout!.on('data', (b: Buffer) => hooks.stdout(b.toString('utf8')));
    capture.stderr!.on('data', (b: Buffer) => hooks.stderr(b.toString('utf8')));
    const exitCode = await new Promise<number>((resolve) => {
      capture!.once('exit', (code, sig) => resolve(code ?? (sig ? 2 : 0)));
    });
    return { exitCode, lab, kept: opts.keep };
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    await stopChild(capture);
    // Processes never outlive the command; with --keep the namespaces and their rules stay.
    await stopChild(server);
    await sshd?.stop().catch(() => undefined);
    if (!opts.keep || lab === null) {
      await destroyLab(name).catch((err: Error) => hooks.log(`warning: teardown: ${err.message}`));
    } else {
      hooks.log(`lab '${name}' kept (namespaces and nft rules; no process left running). Enter it with:`);
      for (const ns of [lab.client.ns, lab.router.ns, lab.server.ns]) hooks.log(`  ip netns exec ${ns} bash`);
      hooks.log(`start the listener again with: ip netns exec ${lab.server.ns} npx synprobe serve --port ${lab.port}`);
      hooks.log('remove it with: synprobe lab --cleanup');
    }
  }
}
