/**
 * Preflight: the limits that would stop a probe before the network does, and the facts the
 * report needs (kernel, SYN retransmission timing), read on each host through a CommandRunner
 * so this host and the peer run the same code.
 *
 * Collecting (what the host says) and evaluating (what it means for --max) are separate: the
 * evaluation is a pure function, tested without any host.
 */
import { isIP } from 'node:net';
import type { HostPreflight, KernelTiming, PreflightFinding } from '../run/run-facts.js';
import { readFiles, type CommandRunner } from './runner.js';
import { formatPorts, parseLocalPortRange } from '../ports.js';
import { canonicalAddress } from '../address.js';
import { formatInteger } from '../numbers.js';

/** Descriptors synprobe needs besides the held connections (stdio, tcpdump pipes, ssh, timers). */
export const FD_HEADROOM = 64;
/** Conntrack entries to leave free besides the probe's own. */
export const CONNTRACK_HEADROOM = 1024;
/** Largest range of local ports Linux allows (1024-65535). */
export const MAX_USABLE_PORTS = 64512;

export class PreflightRefusedError extends Error {
  readonly findings: PreflightFinding[];
  constructor(findings: PreflightFinding[]) {
    const refusals = findings.filter((f) => f.level === 'refuse');
    super(refusals.map((f) => `${f.message}${f.fix ? ` — fix: ${f.fix}` : ''}`).join('\n'));
    this.name = 'PreflightRefusedError';
    this.findings = findings;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsers (pure)

/** `Max open files            1024                 524288               files` */
export function parseLimits(text: string): { soft: number | null; hard: number | null } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return { soft: null, hard: null };
  const num = (s: string): number | null => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : /^\d+$/.test(s) ? Number(s) : null);
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

export function parseIntOrNull(text: string | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : null;
}

/** "32768\t60999" and the reserved list "8000,9000-9010". */
export function parsePortRange(range: string | null | undefined, reserved: string | null | undefined): HostPreflight['localPortRange'] {
  const parsed = parseLocalPortRange(range, reserved);
  if (!parsed) return null;
  const { low, high } = parsed;
  const res = parsed.reserved.size;
  return { low, high, reserved: res, usable: Math.max(0, high - low + 1 - res) };
}

/**
 * When Linux retransmits a SYN and when connect() fails: the first wait is the initial RTO (1 s);
 * from kernel 6.5 the next `linear` waits stay at 1 s (tcp_syn_linear_timeouts), then each wait
 * doubles up to 120 s. There are `retries + linear` retransmissions (the linear ones come on
 * top of tcp_syn_retries), and connect() fails one wait after the last.
 */
export function synSchedule(retries: number, linear: number): { retransmitAt: number[]; timeoutSec: number } {
  const n = retries + linear;
  const waits: number[] = [];
  for (let k = 0; k <= n; k++) {
    if (k === 0 || k <= linear) waits.push(1);
    else waits.push(Math.min(2 ** (k - linear), 120));
  }
  const retransmitAt: number[] = [];
  let t = 0;
  for (let k = 0; k < n; k++) {
    t += waits[k]!;
    retransmitAt.push(t);
  }
  return { retransmitAt, timeoutSec: t + waits[n]! };
}

export function kernelTiming(retries: number | null, linear: number | null, connectTimeoutMs: number): KernelTiming {
  if (retries === null) {
    return { synRetries: null, synLinearTimeouts: linear, retransmitAt: [], kernelTimeoutSec: null, synCopiesWithinConnectTimeout: null };
  }
  const s = synSchedule(retries, linear ?? 0);
  const limitSec = connectTimeoutMs / 1000;
  return {
    synRetries: retries,
    synLinearTimeouts: linear,
    retransmitAt: s.retransmitAt,
    kernelTimeoutSec: s.timeoutSec,
    synCopiesWithinConnectTimeout: 1 + s.retransmitAt.filter((t) => t < Math.min(limitSec, s.timeoutSec)).length,
  };
}

/** `ip -o route get ADDR` → the dev. */
export function parseRouteDev(text: string): string | null {
  const m = /\bdev\s+(\S+)/.exec(text);
  return m ? m[1]! : null;
}

/** `ip -o addr show` → the interface holding `addr`. */
export function interfaceHolding(text: string, addr: string): string | null {
  const norm = canonicalAddress;
  const want = norm(addr);
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+?)(?:@\S+)?\s+inet6?\s+([0-9A-Fa-f.:]+)\//.exec(line);
    if (m && isIP(m[2]!) !== 0 && norm(m[2]!) === want) return m[1]!;
  }
  return null;
}

/** `ss -Hltn` lines → the local ports listened on. */
export function parseListeningPorts(text: string): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    const m = local ? /:(\d+)$/.exec(local) : null;
    if (m) ports.add(Number(m[1]));
  }
  return ports;
}

/** `ss` filter for listeners on any of the ports: ( sport = :8000 or sport = :8001 ). */
export function ssPortFilter(ports: readonly number[]): string {
  return `( ${ports.map((p) => `sport = :${p}`).join(' or ')} )`;
}

/**
 * `ip -o addr show dev IF` → the addresses usable as a source towards a peer of that family
 * (scope global; with `anyScope` every address, loopback and link-local too).
 */
export function sourceAddresses(text: string, family: 4 | 6, anyScope = false): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /\binet(6?)\s+([0-9A-Fa-f.:]+)\/\d+.*?\bscope\s+(\S+)/.exec(line);
    if (!m || (m[1] === '6') !== (family === 6) || (m[3] !== 'global' && !anyScope)) continue;
    if (/\b(tentative|dadfailed|deprecated)\b/.test(line)) continue;
    out.push(m[2]!);
  }
  return out;
}

/** `ss -Hltnp` lines → the pid of the listener, when ss could show it. */
export function parseListenerPid(text: string): number | null {
  const m = /pid=(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Collecting

export interface CollectOptions {
  role: 'client' | 'server';
  /** The probe's destination ports (server: is something listening on each). */
  ports: number[];
  /** Client: --bind as given (addresses, ['auto'] or []). */
  bind?: string[];
  /** The peer's address as the client dials it. */
  peerAddress: string;
  /** Interface named by the user (validated); null: choose one. */
  interface: string | null;
  /** Server: the server's address of the ssh control connection ($SSH_CONNECTION). */
  sshServerAddress?: string | null;
  sudo?: boolean;
  connectTimeoutMs: number;
}

const INFO_SCRIPT = [
  'echo "uid=$(id -u 2>/dev/null)"',
  'echo "user=$(id -un 2>/dev/null)"',
  'if p=$(command -v tcpdump 2>/dev/null); then echo "tcpdump_path=$p"; echo "tcpdump_version=$("$p" --version 2>&1 | head -n 1)"; fi',
].join('; ');

function kv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

export async function collectHostPreflight(runner: CommandRunner, opts: CollectOptions): Promise<HostPreflight> {
  const files = await readFiles(runner, [
    '/proc/sys/kernel/osrelease',
    '/proc/sys/net/ipv4/tcp_syn_retries',
    '/proc/sys/net/ipv4/tcp_syn_linear_timeouts',
    '/proc/sys/net/ipv4/ip_local_port_range',
    '/proc/sys/net/ipv4/ip_local_reserved_ports',
    '/proc/sys/fs/nr_open',
    '/proc/sys/fs/file-max',
    '/proc/sys/net/netfilter/nf_conntrack_count',
    '/proc/sys/net/netfilter/nf_conntrack_max',
    '/proc/self/limits',
  ]);
  const info = kv((await runner.run(['sh', '-c', INFO_SCRIPT])).stdout);
  const uid = parseIntOrNull(info.get('uid'));

  let openFiles: HostPreflight['openFiles'] = { soft: null, hard: null, of: 'synprobe' };
  let listening: boolean | null = null;
  let notListening: number[] = [];
  const portText = opts.ports.length === 1 ? `port ${opts.ports[0]}` : `ports ${formatPorts(opts.ports)}`;
  if (opts.role === 'client') {
    // the probe runs in this process; the command inherited its limits
    openFiles = { ...parseLimits(files.get('/proc/self/limits') ?? ''), of: 'synprobe (this process)' };
  } else {
    const ssArgv = ['ss', '-Hltnp', ssPortFilter(opts.ports)];
    let ss = await runner.run(ssArgv);
    // other users' pids need root: ask sudo when allowed
    if (opts.sudo && ss.ok && ss.stdout.trim() && parseListenerPid(ss.stdout) === null) {
      const viaSudo = await runner.run(ssArgv, { sudo: true });
      if (viaSudo.ok) ss = viaSudo;
    }
    if (ss.ok) {
      const open = parseListeningPorts(ss.stdout);
      notListening = opts.ports.filter((p) => !open.has(p));
      listening = notListening.length === 0;
      const pid = parseListenerPid(ss.stdout);
      if (pid !== null) {
        let lim = await readFiles(runner, [`/proc/${pid}/limits`]);
        if (lim.get(`/proc/${pid}/limits`) === null && opts.sudo) lim = await readFiles(runner, [`/proc/${pid}/limits`], { sudo: true });
        const cmd = await readFiles(runner, [`/proc/${pid}/comm`]);
        openFiles = { ...parseLimits(lim.get(`/proc/${pid}/limits`) ?? ''), of: `the listener on ${portText} (pid ${pid}, ${(cmd.get(`/proc/${pid}/comm`) ?? '?').trim()})` };
      } else {
        openFiles = { soft: null, hard: null, of: `the listener on ${portText}` };
      }
    }
  }

  // the interface tcpdump will capture on
  let captureInterface: HostPreflight['captureInterface'] = null;
  if (opts.interface) {
    const st = await readFiles(runner, [`/sys/class/net/${opts.interface}/operstate`]);
    captureInterface = {
      name: opts.interface,
      how: st.get(`/sys/class/net/${opts.interface}/operstate`) === null && opts.interface !== 'any' ? 'given (not found!)' : 'given',
    };
  } else if (opts.role === 'client') {
    const r = await runner.run(['ip', '-o', 'route', 'get', opts.peerAddress]);
    const dev = r.ok ? parseRouteDev(r.stdout) : null;
    captureInterface = dev ? { name: dev, how: `route to ${opts.peerAddress}` } : { name: 'any', how: 'no route found: all interfaces' };
  } else {
    const r = await runner.run(['ip', '-o', 'addr', 'show']);
    const byPeer = r.ok ? interfaceHolding(r.stdout, opts.peerAddress) : null;
    const bySsh = r.ok && opts.sshServerAddress ? interfaceHolding(r.stdout, opts.sshServerAddress) : null;
    if (byPeer) captureInterface = { name: byPeer, how: `holds ${opts.peerAddress}` };
    else if (bySsh) captureInterface = { name: bySsh, how: `holds ${opts.sshServerAddress} (the ssh connection's address)` };
    else captureInterface = { name: 'any', how: 'the peer address is not on an interface here (NAT?): all interfaces' };
  }

  // the source addresses to bind
  let sources: HostPreflight['sources'];
  if (opts.role === 'client' && opts.bind && opts.bind.length > 0) {
    const family = isIP(opts.peerAddress) === 6 ? 6 : 4;
    if (opts.bind.length === 1 && opts.bind[0] === 'auto') {
      const dev = captureInterface?.name ?? 'any';
      const r = dev === 'any' ? null : await runner.run(['ip', '-o', 'addr', 'show', 'dev', dev]);
      sources = { addresses: r?.ok ? sourceAddresses(r.stdout, family) : [], how: `--bind auto: the IPv${family} addresses of ${dev}`, missing: [] };
    } else {
      const r = await runner.run(['ip', '-o', 'addr', 'show']);
      const here = new Set(r.ok ? [...sourceAddresses(r.stdout, 4, true), ...sourceAddresses(r.stdout, 6, true)].map(canonicalAddress) : []);
      sources = {
        addresses: [...opts.bind],
        how: '--bind',
        missing: r.ok ? opts.bind.filter((a) => !here.has(canonicalAddress(a))) : [],
      };
    }
  }

  const ct = {
    count: parseIntOrNull(files.get('/proc/sys/net/netfilter/nf_conntrack_count')),
    max: parseIntOrNull(files.get('/proc/sys/net/netfilter/nf_conntrack_max')),
  };
  return {
    role: opts.role,
    kernel: files.get('/proc/sys/kernel/osrelease')?.trim() ?? null,
    tcpdump: { path: info.get('tcpdump_path') ?? null, version: info.get('tcpdump_version')?.replace(/^tcpdump version /, '') ?? null },
    user: { uid, name: info.get('user') ?? null },
    openFiles,
    nrOpen: parseIntOrNull(files.get('/proc/sys/fs/nr_open')),
    fileMax: parseIntOrNull(files.get('/proc/sys/fs/file-max')),
    localPortRange: parsePortRange(files.get('/proc/sys/net/ipv4/ip_local_port_range'), files.get('/proc/sys/net/ipv4/ip_local_reserved_ports')),
    conntrack: ct.count !== null && ct.max !== null ? { count: ct.count, max: ct.max } : null,
    timing: kernelTiming(
      parseIntOrNull(files.get('/proc/sys/net/ipv4/tcp_syn_retries')),
      parseIntOrNull(files.get('/proc/sys/net/ipv4/tcp_syn_linear_timeouts')),
      opts.connectTimeoutMs,
    ),
    listening,
    ...(opts.role === 'server' ? { notListening } : {}),
    ...(sources ? { sources } : {}),
    captureInterface,
    findings: [],
  };
}

/** With --sudo: can tcpdump run through `sudo -n` (no password prompt)? */
export async function checkSudo(runner: CommandRunner): Promise<PreflightFinding> {
  const r = await runner.run(['tcpdump', '--version'], { sudo: true, timeoutMs: 15_000 });
  if (r.ok) return { id: 'sudo', level: 'ok', message: `sudo -n tcpdump works ${runner.where}` };
  if (/password is required|a terminal is required|askpass/i.test(r.stderr)) {
    return {
      id: 'sudo', level: 'refuse', message: `sudo asks for a password ${runner.where}`,
      fix: 'allow tcpdump without a password there, e.g. /etc/sudoers.d/synprobe: "USER ALL=(root) NOPASSWD: /usr/sbin/tcpdump" (use the path of command -v tcpdump)',
    };
  }
  return { id: 'sudo', level: 'refuse', message: `sudo -n tcpdump failed ${runner.where}: ${r.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${r.exitCode}`}`,
    fix: 'allow tcpdump for this user in sudoers (NOPASSWD, no requiretty), or connect as root (--ssh root@HOST)' };
}

// ---------------------------------------------------------------------------------------------
// Evaluating (pure)

export interface EvaluateOptions {
  max: number;
  connectTimeoutMs: number;
  sudo?: boolean;
  /** Destination ports the probe goes round (default 1). */
  ports?: number;
}

/** One limit on how many connections a run can hold on a host. */
export interface Capacity {
  id: 'open-files' | 'nr-open' | 'file-max' | 'local-ports' | 'conntrack';
  /** Connections it allows. */
  allows: number;
  /** What it is, with the numbers it comes from. */
  what: string;
}

function plural(n: number, one: string, many: string): string {
  return `${formatInteger(n)} ${n === 1 ? one : many}`;
}

/**
 * The limits of this host on the number of connections the probe can hold, smallest first (the
 * first is the one that binds). Local ports: without --bind the kernel gives every destination
 * port the whole range from one address; with --bind the probe names the ports itself, so each
 * (source, destination port) pair gets the range too.
 */
export function capacities(host: HostPreflight, ports = 1): Capacity[] {
  const out: Capacity[] = [];
  const of = host.openFiles;
  if (of.soft !== null && of.soft < Number.MAX_SAFE_INTEGER) {
    out.push({ id: 'open-files', allows: Math.max(0, of.soft - FD_HEADROOM), what: `open files (ulimit -n ${formatInteger(of.soft)} of ${of.of}, less ${FD_HEADROOM} for synprobe itself)` });
  }
  if (host.role === 'client' && host.nrOpen !== null) {
    out.push({ id: 'nr-open', allows: Math.max(0, host.nrOpen - FD_HEADROOM), what: `fs.nr_open ${formatInteger(host.nrOpen)}` });
  }
  if (host.role === 'client' && host.localPortRange) {
    const r = host.localPortRange;
    const sources = host.sources ? host.sources.addresses.length : 1;
    out.push({
      id: 'local-ports',
      allows: r.usable * sources * ports,
      what: `local ports (${plural(r.usable, 'port', 'ports')} in ip_local_port_range ${r.low}-${r.high}${r.reserved ? ` less ${formatInteger(r.reserved)} reserved` : ''}`
        + ` × ${plural(sources, 'source address', 'source addresses')} × ${plural(ports, 'destination port', 'destination ports')})`,
    });
  }
  if (host.role === 'client' && host.conntrack && host.conntrack.count > 0) {
    const free = host.conntrack.max - host.conntrack.count - CONNTRACK_HEADROOM;
    out.push({ id: 'conntrack', allows: Math.max(0, free), what: `the conntrack table (nf_conntrack_max ${formatInteger(host.conntrack.max)}, ${formatInteger(host.conntrack.count)} in use, ${CONNTRACK_HEADROOM} kept free)` });
  }
  return out.sort((a, b) => a.allows - b.allows);
}

/** What the collected facts mean for a probe of `max` connections. */
export function evaluatePreflight(host: HostPreflight, opts: EvaluateOptions): PreflightFinding[] {
  const f: PreflightFinding[] = [];
  const where = host.role === 'client' ? 'on this host' : 'on the peer';
  const max = opts.max;

  // tcpdump present and allowed
  if (!host.tcpdump.path) {
    f.push({ id: 'tcpdump', level: 'refuse', message: `tcpdump is not installed ${where}`,
      fix: 'apt-get install tcpdump (Debian/Ubuntu) or dnf install tcpdump (Fedora/RHEL/Amazon Linux)' });
  } else {
    f.push({ id: 'tcpdump', level: 'ok', message: `tcpdump ${host.tcpdump.version ?? '?'} at ${host.tcpdump.path} ${where}` });
    if (host.user.uid !== null && host.user.uid !== 0 && !(host.role === 'server' && opts.sudo)) {
      f.push({ id: 'capture-permission', level: 'warn',
        message: `running as ${host.user.name ?? `uid ${host.user.uid}`} (not root) ${where}: tcpdump needs CAP_NET_RAW to capture`,
        fix: host.role === 'client' ? 'run synprobe as root (sudo), or setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)"' : 'pass --sudo, connect as root, or setcap cap_net_raw,cap_net_admin=eip on the peer\'s tcpdump' });
    }
  }

  if (host.captureInterface) {
    const bad = host.captureInterface.how.includes('not found');
    f.push({ id: 'interface', level: bad ? 'refuse' : 'ok',
      message: bad ? `interface ${host.captureInterface.name} does not exist ${where}` : `capturing on ${host.captureInterface.name} ${where} (${host.captureInterface.how})`,
      ...(bad ? { fix: `list them with "ip -br link" and pass ${host.role === 'client' ? '--interface' : '--remote-interface'}` } : {}) });
  }

  if (host.kernel) f.push({ id: 'kernel', level: 'info', message: `kernel ${host.kernel} ${where}` });

  // open files
  const need = max + FD_HEADROOM;
  const of = host.openFiles;
  if (of.soft !== null) {
    if (of.soft < need) {
      const hardNote = of.hard !== null && of.hard < need
        ? ` (the hard limit is ${formatInteger(of.hard)}: raise it as root${host.nrOpen !== null && host.nrOpen < need ? `, after sysctl -w fs.nr_open=${need}` : ''}, or in /etc/security/limits.conf)`
        : '';
      f.push({
        id: 'open-files', level: 'refuse',
        message: `${of.of} ${where} may hold ${formatInteger(of.soft)} open files, but --max ${formatInteger(max)} needs ${formatInteger(need)}`,
        fix: host.role === 'client'
          ? `run "ulimit -n ${need}" in this shell, then synprobe again${hardNote}; or lower --max`
          : `restart the listener with a higher limit: ulimit -n ${need}; synprobe serve ...${hardNote}; or lower --max`,
      });
    } else {
      f.push({ id: 'open-files', level: 'ok', message: `${of.of} ${where} may hold ${formatInteger(of.soft)} open files (--max ${formatInteger(max)} needs ${formatInteger(need)})` });
    }
  } else if (host.role === 'server') {
    f.push({ id: 'open-files', level: 'info', message: `the open-files limit of ${of.of} could not be read ${where}${opts.sudo ? '' : ' (try --sudo)'}` });
  }
  if (host.nrOpen !== null && host.nrOpen < need && host.role === 'client') {
    f.push({ id: 'nr-open', level: 'refuse', message: `fs.nr_open is ${formatInteger(host.nrOpen)} ${where}: no process can hold ${formatInteger(need)} files`,
      fix: `sysctl -w fs.nr_open=${need}` });
  }
  if (host.fileMax !== null && host.fileMax < need) {
    f.push({ id: 'file-max', level: host.role === 'client' ? 'refuse' : 'warn', message: `fs.file-max is ${formatInteger(host.fileMax)} ${where}, below ${formatInteger(need)}`,
      fix: `sysctl -w fs.file-max=${need * 2}` });
  }

  // source addresses: each must be on this host
  if (host.role === 'client' && host.sources) {
    const src = host.sources;
    if (src.addresses.length === 0) {
      f.push({ id: 'sources', level: 'refuse', message: `${src.how}: no address to bind ${where}`,
        fix: 'add addresses to the interface (ip addr add ADDRESS/PREFIX dev IFACE, or secondary private IPs on a cloud NIC) or name them with --bind a,b' });
    } else if (src.missing.length > 0) {
      f.push({ id: 'sources', level: 'refuse', message: `--bind ${src.missing.join(', ')}: not an address of this host`,
        fix: 'list the addresses with "ip -br addr" and give only those' });
    } else {
      f.push({ id: 'sources', level: 'ok', message: `${plural(src.addresses.length, 'source address', 'source addresses')} ${where} (${src.how}): ${src.addresses.join(', ')}` });
    }
  }

  // local ports: one source address reaches one destination port from at most this many ports
  const ports = opts.ports ?? 1;
  const caps = capacities(host, ports);
  const portsCap = caps.find((c) => c.id === 'local-ports');
  if (portsCap && host.localPortRange) {
    const r = host.localPortRange;
    if (portsCap.allows < max) {
      // A warning, not a refusal: the probe runs and says where it stopped; a ceiling that is
      // this host's port range is itself the answer some users are looking for.
      f.push({
        id: 'local-ports', level: 'warn',
        message: `${portsCap.what} ${where} allow ${formatInteger(portsCap.allows)} connections, fewer than --max ${formatInteger(max)}: the probe will stop there with a local-ports error (EADDRNOTAVAIL), a limit of this host, not of the path`,
        fix: r.usable < MAX_USABLE_PORTS
          ? `sysctl -w net.ipv4.ip_local_port_range="1024 65535"; or more source addresses (--bind a,b or --bind auto) or destination ports (--port 8000-8003); or lower --max`
          : 'more source addresses (--bind a,b or --bind auto) or destination ports (--port 8000-8003; synprobe serve --port 8000-8003); or lower --max',
      });
    } else {
      f.push({ id: 'local-ports', level: 'ok', message: `${portsCap.what} ${where}: ${formatInteger(portsCap.allows)} connections` });
    }
  }
  if (host.role === 'client' && caps.length > 0) {
    const first = caps[0]!;
    f.push({
      id: 'capacity', level: 'info',
      message: `at most ${formatInteger(first.allows)} connections can be held ${where}; the limit reached first: ${first.what}`
        + (caps.length > 1 ? `; then ${caps.slice(1).map((c) => `${c.what}: ${formatInteger(c.allows)}`).join('; ')}` : '')
        + `; --max ${formatInteger(max)}`,
    });
  }

  // conntrack: only in use when something counts entries
  if (host.conntrack) {
    const { count, max: ctMax } = host.conntrack;
    const free = ctMax - count;
    if (free < max + CONNTRACK_HEADROOM && count > 0) {
      f.push({
        id: 'conntrack', level: host.role === 'client' ? 'refuse' : 'warn',
        message: `nf_conntrack_max is ${formatInteger(ctMax)} with ${formatInteger(count)} entries in use ${where}: a full table drops new SYNs ${host.role === 'client' ? 'before they leave' : 'after they arrive'}`,
        fix: `sysctl -w net.netfilter.nf_conntrack_max=${max * 2 + CONNTRACK_HEADROOM}`,
      });
    } else if (free < max + CONNTRACK_HEADROOM) {
      f.push({ id: 'conntrack', level: 'info', message: `nf_conntrack_max is ${formatInteger(ctMax)} ${where} (no entry in use: connection tracking looks inactive here)` });
    } else {
      f.push({ id: 'conntrack', level: 'ok', message: `nf_conntrack_max ${formatInteger(ctMax)}, ${formatInteger(count)} in use ${where}` });
    }
  }

  if (host.role === 'server' && host.listening === false) {
    const missing = host.notListening ?? [];
    const which = missing.length > 0 ? `${missing.length === 1 ? 'port' : 'ports'} ${formatPorts(missing)}` : 'the probe port';
    f.push({ id: 'listener', level: 'warn', message: `nothing listens on ${which} on the peer: the first attempt there will be refused`,
      fix: `start the listener there first: synprobe serve --port ${missing.length > 0 ? formatPorts(missing) : 'PORT'}` });
  }

  // how long a failing connect takes
  const t = host.timing;
  if (t.kernelTimeoutSec !== null) {
    const limitSec = opts.connectTimeoutMs / 1000;
    f.push({
      id: 'syn-timing', level: 'info',
      message: `tcp_syn_retries ${t.synRetries}${t.synLinearTimeouts !== null ? `, tcp_syn_linear_timeouts ${t.synLinearTimeouts}` : ''} ${where}: a SYN that gets no answer is sent again after ${t.retransmitAt.join(', ')} s and connect() fails after ${t.kernelTimeoutSec} s`
        + (host.role === 'client' ? `; --connect-timeout ${limitSec} s gives up after ${t.synCopiesWithinConnectTimeout} SYN cop${t.synCopiesWithinConnectTimeout === 1 ? 'y' : 'ies'}` : ''),
    });
  }
  return f;
}

export function refusals(findings: PreflightFinding[]): PreflightFinding[] {
  return findings.filter((x) => x.level === 'refuse');
}
