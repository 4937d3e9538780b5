/**
 * The lab: three network namespaces on this machine, client — router — server, joined by veth
 * pairs, with a stateful nftables firewall whose connection cap reproduces the case synprobe
 * exists for (new SYNs silently dropped once N connections are tracked), and variants of the
 * same rule for every other verdict.
 *
 * Addresses. IPv4 comes from 198.18.0.0/15 and IPv6 from 2001:2::/48, the ranges reserved for
 * benchmarking (RFC 2544 and RFC 5180): they are never assigned to real networks, so the lab
 * cannot clash with the host's own addresses or routes, and everything stays inside the lab's
 * namespaces anyway.
 *
 *   client  198.18.0.2   2001:2:0:1::2   veth-client
 *   router  198.18.0.1   2001:2:0:1::1   veth-rc      (client side)
 *   router  198.19.0.1   2001:2:0:2::1   veth-rs      (server side)
 *   server  198.19.0.2   2001:2:0:2::2   veth-server
 *
 * Every namespace is named `<name>-client`, `<name>-router`, `<name>-server`, so labs with
 * different names (tests use their own prefix) never meet. Needs root, iproute2 and nftables.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, readFile, rm, mkdir, chmod } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export type Scenario = 'path-cap' | 'synack-lost' | 'server-drop' | 'refused' | 'lossy' | 'nat' | 'ipv6' | 'open';

export const SCENARIOS: readonly Scenario[] = ['path-cap', 'synack-lost', 'server-drop', 'refused', 'lossy', 'nat', 'ipv6', 'open'];

/** One line per scenario: what the rule does and the verdict it produces. */
export const SCENARIO_DESCRIPTIONS: Readonly<Record<Scenario, string>> = {
  'path-cap': 'router tracks at most LIMIT connections per destination; new SYNs past it are dropped silently (lost-in-path, the seed case)',
  'synack-lost': 'router lets every SYN through but drops the SYN-ACKs of connections past LIMIT on their way back (synack-lost)',
  'server-drop': "server's own input hook drops new SYNs past LIMIT after they arrived (unanswered-at-server)",
  refused: 'router answers SYNs past LIMIT with a TCP reset (refused)',
  lossy: 'no cap; the router drops every Nth new SYN (a counter, so no attempt loses two copies in a row), so some attempts need a retransmission (established-after-loss)',
  nat: 'path-cap plus source NAT in the router to its server-side address with new ports (server sees other 4-tuples)',
  ipv6: 'path-cap over IPv6',
  open: 'no rule: every connection gets through',
};

/** The ranges the lab's addresses come from, for --help and reports. */
export const LAB_ADDRESSES = {
  ipv4Range: '198.18.0.0/15',
  ipv6Range: '2001:2::/48',
  note: 'benchmarking ranges (RFC 2544, RFC 5180): never assigned to real networks',
} as const;

export interface LabHost { ns: string; iface: string; addr4: string; addr6: string }

export interface Lab {
  name: string;
  scenario: Scenario;
  limit: number;
  client: LabHost;
  server: LabHost;
  router: { ns: string; clientSide: LabHost; serverSide: LabHost };
  /** The address the client targets: server.addr4, or server.addr6 for 'ipv6'. */
  peer: string;
  /** The TCP port the scenario rules apply to (the probe's port); nothing else is capped. */
  port: number;
  /** Every probe port (port is the first); the rules apply to all of them. */
  ports: number[];
  /**
   * The client's source addresses for the probe (of the scenario's family): client.addr4/addr6
   * alone, or several secondary addresses on the same veth (.3, .4, ...).
   */
  clientSources: string[];
  /** The client's ip_local_port_range when narrowed (localPorts), else null. */
  clientPortRange: [number, number] | null;
  /** The nftables scripts installed, per namespace (for reports and "commands to reproduce"). */
  rules: { ns: string; script: string }[];
}

export interface CreateLabOptions {
  /** Prefix of the namespaces; default 'synlab'. */
  name?: string;
  scenario: Scenario;
  /** Connections the cap allows (ignored by 'lossy' and 'open'). */
  limit: number;
  /** 'lossy': drop one new SYN in N (default 4). */
  lossModulo?: number;
  /** Set net.ipv4.tcp_syn_retries in the client namespace (e.g. 3 so a failing connect ends in ~4 s). */
  synRetries?: number;
  /** The probe's port, the only one the rules touch; default 8000. */
  port?: number;
  /** Several probe ports (overrides port): the rules touch all of them, and a cap counts them together. */
  ports?: number[];
  /** Source addresses on the client (1-200; default 1): the extra ones are secondary addresses. */
  clientAddresses?: number;
  /** Narrow the client's ip_local_port_range to this many ports (40000 up), to show the local-ports limit. */
  localPorts?: number;
}

export interface LabSshd {
  port: number;
  user: string;
  /** user@addr */
  target: string;
  /** -i key, -o UserKnownHostsFile=..., -o StrictHostKeyChecking=yes, -p ..., -o BatchMode=yes, ... */
  sshOptions: string[];
  dir: string;
  stop(): Promise<void>;
}

const SUFFIXES = ['client', 'router', 'server'] as const;
const DEFAULT_NAME = 'synlab';
const DEFAULT_PORT = 8000;
const TABLE = 'synlab';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;

/** argv that runs `argv` inside network namespace `ns`: ['ip','netns','exec',ns,...argv]. */
export function inNamespace(ns: string, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs a command without a shell; rejects with stderr in the message unless `allowFailure`. */
export function runCommand(
  argv: string[],
  opts: { input?: string; allowFailure?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout, stderr };
      if (code !== 0 && !opts.allowFailure) {
        const why = signal ? `killed by ${signal}` : `exit ${code}`;
        reject(new Error(`${argv.join(' ')}: ${why}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      resolve(result);
    });
    child.stdin.on('error', () => { /* the child may exit before reading */ });
    child.stdin.end(opts.input ?? '');
  });
}

function validateOptions(opts: CreateLabOptions): { name: string; ports: number[] } {
  const name = opts.name ?? DEFAULT_NAME;
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`lab name '${name}' must be letters, digits, '.', '_' or '-' (at most 48, starting with a letter or digit)`);
  }
  if (!SCENARIOS.includes(opts.scenario)) {
    throw new Error(`unknown scenario '${String(opts.scenario)}' (one of ${SCENARIOS.join(', ')})`);
  }
  if (!Number.isInteger(opts.limit) || opts.limit < 0 || opts.limit > 10_000_000) {
    throw new Error(`limit must be an integer from 0 to 10000000, not ${opts.limit}`);
  }
  const ports = opts.ports ?? [opts.port ?? DEFAULT_PORT];
  if (ports.length === 0 || new Set(ports).size !== ports.length) throw new Error('ports must be distinct and at least one');
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535 || port === 22) {
      throw new Error(`port must be 1-65535 and not 22 (ssh is never capped), not ${port}`);
    }
  }
  if (opts.clientAddresses !== undefined && (!Number.isInteger(opts.clientAddresses) || opts.clientAddresses < 1 || opts.clientAddresses > 200)) {
    throw new Error(`clientAddresses must be an integer from 1 to 200, not ${opts.clientAddresses}`);
  }
  if (opts.localPorts !== undefined && (!Number.isInteger(opts.localPorts) || opts.localPorts < 1 || opts.localPorts > 25000)) {
    throw new Error(`localPorts must be an integer from 1 to 25000, not ${opts.localPorts}`);
  }
  if (opts.lossModulo !== undefined && (!Number.isInteger(opts.lossModulo) || opts.lossModulo < 2)) {
    throw new Error(`lossModulo must be an integer >= 2, not ${opts.lossModulo}`);
  }
  if (opts.synRetries !== undefined && (!Number.isInteger(opts.synRetries) || opts.synRetries < 1 || opts.synRetries > 127)) {
    throw new Error(`synRetries must be an integer from 1 to 127, not ${opts.synRetries}`);
  }
  return { name, ports };
}

/** The first port of a narrowed client port range (clear of the NAT scenario's 20000-29999). */
const LOCAL_PORT_BASE = 40000;

function describeLab(name: string, scenario: Scenario, limit: number, ports: number[], clientAddresses = 1, localPorts?: number): Lab {
  const client: LabHost = { ns: `${name}-client`, iface: 'veth-client', addr4: '198.18.0.2', addr6: '2001:2:0:1::2' };
  const clientSide: LabHost = { ns: `${name}-router`, iface: 'veth-rc', addr4: '198.18.0.1', addr6: '2001:2:0:1::1' };
  const serverSide: LabHost = { ns: `${name}-router`, iface: 'veth-rs', addr4: '198.19.0.1', addr6: '2001:2:0:2::1' };
  const server: LabHost = { ns: `${name}-server`, iface: 'veth-server', addr4: '198.19.0.2', addr6: '2001:2:0:2::2' };
  // One source: the client's address. Several: secondary addresses beside it (.3, .4, ...), as
  // secondary private IPs of a cloud NIC; the primary keeps the ssh session, whose local port a
  // bound probe socket could not share.
  const clientSources: string[] = [];
  const first = clientAddresses > 1 ? 3 : 2;
  for (let i = 0; i < clientAddresses; i++) {
    clientSources.push(scenario === 'ipv6' ? `2001:2:0:1::${(first + i).toString(16)}` : `198.18.0.${first + i}`);
  }
  return {
    name, scenario, limit, port: ports[0]!, ports,
    clientSources,
    clientPortRange: localPorts !== undefined ? [LOCAL_PORT_BASE, LOCAL_PORT_BASE + localPorts - 1] : null,
    client, server,
    router: { ns: `${name}-router`, clientSide, serverSide },
    peer: scenario === 'ipv6' ? server.addr6 : server.addr4,
    rules: [],
  };
}

/**
 * The nftables scripts for a scenario. The cap is the design's rule: a dynamic set keyed by
 * destination address and port whose elements carry a `ct count`; only the probe's port is
 * matched, so ssh (22), ping and everything else always pass. With several probe ports the set
 * is keyed by the destination address alone: one allowance for every port, as a cloud's
 * per-instance connection allowance counts them.
 */
export function scenarioRules(lab: Pick<Lab, 'scenario' | 'limit' | 'port' | 'router' | 'server'> & { ports?: number[] }, lossModulo = 4): { ns: string; script: string }[] {
  const { limit, port } = lab;
  const ports = lab.ports ?? [port];
  const many = ports.length > 1;
  const dport = many ? `{ ${ports.join(', ')} }` : String(port);
  const set4 = `set cap { type ipv4_addr${many ? '' : ' . inet_service'}; size 65535; flags dynamic; }`;
  const set6 = `set cap6 { type ipv6_addr${many ? '' : ' . inet_service'}; size 65535; flags dynamic; }`;
  const newSyn = `tcp dport ${dport} tcp flags & (syn | ack) == syn ct state new`;
  const cap4 = `add @cap { ip daddr${many ? '' : ' . tcp dport'} ct count over ${limit} }`;
  const cap6 = `add @cap6 { ip6 daddr${many ? '' : ' . tcp dport'} ct count over ${limit} }`;
  const forward = (body: string[]) => [
    `table inet ${TABLE} {`,
    `  ${set4}`,
    `  ${set6}`,
    '  chain forward_filter {',
    '    type filter hook forward priority 0; policy accept;',
    ...body.map((line) => `    ${line}`),
    '  }',
  ];
  const router = lab.router.ns;
  switch (lab.scenario) {
    case 'open':
      return [];
    case 'path-cap':
      return [{ ns: router, script: [...forward([`meta nfproto ipv4 ${newSyn} ${cap4} counter drop`]), '}', ''].join('\n') }];
    case 'ipv6':
      return [{ ns: router, script: [...forward([`meta nfproto ipv6 ${newSyn} ${cap6} counter drop`]), '}', ''].join('\n') }];
    case 'refused':
      return [{ ns: router, script: [...forward([
        `meta nfproto ipv4 ${newSyn} ${cap4} counter reject with tcp reset`,
        `meta nfproto ipv6 ${newSyn} ${cap6} counter reject with tcp reset`,
      ]), '}', ''].join('\n') }];
    case 'synack-lost': {
      // The SYN-ACK belongs to a conntrack entry whose original tuple is client -> server:port,
      // so `ip daddr . tcp dport` of the ct original direction keys the same set as path-cap.
      const synAck = `ct direction reply tcp sport ${dport} tcp flags & (syn | ack) == syn | ack`;
      const key = many ? '' : ' . ct original proto-dst';
      return [{ ns: router, script: [...forward([
        `meta nfproto ipv4 ${synAck} add @cap { ct original ip daddr${key} ct count over ${limit} } counter drop`,
        `meta nfproto ipv6 ${synAck} add @cap6 { ct original ip6 daddr${key} ct count over ${limit} } counter drop`,
      ]), '}', ''].join('\n') }];
    }
    case 'lossy':
      return [{ ns: router, script: [...forward([
        // A counter, not `numgen random`: with random drops one attempt in a few hundred lost
        // every copy within the lab's 4 s connect timeout and the run ended at a false ceiling.
        `${newSyn} numgen inc mod ${lossModulo} == 0 counter drop`,
      ]), '}', ''].join('\n') }];
    case 'nat': {
      const to = lab.router.serverSide;
      return [{ ns: router, script: [
        ...forward([`meta nfproto ipv4 ${newSyn} ${cap4} counter drop`]),
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        // Ports 20000-29999 lie outside the kernel's ephemeral range (32768-60999) and `random`
        // forces a new port for every connection: the server never sees the client's 4-tuple.
        `    oifname "${to.iface}" meta nfproto ipv4 tcp dport ${dport} snat ip to ${to.addr4}:20000-29999 random`,
        `    oifname "${to.iface}" meta nfproto ipv6 tcp dport ${dport} snat ip6 to [${to.addr6}]:20000-29999 random`,
        '  }',
        '}', '',
      ].join('\n') }];
    }
    case 'server-drop':
      return [{ ns: lab.server.ns, script: [
        `table inet ${TABLE} {`,
        `  ${set4}`,
        `  ${set6}`,
        '  chain input_filter {',
        '    type filter hook input priority 0; policy accept;',
        `    meta nfproto ipv4 ${newSyn} ${cap4} counter drop`,
        `    meta nfproto ipv6 ${newSyn} ${cap6} counter drop`,
        '  }',
        '}', '',
      ].join('\n') }];
  }
}

/**
 * Packets the scenario's rules dropped or rejected so far (the sum of their nftables counters):
 * SYN copies for the caps and the lossy rule, SYN-ACKs for 'synack-lost'. 0 for 'open'.
 */
export async function countRuleHits(lab: Lab): Promise<number> {
  let total = 0;
  for (const { ns } of lab.rules) {
    const { stdout } = await runCommand(inNamespace(ns, ['nft', 'list', 'table', 'inet', TABLE]));
    for (const m of stdout.matchAll(/counter packets (\d+) bytes \d+/g)) total += Number(m[1]);
  }
  return total;
}

async function listNamespaces(): Promise<string[]> {
  const { stdout } = await runCommand(['ip', 'netns', 'list']);
  // Lines look like "name" or "name (id: 3)".
  return stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n.length > 0);
}

async function sysctl(ns: string, settings: string[]): Promise<void> {
  await runCommand(inNamespace(ns, ['sysctl', '-q', '-w', ...settings]));
}

/** Builds the lab. Throws if a lab of that name exists already (remove it with destroyLab). */
export async function createLab(opts: CreateLabOptions): Promise<Lab> {
  const { name, ports } = validateOptions(opts);
  const lab = describeLab(name, opts.scenario, opts.limit, ports, opts.clientAddresses, opts.localPorts);
  const namespaces = [lab.client.ns, lab.router.ns, lab.server.ns];
  const existing = new Set(await listNamespaces());
  const clash = namespaces.filter((ns) => existing.has(ns));
  if (clash.length > 0) {
    throw new Error(`lab '${name}' already exists (namespaces ${clash.join(', ')}); remove it first (destroyLab('${name}'))`);
  }
  try {
    for (const ns of namespaces) {
      await runCommand(['ip', 'netns', 'add', ns]);
      // No duplicate address detection: addresses are usable at once (sshd binds them at start).
      await sysctl(ns, ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0']);
      await runCommand(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const { client, server, router } = lab;
    await runCommand(['ip', '-n', client.ns, 'link', 'add', client.iface, 'type', 'veth', 'peer', 'name', router.clientSide.iface, 'netns', router.ns]);
    await runCommand(['ip', '-n', server.ns, 'link', 'add', server.iface, 'type', 'veth', 'peer', 'name', router.serverSide.iface, 'netns', router.ns]);
    for (const host of [client, router.clientSide, router.serverSide, server]) {
      await runCommand(['ip', '-n', host.ns, 'addr', 'add', `${host.addr4}/24`, 'dev', host.iface]);
      await runCommand(['ip', '-n', host.ns, '-6', 'addr', 'add', `${host.addr6}/64`, 'dev', host.iface, 'nodad']);
      await runCommand(['ip', '-n', host.ns, 'link', 'set', host.iface, 'up']);
    }
    // secondary source addresses of the client (--bind)
    for (const extra of lab.clientSources.filter((a) => a !== client.addr4 && a !== client.addr6)) {
      await runCommand(['ip', '-n', client.ns, ...(extra.includes(':') ? ['-6', 'addr', 'add', `${extra}/64`, 'dev', client.iface, 'nodad'] : ['addr', 'add', `${extra}/24`, 'dev', client.iface])]);
    }
    if (lab.clientPortRange) {
      await sysctl(client.ns, [`net.ipv4.ip_local_port_range=${lab.clientPortRange[0]} ${lab.clientPortRange[1]}`]);
    }
    await runCommand(['ip', '-n', client.ns, 'route', 'add', 'default', 'via', router.clientSide.addr4]);
    await runCommand(['ip', '-n', client.ns, '-6', 'route', 'add', 'default', 'via', router.clientSide.addr6]);
    await runCommand(['ip', '-n', server.ns, 'route', 'add', 'default', 'via', router.serverSide.addr4]);
    await runCommand(['ip', '-n', server.ns, '-6', 'route', 'add', 'default', 'via', router.serverSide.addr6]);
    await sysctl(router.ns, ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    if (opts.synRetries !== undefined) {
      await sysctl(client.ns, [`net.ipv4.tcp_syn_retries=${opts.synRetries}`]);
    }
    lab.rules = scenarioRules(lab, opts.lossModulo ?? 4);
    for (const { ns, script } of lab.rules) {
      await runCommand(inNamespace(ns, ['nft', '-f', '-']), { input: script });
    }
    await waitUntilReady(lab);
    return lab;
  } catch (err) {
    await destroyLab(name).catch(() => { /* report the first error */ });
    throw err;
  }
}

/**
 * Waits until every veth is operationally up. The kernel reports carrier with up to a second's
 * delay, and until then IPv6 leaves neighbour solicitations unanswered: the probe's first SYN
 * would wait a second for the router's address to resolve.
 */
async function waitUntilReady(lab: Lab): Promise<void> {
  const hosts = [lab.client, lab.router.clientSide, lab.router.serverSide, lab.server];
  const deadline = Date.now() + 10_000;
  for (const host of hosts) {
    for (;;) {
      const { stdout } = await runCommand(['ip', '-n', host.ns, '-br', 'link', 'show', 'dev', host.iface]);
      if (/\sUP\s/.test(stdout)) break;
      if (Date.now() > deadline) throw new Error(`${host.ns}: ${host.iface} did not come up: ${stdout.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function namespacePids(ns: string): Promise<number[]> {
  const { stdout } = await runCommand(['ip', 'netns', 'pids', ns], { allowFailure: true });
  return stdout.split('\n').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

function signalPids(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

/**
 * Removes the lab's namespaces (the veths go with them). Idempotent. Processes still running
 * inside them (a forgotten sshd, tcpdump or server of this lab) are ended first, by pid, so the
 * namespaces really disappear.
 */
export async function destroyLab(name: string): Promise<void> {
  if (!NAME_PATTERN.test(name)) throw new Error(`invalid lab name '${name}'`);
  const existing = new Set(await listNamespaces());
  for (const suffix of SUFFIXES) {
    const ns = `${name}-${suffix}`;
    if (!existing.has(ns)) continue;
    let pids = await namespacePids(ns);
    if (pids.length > 0) {
      signalPids(pids, 'SIGTERM');
      for (let i = 0; i < 20 && pids.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        pids = await namespacePids(ns);
      }
      signalPids(pids, 'SIGKILL');
    }
    await runCommand(['ip', 'netns', 'del', ns], { allowFailure: true });
  }
  const left = (await listNamespaces()).filter((ns) => SUFFIXES.some((s) => ns === `${name}-${s}`));
  if (left.length > 0) throw new Error(`could not remove namespaces ${left.join(', ')}`);
}

/** Names of labs whose namespaces are still there, for labs named with `prefix` (default 'synlab'). */
export async function findStaleLabs(prefix: string = DEFAULT_NAME): Promise<string[]> {
  const names = new Set<string>();
  for (const ns of await listNamespaces()) {
    if (!ns.startsWith(prefix)) continue;
    for (const suffix of SUFFIXES) {
      if (ns.endsWith(`-${suffix}`)) names.add(ns.slice(0, -(suffix.length + 1)));
    }
  }
  return [...names].sort();
}

const SSHD = '/usr/sbin/sshd';

/**
 * Starts a real OpenSSH server inside the server namespace on port 22 of the server's
 * addresses, with a throw-away host key and client key in a private temporary directory, and
 * waits until an `ssh ... true` from the client namespace succeeds.
 */
export async function startSshd(lab: Lab): Promise<LabSshd> {
  const dir = await mkdtemp(join(tmpdir(), `${lab.name}-sshd-`));
  await chmod(dir, 0o700);
  const user = userInfo().username;
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const clientKey = join(dir, 'id_ed25519');
  const pidFile = join(dir, 'sshd.pid');
  let child: ReturnType<typeof spawn> | null = null;
  let stderr = '';
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let exitedPromise: Promise<void> = Promise.resolve();

  const stop = async (): Promise<void> => {
    if (child && !exited) {
      child.kill('SIGTERM');
      const done = await Promise.race([exitedPromise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
      if (!done) { child.kill('SIGKILL'); await exitedPromise; }
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await runCommand(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${lab.name}-host`, '-f', hostKey]);
    await runCommand(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${lab.name}-client`, '-f', clientKey]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`, 'utf8'), { mode: 0o600 });
    const hostPub = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${lab.server.addr4},${lab.server.addr6} ${hostPub}\n`, { mode: 0o600 });
    const config = join(dir, 'sshd_config');
    await writeFile(config, [
      `Port 22`,
      `ListenAddress ${lab.server.addr4}`,
      `ListenAddress ${lab.server.addr6}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${pidFile}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // The key files live under /tmp (mode 1777), which StrictModes would refuse.
      'StrictModes no',
      'UseDNS no',
      'PrintMotd no',
      'AcceptEnv none',
      'LogLevel INFO',
      '',
    ].join('\n'), { mode: 0o600 });
    // sshd's privilege separation needs this directory (it is shared by every namespace).
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

    const argv = inNamespace(lab.server.ns, [SSHD, '-D', '-e', '-f', config]);
    // its own process group: a Ctrl-C typed at the terminal reaches synprobe, which stops sshd
    // itself after the captures, not sshd in the middle of the run
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    child = proc;
    exitedPromise = new Promise<void>((resolve) => {
      proc.on('exit', (code, signal) => { exited = { code, signal }; resolve(); });
      proc.on('error', (err) => { stderr += String(err); exited = { code: null, signal: null }; resolve(); });
    });
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 20_000) stderr += s; });

    const sshOptions = [
      '-F', '/dev/null',
      '-i', clientKey,
      '-o', 'IdentitiesOnly=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=5',
      '-o', 'LogLevel=ERROR',
      '-p', '22',
    ];
    const target = `${user}@${lab.scenario === 'ipv6' ? lab.server.addr6 : lab.server.addr4}`;
    const deadline = Date.now() + 15_000;
    let last = '';
    for (;;) {
      if (exited) throw new Error(`sshd exited at start: ${stderr.trim()}`);
      const r = await runCommand(inNamespace(lab.client.ns, ['ssh', ...sshOptions, target, 'true']), { allowFailure: true, timeoutMs: 10_000 });
      if (r.code === 0) break;
      last = r.stderr.trim();
      if (Date.now() > deadline) throw new Error(`sshd in ${lab.server.ns} does not accept logins: ${last}; sshd said: ${stderr.trim()}`);
      await new Promise((r2) => setTimeout(r2, 200));
    }
    return { port: 22, user, target, sshOptions, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
