/**
 * Counter snapshots before and after a run, on each host through a CommandRunner:
 *   - the kernel's SNMP/netstat counters under nstat's names (TcpExtListenOverflows,
 *     TcpExtTCPSynRetrans, ...), read from /proc/net/{netstat,snmp,snmp6} — the files nstat
 *     reads, without nstat's history file;
 *   - nf_conntrack_count / _max, and `conntrack -S` summed over CPUs;
 *   - `ethtool -S <iface>`: the ENA `*_allowance_*` counters and drop/discard counters.
 * and the differences after − before.
 */
import type { CounterDiff, CounterSnapshot } from '../run/run-facts.js';
import { isoFromNs, nowNs } from '../run/run-facts.js';
import { readFiles, type CommandRunner } from '../preflight/runner.js';

/**
 * /proc/net/netstat and /proc/net/snmp: pairs of lines "Prefix: Name1 Name2 ..." /
 * "Prefix: v1 v2 ...", named as nstat does: Prefix + Name ("TcpExt" + "ListenOverflows").
 */
export function parseProcNetstat(text: string, out: Record<string, number> = {}): Record<string, number> {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = /^(\w+):\s+(.*)$/.exec(lines[i]!);
    const vals = /^(\w+):\s+(.*)$/.exec(lines[i + 1]!);
    if (!head || !vals || head[1] !== vals[1]) continue;
    const names = head[2]!.trim().split(/\s+/);
    const values = vals[2]!.trim().split(/\s+/);
    if (names.length !== values.length || !values.every((v) => /^-?\d+$/.test(v))) continue;
    names.forEach((n, k) => { out[`${head[1]}${n}`] = Number(values[k]); });
    i++;
  }
  return out;
}

/** /proc/net/snmp6: "Ip6InReceives   123" per line, already with nstat's names. */
export function parseSnmp6(text: string, out: Record<string, number> = {}): Record<string, number> {
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(-?\d+)\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** `conntrack -S`: "cpu=0 found=0 invalid=3 insert=0 ... drop=0 early_drop=0 ..." per CPU, summed. */
export function parseConntrackStats(text: string): Record<string, number> | null {
  const out: Record<string, number> = {};
  let any = false;
  for (const line of text.split('\n')) {
    if (!/^cpu=\d+/.test(line.trim())) continue;
    for (const m of line.matchAll(/(\w+)=(\d+)/g)) {
      if (m[1] === 'cpu') continue;
      out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
      any = true;
    }
  }
  return any ? out : null;
}

/** Which `ethtool -S` counters are kept: the ENA allowances, and what counts drops. */
export function keepEthtoolCounter(name: string): boolean {
  if (/allowance/i.test(name)) return true;
  // per-queue counters are many and say the same as their totals
  if (/(^|_)(queue|q)_?\d+|^(rx|tx)\d+_|cpu\d+/i.test(name)) return false;
  return /drop|discard|miss|no_buf|fifo|overrun/i.test(name);
}

/** `ethtool -S eth0`: "NIC statistics:\n     rx_packets: 12\n ...". */
export function parseEthtoolStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^\s+([^:]+):\s+(-?\d+)\s*$/.exec(line);
    if (m && keepEthtoolCounter(m[1]!.trim())) out[m[1]!.trim()] = Number(m[2]);
  }
  return out;
}

export interface SnapshotOptions {
  /** Interface for ethtool -S; null or 'any' skips it. */
  interface: string | null;
  /** Run conntrack through sudo -n (peer with --sudo). */
  sudo?: boolean;
}

export async function takeSnapshot(runner: CommandRunner, opts: SnapshotOptions): Promise<CounterSnapshot> {
  const errors: string[] = [];
  const takenAt = isoFromNs(nowNs());
  const files = await readFiles(runner, [
    '/proc/net/netstat',
    '/proc/net/snmp',
    '/proc/net/snmp6',
    '/proc/sys/net/netfilter/nf_conntrack_count',
    '/proc/sys/net/netfilter/nf_conntrack_max',
  ]);
  const nstat: Record<string, number> = {};
  const netstat = files.get('/proc/net/netstat');
  const snmp = files.get('/proc/net/snmp');
  if (netstat) parseProcNetstat(netstat, nstat);
  if (snmp) parseProcNetstat(snmp, nstat);
  const snmp6 = files.get('/proc/net/snmp6');
  if (snmp6) parseSnmp6(snmp6, nstat);
  if (!netstat && !snmp) errors.push(`cannot read /proc/net/netstat ${runner.where}`);

  const count = files.get('/proc/sys/net/netfilter/nf_conntrack_count');
  const max = files.get('/proc/sys/net/netfilter/nf_conntrack_max');
  const conntrack = count && max && /^\d+$/.test(count.trim()) && /^\d+$/.test(max.trim())
    ? { count: Number(count.trim()), max: Number(max.trim()) }
    : null;

  let conntrackStats: Record<string, number> | null = null;
  if (conntrack) {
    const r = await runner.run(['conntrack', '-S'], { sudo: opts.sudo, timeoutMs: 10_000 });
    if (r.ok) conntrackStats = parseConntrackStats(r.stdout);
    else if (r.exitCode !== 127 && !/not found|No such file/i.test(r.stderr)) {
      errors.push(`conntrack -S failed ${runner.where}: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`}`);
    }
  }

  let ethtool: CounterSnapshot['ethtool'] = null;
  if (opts.interface && opts.interface !== 'any') {
    const r = await runner.run(['ethtool', '-S', opts.interface], { timeoutMs: 10_000 });
    if (r.ok) ethtool = { interface: opts.interface, counters: parseEthtoolStats(r.stdout) };
    else if (r.exitCode !== 127 && !/no stats available|not supported/i.test(r.stderr + r.stdout)) {
      const why = (r.stderr || r.stdout).trim().split('\n').pop();
      if (why) errors.push(`ethtool -S ${opts.interface} ${runner.where}: ${why}`);
    }
  }
  return { takenAt, nstat, conntrack, conntrackStats, ethtool, errors };
}

function diffRecords(a: Record<string, number> | null | undefined, b: Record<string, number> | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!a || !b) return out;
  for (const [k, v] of Object.entries(b)) {
    const before = a[k];
    if (before === undefined) continue;
    const d = v - before;
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** after − before, non-zero values only. */
export function diffSnapshots(before: CounterSnapshot, after: CounterSnapshot): CounterDiff {
  return {
    nstat: diffRecords(before.nstat, after.nstat),
    conntrackCount: before.conntrack && after.conntrack ? after.conntrack.count - before.conntrack.count : null,
    conntrackStats: diffRecords(before.conntrackStats, after.conntrackStats),
    ethtool: diffRecords(before.ethtool?.counters, after.ethtool?.counters),
  };
}

/** The counters that matter for the case synprobe exists for, for the report's first lines. */
export const KEY_COUNTERS: Record<'client' | 'server', string[]> = {
  client: ['TcpExtTCPSynRetrans', 'TcpActiveOpens', 'TcpAttemptFails', 'TcpRetransSegs', 'TcpOutRsts'],
  server: ['TcpExtListenOverflows', 'TcpExtListenDrops', 'TcpExtTCPReqQFullDrop', 'TcpExtTCPReqQFullDoCookies', 'TcpExtSyncookiesSent', 'TcpPassiveOpens', 'TcpInErrs'],
};
