/** The pure parts of capture: parsers, filters, validation, quoting, preflight evaluation. */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildClientFilter, buildServerFilter, classifyTcpdumpFailure, parseTcpdumpStats, validateInterfaceName,
} from '../../src/tcpdump/local.js';
import {
  REMOTE_CAPTURE_SCRIPT, classifySshFailure, skipToPcapStart, normalizeSshOptions, parseSshConnection, remoteCommand, shQuote,
  validateHost, validateSshOption, validateSshTarget,
} from '../../src/tcpdump/remote.js';
import {
  capacities, checkSudo, evaluatePreflight, parseListeningPorts, sourceAddresses, ssPortFilter, interfaceHolding, kernelTiming, parseLimits, parseListenerPid, parsePortRange, parseRouteDev, synSchedule,
} from '../../src/preflight/checks.js';
import { parseLocalPortRange } from '../../src/ports.js';
import {
  diffSnapshots, keepEthtoolCounter, parseConntrackStats, parseEthtoolStats, parseProcNetstat, parseSnmp6,
} from '../../src/counters/snapshot.js';
import { isoFromNs, nsFromEpochText, nsFromIso, writeNewFile } from '../../src/run/run-facts.js';
import { prepareOutDir } from '../../src/run/capture.js';
import { parseDuration } from '../../src/cli/capture.js';
import type { CounterSnapshot, HostPreflight } from '../../src/run/run-facts.js';
import { UsageError } from '../../src/cli/io.js';
import type { CommandResult, CommandRunner, RunOptions } from '../../src/preflight/runner.js';

/** A peer that answers every command with the same result, and remembers what it was asked. */
function fakeRunner(result: Partial<CommandResult>): CommandRunner & { calls: Array<[string[], RunOptions | undefined]> } {
  const calls: Array<[string[], RunOptions | undefined]> = [];
  return {
    where: 'on the peer (u@h)',
    remote: true,
    calls,
    async run(argv: string[], opts?: RunOptions): Promise<CommandResult> {
      calls.push([argv, opts]);
      return { exitCode: 1, signal: null, stdout: '', stderr: '', timedOut: false, ok: false, ...result };
    },
  };
}

const INJECTIONS = ['x; touch /tmp/pwned', '$(id)', '`id`', 'a|b', 'a&b', "a'b", 'a"b', 'a b', 'a\nb', '-oProxyCommand=id', '--help', '', 'a>b', 'a\\b'];

describe('tcpdump stop counts', () => {
  it('reads the counts tcpdump prints on SIGTERM, singular and plural, with interface drops', () => {
    const stderr = 'tcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length 96 bytes\n1 packet captured\n12 packets received by filter\n3 packets dropped by kernel\n2 packets dropped by interface\n';
    expect(parseTcpdumpStats(stderr)).toEqual({ captured: 1, receivedByFilter: 12, droppedByKernel: 3, droppedByInterface: 2 });
  });
  it('says dropped-by-interface 0 when tcpdump printed its counts without that line, and null when it printed none', () => {
    expect(parseTcpdumpStats('5 packets captured\n5 packets received by filter\n0 packets dropped by kernel\n').droppedByInterface).toBe(0);
    expect(parseTcpdumpStats('tcpdump: listening on eth0\n')).toEqual({ captured: null, receivedByFilter: null, droppedByKernel: null, droppedByInterface: null });
  });
  it('reads the one-line form (tcpdump: N packets captured, N packets received by filter, ...)', () => {
    expect(parseTcpdumpStats('tcpdump: 7 packets captured, 8 packets received by filter, 1 packet dropped by kernel\n'))
      .toEqual({ captured: 7, receivedByFilter: 8, droppedByKernel: 1, droppedByInterface: 0 });
  });
});

describe('tcpdump and ssh error messages', () => {
  const exit = { code: 1, signal: null };
  it.each([
    ['tcpdump: eth0: You don\'t have permission to perform this capture on that device\n(socket: Operation not permitted)', 'tcpdump-permission', /setcap|root/],
    ['tcpdump: eth9: No such device exists\n(SIOCGIFHWADDR: No such device)', 'interface-missing', /ip -br link/],
    ['synprobe-remote: error tcpdump-missing', 'tcpdump-missing', /apt-get install tcpdump/],
    ['sh: 1: tcpdump: not found', 'tcpdump-missing', /apt-get install tcpdump/],
    ['sudo: a password is required', 'sudo-password', /NOPASSWD/],
    ['sudo: a terminal is required to read the password; either use the -S option', 'sudo-password', /NOPASSWD/],
  ])('%s → %s', (stderr, code, fix) => {
    const e = classifyTcpdumpFailure(stderr, 'on the peer (x)', 'eth0', exit);
    expect(e.code).toBe(code);
    expect(e.fix).toMatch(fix);
  });
  it.each([
    ['root@10.0.0.1: Permission denied (publickey,password).', 'ssh-auth', /ssh-copy-id/],
    ['Host key verification failed.', 'ssh-hostkey', /StrictHostKeyChecking=accept-new/],
    ['ssh: connect to host 10.0.0.1 port 22: Connection refused', 'ssh-refused', /sshd/],
    ['ssh: Could not resolve hostname nohost: Name or service not known', 'ssh-resolve', /address/],
    ['ssh: connect to host 10.0.0.1 port 22: Connection timed out', 'ssh-unreachable', /reachable/],
  ])('%s → %s', (stderr, code, fix) => {
    const e = classifySshFailure(stderr, 'root@10.0.0.1');
    expect(e.code).toBe(code);
    expect(e.fix).toMatch(fix);
  });
});

describe('capture filters', () => {
  it('client: the probe\'s packets to and from peer:port, the ssh session excluded', () => {
    expect(buildClientFilter('10.0.0.5', 8000)).toBe('tcp and ((dst host 10.0.0.5 and dst port 8000) or (src host 10.0.0.5 and src port 8000))');
    expect(buildClientFilter('2001:db8::5', 443, { addrA: '10.0.0.1', portA: 40000, addrB: '10.0.0.5', portB: 22 }))
      .toBe('tcp and ((dst host 2001:db8::5 and dst port 443) or (src host 2001:db8::5 and src port 443)) and not (host 10.0.0.1 and port 40000 and host 10.0.0.5 and port 22)');
  });
  it('server: the port only (NAT and cloud addresses differ)', () => {
    expect(buildServerFilter(8000)).toBe('tcp and (dst port 8000 or src port 8000)');
    expect(buildServerFilter([8000, 8001, 8002, 8003])).toBe('tcp and (dst portrange 8000-8003 or src portrange 8000-8003)');
    expect(buildClientFilter('10.0.0.5', [8000, 9000, 8001])).toBe('tcp and ((dst host 10.0.0.5 and (dst portrange 8000-8001 or dst port 9000)) or (src host 10.0.0.5 and (src portrange 8000-8001 or src port 9000)))');
  });
  it('accept only addresses and ports, never text', () => {
    for (const bad of INJECTIONS) expect(() => buildClientFilter(bad, 8000)).toThrow(UsageError);
    expect(() => buildServerFilter(0)).toThrow(UsageError);
    expect(() => buildServerFilter(65536)).toThrow(UsageError);
    expect(() => buildServerFilter(1.5)).toThrow(UsageError);
    expect(() => buildServerFilter([8000, 0])).toThrow(UsageError);
    expect(() => buildServerFilter([])).toThrow(UsageError);
  });
});

describe('validation of what users type', () => {
  it('interface names', () => {
    for (const ok of ['eth0', 'veth-client', 'enp0s31f6', 'wlan0.100', 'any', 'br:1', 'v@x']) expect(validateInterfaceName(ok)).toBe(ok);
    for (const bad of [...INJECTIONS, 'a'.repeat(16), '-i']) expect(() => validateInterfaceName(bad)).toThrow(UsageError);
  });
  it('peer: an IP address or a host name', () => {
    for (const ok of ['172.31.17.55', '::1', 'fe80::1', 'server.internal', 'ip-172-31-17-55.ec2.internal', 'a']) expect(validateHost(ok)).toBe(ok);
    for (const bad of [...INJECTIONS, '-x', '.x', 'x..y', 'a_b', 'x'.repeat(64)]) expect(() => validateHost(bad)).toThrow(UsageError);
  });
  it('ssh target: [user@]host', () => {
    for (const ok of ['ec2-user@172.31.17.55', 'root@::1', 'peer', 'my_alias', 'u.x@host-1.example.com']) expect(validateSshTarget(ok)).toBe(ok);
    for (const bad of [...INJECTIONS, '-oProxyCommand=id', 'user@', '@host', 'a@b@c', 'us er@h', '$(id)@host', 'x;y@host']) {
      expect(() => validateSshTarget(bad)).toThrow(UsageError);
    }
  });
  it('ssh options: Key=Value, or the usual flags; nothing that runs a command', () => {
    expect(validateSshOption('Port=2222')).toBe('Port=2222');
    expect(validateSshOption('StrictHostKeyChecking accept-new')).toBe('StrictHostKeyChecking=accept-new');
    for (const bad of ['x; touch /tmp/pwned', '$(id)', 'ProxyCommand=touch /tmp/pwned', 'LocalCommand=id', 'PermitLocalCommand=yes',
      'KnownHostsCommand=id', 'ControlPath=/tmp/x', 'Port=22\nProxyCommand=id', '=x']) {
      expect(() => validateSshOption(bad)).toThrow(UsageError);
    }
    expect(normalizeSshOptions(['-F', '/dev/null', '-i', '/k/id', '-o', 'IdentitiesOnly=yes', '-p', '22', '-4', '-lroot', 'BatchMode=yes'])).toEqual({
      configFile: '/dev/null',
      options: ['IdentityFile=/k/id', 'IdentitiesOnly=yes', 'Port=22', 'AddressFamily=inet', 'User=root', 'BatchMode=yes'],
    });
    expect(() => normalizeSshOptions(['-i'])).toThrow(/needs a value/);
    expect(() => normalizeSshOptions(['-p', '$(id)'])).toThrow(UsageError);
    expect(() => normalizeSshOptions(['-o', 'ProxyCommand=id'])).toThrow(UsageError);
    expect(() => normalizeSshOptions(['-F', '-oProxyCommand=id'])).toThrow(UsageError);
    expect(() => normalizeSshOptions(['-J', 'x;id'])).toThrow(UsageError);
    expect(() => normalizeSshOptions(['-v'])).toThrow(UsageError);
  });
  it('durations', () => {
    expect(parseDuration('15s', 'x')).toBe(15_000);
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('2m', 'x')).toBe(120_000);
    expect(parseDuration('1.5s', 'x')).toBe(1500);
    for (const bad of ['15', 's', '-1s', '1h', '1e3s', '$(id)s']) expect(() => parseDuration(bad, 'x')).toThrow(UsageError);
    expect(() => parseDuration('50ms', '--connect-timeout', 100)).toThrow(/from 100 ms/);
  });
  it('$SSH_CONNECTION', () => {
    expect(parseSshConnection('10.0.0.1 40000 10.0.0.5 22\n')).toMatchObject({ addrA: '10.0.0.1', portA: 40000, addrB: '10.0.0.5', portB: 22 });
    expect(parseSshConnection('::1 40000 ::1 22')).toMatchObject({ addrA: '::1', portB: 22 });
    for (const bad of ['', '10.0.0.1 40000 10.0.0.5', 'x 1 y 2', '10.0.0.1 0 10.0.0.5 22', '10.0.0.1 1 10.0.0.5 99999']) expect(parseSshConnection(bad)).toBeNull();
  });
});

describe('quoting for the peer\'s shell', () => {
  it('single-quotes every value so sh sees it as one literal word', () => {
    for (const v of [...INJECTIONS.filter((s) => !s.includes('\0')), "it's", "'", "''", '$HOME', '!x', '\\']) {
      const r = spawnSync('sh', ['-c', `printf '%s' ${shQuote(v)}`], { encoding: 'utf8' });
      expect(r.stdout).toBe(v);
    }
  });
  it('runs argv through exec "$@" with the sbin PATH, every argument quoted', () => {
    const cmd = remoteCommand(['printf', '%s|', 'a b', '$(id)', "x'y"]);
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    expect(r.stdout).toBe("a b|$(id)|x'y|");
    expect(remoteCommand(['kill', '1'], { sudo: true })).toContain("'sudo' '-n' 'kill' '1'");
  });
  it('the capture script is constant POSIX sh: every value arrives as a parameter and is checked again', () => {
    expect(REMOTE_CAPTURE_SCRIPT).not.toMatch(/\$\{?[A-Z_]*(PEER|HOST|USER)/);
    const r = spawnSync('sh', ['-n', '-c', REMOTE_CAPTURE_SCRIPT]);
    expect(r.status).toBe(0);
    // a bad interface never reaches tcpdump, even if it got past the local check
    const bad = spawnSync('sh', ['-c', REMOTE_CAPTURE_SCRIPT, 'synprobe-remote', 'eth0;id', '96', '4096', 'tcp', '0', '1.2.3.4 1 5.6.7.8 22'], { encoding: 'utf8' });
    expect(bad.status).toBe(64);
    expect(bad.stderr).toContain('error bad-interface');
  });
});

describe('the pcap stream from the peer', () => {
  async function through(chunks: Buffer[]): Promise<{ out: Buffer; dropped: number }> {
    let dropped = 0;
    const t = skipToPcapStart((n) => { dropped = n; });
    const parts: Buffer[] = [];
    t.on('data', (b: Buffer) => parts.push(b));
    const done = new Promise((r) => t.on('end', r));
    for (const c of chunks) t.write(c);
    t.end();
    await done;
    return { out: Buffer.concat(parts), dropped };
  }
  const header = Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 96, 0, 0, 0, 1, 0, 0, 0]);
  it('passes a clean pcap untouched', async () => {
    expect(await through([header.subarray(0, 3), header.subarray(3)])).toEqual({ out: header, dropped: 0 });
  });
  it('drops what a chatty login script printed before the pcap, even with the magic split across chunks', async () => {
    const junk = Buffer.from('Welcome to host!\nLast login: yesterday\n');
    const r = await through([junk.subarray(0, 10), Buffer.concat([junk.subarray(10), header.subarray(0, 2)]), header.subarray(2)]);
    expect(r.out).toEqual(header);
    expect(r.dropped).toBe(junk.length);
  });
});

describe('preflight', () => {
  it('reads the open-files limit, port range and routes', () => {
    expect(parseLimits('Max cpu time   unlimited  unlimited  seconds\nMax open files            1024                 524288               files\n')).toEqual({ soft: 1024, hard: 524288 });
    expect(parsePortRange('32768\t60999', '')).toEqual({ low: 32768, high: 60999, reserved: 0, usable: 28232 });
    expect(parsePortRange('32768\t60999', '40000,50000-50009,1-5')).toMatchObject({ reserved: 11, usable: 28221 });
    expect(parseLocalPortRange('40000\t40009\n', '40002,40008-40020,1-5')).toEqual({ low: 40000, high: 40009, reserved: new Set([40002, 40008, 40009]) });
    expect(parseLocalPortRange('garbage', '')).toBeNull();
    expect(parseRouteDev('198.19.0.2 via 198.18.0.1 dev veth-client src 198.18.0.2 uid 0 \\    cache ')).toBe('veth-client');
    expect(interfaceHolding('1: lo    inet 127.0.0.1/8 scope host lo\n7: veth-server@if6    inet 198.19.0.2/24 scope global veth-server\n', '198.19.0.2')).toBe('veth-server');
    expect(interfaceHolding('7: eth0    inet6 2001:db8:0:0::2/64 scope global\n', '2001:db8::2')).toBe('eth0');
    expect(parseListenerPid('LISTEN 0 511 *:8000 *:* users:(("node",pid=4242,fd=21))')).toBe(4242);
  });

  it('knows when a failing connect ends: 127 s classic, 131 s with linear timeouts (kernel 6.5+)', () => {
    expect(synSchedule(6, 0)).toEqual({ retransmitAt: [1, 3, 7, 15, 31, 63], timeoutSec: 127 });
    expect(synSchedule(6, 4)).toEqual({ retransmitAt: [1, 2, 3, 4, 5, 7, 11, 19, 35, 67], timeoutSec: 131 });
    expect(kernelTiming(6, 0, 15_000).synCopiesWithinConnectTimeout).toBe(4); // 0, 1, 3, 7 s
    expect(kernelTiming(6, 4, 15_000).synCopiesWithinConnectTimeout).toBe(8); // 0..5, 7, 11 s
    expect(synSchedule(8, 0).timeoutSec).toBe(1 + 2 + 4 + 8 + 16 + 32 + 64 + 120 + 120); // capped at 120 s
  });

  const host = (over: Partial<HostPreflight>): HostPreflight => ({
    role: 'client', kernel: '6.8.0', tcpdump: { path: '/usr/bin/tcpdump', version: '4.99.4' }, user: { uid: 0, name: 'root' },
    openFiles: { soft: 1024, hard: 524288, of: 'synprobe (this process)' }, nrOpen: 1048576, fileMax: 9_000_000,
    localPortRange: { low: 32768, high: 60999, reserved: 0, usable: 28232 }, conntrack: null,
    timing: kernelTiming(6, 4, 15_000), listening: null, captureInterface: { name: 'eth0', how: 'route' }, findings: [], ...over,
  });

  it('refuses a --max above the open-files limit, with the ulimit to type', () => {
    const f = evaluatePreflight(host({}), { max: 20_000, connectTimeoutMs: 15_000 });
    const r = f.find((x) => x.id === 'open-files')!;
    expect(r.level).toBe('refuse');
    expect(r.fix).toContain('ulimit -n 20064');
    expect(f.find((x) => x.id === 'local-ports')!.level).toBe('ok');
  });
  it('warns (does not refuse) when local ports allow fewer than --max, and names the limit that binds first', () => {
    const f = evaluatePreflight(host({ openFiles: { soft: 100_000, hard: 100_000, of: 'x' } }), { max: 60_000, connectTimeoutMs: 15_000 });
    expect(f.filter((x) => x.level === 'refuse')).toEqual([]);
    const ports = f.find((x) => x.id === 'local-ports')!;
    expect(ports.level).toBe('warn');
    expect(ports.message).toMatch(/28,232 ports in ip_local_port_range 32768-60999 × 1 source address × 1 destination port\) on this host allow 28,232 connections, fewer than --max 60,000/);
    expect(ports.message).toMatch(/local-ports error \(EADDRNOTAVAIL\), a limit of this host, not of the path/);
    expect(ports.fix).toContain('ip_local_port_range="1024 65535"');
    expect(ports.fix).toContain('--bind');
    expect(f.find((x) => x.id === 'capacity')!.message).toMatch(/^at most 28,232 connections can be held on this host; the limit reached first: local ports .*; then open files .*: 99,936/);
  });
  it('multiplies the local port range by source addresses and destination ports', () => {
    const range = { low: 40000, high: 40099, reserved: 0, usable: 100 };
    const base = { openFiles: { soft: 19_000, hard: 20_000, of: 'x' }, localPortRange: range };
    const one = capacities(host(base), 1);
    expect(one[0]).toMatchObject({ id: 'local-ports', allows: 100 });
    expect(capacities(host(base), 2)[0]).toMatchObject({ id: 'local-ports', allows: 200 });
    const two = host({ ...base, sources: { addresses: ['10.0.0.5', '10.0.0.6'], how: '--bind', missing: [] } });
    expect(capacities(two, 1)[0]).toMatchObject({ id: 'local-ports', allows: 200 });
    expect(capacities(two, 4)[0]).toMatchObject({ id: 'local-ports', allows: 800 });
    expect(capacities(two, 4)[0]!.what).toBe('local ports (100 ports in ip_local_port_range 40000-40099 × 2 source addresses × 4 destination ports)');
    // with 200 ports x 100 sources the open-files limit binds first
    const wide = host({ ...base, localPortRange: { low: 1024, high: 65535, reserved: 0, usable: 64512 } });
    expect(capacities(wide, 1)[0]).toMatchObject({ id: 'open-files', allows: 19_000 - 64 });
    const f = evaluatePreflight(two, { max: 150, connectTimeoutMs: 4000, ports: 1 });
    expect(f.find((x) => x.id === 'local-ports')!.level).toBe('ok');
    expect(f.find((x) => x.id === 'sources')!).toMatchObject({ level: 'ok', message: expect.stringContaining('10.0.0.5, 10.0.0.6') });
  });
  it('refuses --bind addresses that are not on this host, and --bind auto without an address', () => {
    const missing = evaluatePreflight(host({ openFiles: { soft: 100_000, hard: 100_000, of: 'x' }, sources: { addresses: ['10.0.0.5', '10.9.9.9'], how: '--bind', missing: ['10.9.9.9'] } }), { max: 10, connectTimeoutMs: 4000 });
    expect(missing.find((x) => x.id === 'sources')).toMatchObject({ level: 'refuse', message: '--bind 10.9.9.9: not an address of this host' });
    const none = evaluatePreflight(host({ openFiles: { soft: 100_000, hard: 100_000, of: 'x' }, sources: { addresses: [], how: '--bind auto: the IPv4 addresses of eth0', missing: [] } }), { max: 10, connectTimeoutMs: 4000 });
    expect(none.find((x) => x.id === 'sources')).toMatchObject({ level: 'refuse' });
  });
  it('reads source addresses, listening ports and builds the ss filter', () => {
    const addr = [
      '2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever',
      '2: eth0    inet 10.0.0.6/24 brd 10.0.0.255 scope global secondary eth0\\       valid_lft forever preferred_lft forever',
      '2: eth0    inet6 2001:db8::5/64 scope global \\       valid_lft forever preferred_lft forever',
      '2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever',
      '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    ].join('\n');
    expect(sourceAddresses(addr, 4)).toEqual(['10.0.0.5', '10.0.0.6']);
    expect(sourceAddresses(addr, 6)).toEqual(['2001:db8::5']);
    expect(sourceAddresses(addr, 4, true)).toEqual(['10.0.0.5', '10.0.0.6', '127.0.0.1']);
    expect(sourceAddresses(addr, 6, true)).toEqual(['2001:db8::5', 'fe80::1']);
    expect(parseListeningPorts('LISTEN 0 511 0.0.0.0:8000 0.0.0.0:*\nLISTEN 0 511 [::]:8002 [::]:* users:(("node",pid=1,fd=3))\n')).toEqual(new Set([8000, 8002]));
    expect(ssPortFilter([8000, 8001])).toBe('( sport = :8000 or sport = :8001 )');
  });
  it('refuses when fs.nr_open caps the hard limit, and a full-ish conntrack table on this host', () => {
    const f = evaluatePreflight(host({ openFiles: { soft: 1024, hard: 1024, of: 'x' }, nrOpen: 10_000, conntrack: { count: 100, max: 5000 } }), { max: 9_999, connectTimeoutMs: 15_000 });
    expect(f.find((x) => x.id === 'open-files')!.fix).toMatch(/fs\.nr_open=10063/);
    expect(f.find((x) => x.id === 'nr-open')!.level).toBe('refuse');
    expect(f.find((x) => x.id === 'conntrack')!).toMatchObject({ level: 'refuse', fix: expect.stringContaining('nf_conntrack_max=') });
  });
  it('on the peer: the listener\'s limit refuses, nothing listening warns, conntrack only warns', () => {
    const f = evaluatePreflight(host({ role: 'server', openFiles: { soft: 1024, hard: 4096, of: 'the listener on port 8000 (pid 7)' }, listening: false, localPortRange: null, conntrack: { count: 10, max: 100 } }), { max: 5000, connectTimeoutMs: 15_000 });
    expect(f.find((x) => x.id === 'open-files')!).toMatchObject({ level: 'refuse', fix: expect.stringContaining('synprobe serve') });
    expect(f.find((x) => x.id === 'listener')!.level).toBe('warn');
    expect(f.find((x) => x.id === 'conntrack')!.level).toBe('warn');
  });
  it('refuses when tcpdump is missing and warns when not root', () => {
    const f = evaluatePreflight(host({ tcpdump: { path: null, version: null }, user: { uid: 1000, name: 'ann' }, openFiles: { soft: 100_000, hard: 100_000, of: 'x' } }), { max: 10, connectTimeoutMs: 15_000 });
    expect(f.find((x) => x.id === 'tcpdump')!).toMatchObject({ level: 'refuse', fix: expect.stringContaining('apt-get install tcpdump') });
  });
  it('--sudo: a password prompt is detected and refused with the sudoers line, never waited for', async () => {
    const asks = fakeRunner({ stderr: 'sudo: a password is required\n' });
    const f = await checkSudo(asks);
    expect(f).toMatchObject({ level: 'refuse', message: 'sudo asks for a password on the peer (u@h)', fix: expect.stringContaining('NOPASSWD') });
    expect(asks.calls[0]).toEqual([['tcpdump', '--version'], { sudo: true, timeoutMs: 15_000 }]);
    expect((await checkSudo(fakeRunner({ exitCode: 0, ok: true }))).level).toBe('ok');
    expect(await checkSudo(fakeRunner({ stderr: 'Sorry, user ann is not allowed to execute \'/usr/bin/tcpdump --version\' as root' })))
      .toMatchObject({ level: 'refuse', fix: expect.stringContaining('sudoers') });
  });

  it('tells how long a failing connect takes', () => {
    const f = evaluatePreflight(host({ openFiles: { soft: 100_000, hard: 100_000, of: 'x' } }), { max: 10, connectTimeoutMs: 15_000 });
    expect(f.find((x) => x.id === 'syn-timing')!.message).toMatch(/1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s and connect\(\) fails after 131 s; --connect-timeout 15 s gives up after 8 SYN copies/);
  });
});

describe('counters', () => {
  it('names /proc/net/netstat and snmp counters as nstat does', () => {
    const text = 'TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 5 7\nIpExt: InNoRoutes\nIpExt: 1\nTcp: RtoAlgorithm ActiveOpens\nTcp: 1 42\n';
    expect(parseProcNetstat(text)).toEqual({ TcpExtSyncookiesSent: 0, TcpExtListenOverflows: 5, TcpExtListenDrops: 7, IpExtInNoRoutes: 1, TcpRtoAlgorithm: 1, TcpActiveOpens: 42 });
    expect(parseSnmp6('Ip6InReceives                   	12\nIp6InHdrErrors 0\n')).toEqual({ Ip6InReceives: 12, Ip6InHdrErrors: 0 });
  });
  it('sums conntrack -S over CPUs', () => {
    const text = 'cpu=0   \tfound=0 invalid=3 insert=0 insert_failed=0 drop=2 early_drop=0 error=0 search_restart=0 \ncpu=1   \tfound=1 invalid=0 insert=0 insert_failed=0 drop=5 early_drop=1 error=0 search_restart=0 \n';
    expect(parseConntrackStats(text)).toMatchObject({ found: 1, invalid: 3, drop: 7, early_drop: 1 });
    expect(parseConntrackStats('conntrack v1.4.7: Operation not permitted')).toBeNull();
  });
  it('keeps the ENA allowance counters and drop counters from ethtool -S, not per-queue noise', () => {
    const text = 'NIC statistics:\n     tx_timeout: 0\n     bw_in_allowance_exceeded: 0\n     conntrack_allowance_exceeded: 1742\n     conntrack_allowance_available: 0\n     queue_0_tx_drops: 3\n     rx_dropped: 9\n     rx_packets: 100\n';
    expect(parseEthtoolStats(text)).toEqual({ bw_in_allowance_exceeded: 0, conntrack_allowance_exceeded: 1742, conntrack_allowance_available: 0, rx_dropped: 9 });
    expect(keepEthtoolCounter('rx_queue_3_drops')).toBe(false);
  });
  it('differences: after − before, non-zero only', () => {
    const snap = (nstat: Record<string, number>, count: number, eth: Record<string, number>): CounterSnapshot => ({
      takenAt: 'x', nstat, conntrack: { count, max: 100 }, conntrackStats: { drop: 1 }, ethtool: { interface: 'eth0', counters: eth }, errors: [],
    });
    const d = diffSnapshots(snap({ TcpExtTCPSynRetrans: 3, TcpActiveOpens: 10, Same: 1 }, 5, { conntrack_allowance_exceeded: 0 }),
      snap({ TcpExtTCPSynRetrans: 9, TcpActiveOpens: 310, Same: 1, New: 4 }, 305, { conntrack_allowance_exceeded: 12 }));
    expect(d).toEqual({ nstat: { TcpExtTCPSynRetrans: 6, TcpActiveOpens: 300 }, conntrackCount: 300, conntrackStats: {}, ethtool: { conntrack_allowance_exceeded: 12 } });
  });
});

describe('times in run.json', () => {
  it('are ISO with nanoseconds, both ways', () => {
    const ns = 1_764_457_302_123_456_789n;
    expect(isoFromNs(ns)).toBe('2025-11-29T23:01:42.123456789Z');
    expect(nsFromIso('2025-11-29T23:01:42.123456789Z')).toBe(ns);
    expect(nsFromEpochText('1764457302.123456789')).toEqual({ ns, precise: true });
    expect(nsFromEpochText('1764457302.%N')).toEqual({ ns: 1_764_457_302_000_000_000n, precise: false });
    expect(nsFromEpochText('garbage')).toBeNull();
  });
});

describe('output directory and files', () => {
  const base = mkdtempSync(join(tmpdir(), 'sptest-cap-out-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('creates a fresh synprobe-<timestamp>/ and never reuses one', async () => {
    const a = await prepareOutDir(null, base);
    const b = await prepareOutDir(null, base);
    expect(a).toMatch(/synprobe-\d{8}-\d{6}$/);
    expect(b).not.toBe(a);
  });
  it('refuses a symlinked --out, a file, and a directory that already holds output files', async () => {
    mkdirSync(join(base, 'real'));
    symlinkSync(join(base, 'real'), join(base, 'link'));
    await expect(prepareOutDir('link', base)).rejects.toThrow(/symbolic link/);
    writeFileSync(join(base, 'file'), 'x');
    await expect(prepareOutDir('file', base)).rejects.toThrow(/not a directory/);
    mkdirSync(join(base, 'used'));
    symlinkSync('/etc/passwd', join(base, 'used', 'run.json'));
    await expect(prepareOutDir('used', base)).rejects.toThrow(/already exists/);
    expect(await prepareOutDir('new/deeper', base)).toBe(join(base, 'new', 'deeper'));
  });
  it('writes files exclusively and never through a symlink someone placed there', async () => {
    const target = join(base, 'victim');
    writeFileSync(target, 'precious');
    symlinkSync(target, join(base, 'trap.json'));
    await expect(writeNewFile(join(base, 'trap.json'), 'evil')).rejects.toThrow(/EEXIST/);
    expect(existsSync(target) && (await import('node:fs')).readFileSync(target, 'utf8')).toBe('precious');
  });
});
