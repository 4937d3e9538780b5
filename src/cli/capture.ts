/** `synprobe capture`: the thin layer over runCapture (src/run/capture.ts). */
import { Option, type Command } from 'commander';
import { isIP } from 'node:net';
import type { ProbeProgress } from '../probe/probe.js';
import { runCapture, type CaptureOptions } from '../run/capture.js';
import { validateInterfaceName } from '../tcpdump/local.js';
import { normalizeSshOptions, validateHost, validateSshTarget } from '../tcpdump/remote.js';
import type { Format } from '../report/index.js';
import { UsageError, type CliIO } from './io.js';
import { defaultFormat, parseCount, parseFormat, parsePortList } from './options.js';

interface CaptureFlags {
  peer: string;
  port: number[];
  ssh?: string;
  sshOption: string[];
  interface?: string;
  remoteInterface?: string;
  sudo?: boolean;
  max: number;
  connectTimeout: number;
  hold: number;
  out?: string;
  remote: boolean;
  format?: Format;
  redact?: boolean;
  bind?: string[];
}

/** "15s", "500ms", "2m", "1.5s" → milliseconds. */
export function parseDuration(value: string, what: string, minMs = 0, maxMs = 3_600_000): number {
  const m = /^(\d{1,7}(?:\.\d{1,3})?)(ms|s|m)$/.exec(value.trim());
  if (!m) throw new UsageError(`${what} must be a duration like 15s, 500ms or 2m, not '${value}'`);
  const ms = Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000));
  if (ms < minMs || ms > maxMs) throw new UsageError(`${what} must be from ${minMs} ms to ${maxMs / 1000} s, not ${value}`);
  return ms;
}

/** "10.0.0.5,10.0.0.6" or "auto" → the list (validated, no repeats). */
export function parseBind(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError('--bind needs an address, a list of addresses, or auto');
  if (items.includes('auto')) {
    if (items.length > 1) throw new UsageError('--bind auto cannot be combined with addresses');
    return ['auto'];
  }
  for (const a of items) if (isIP(a) === 0) throw new UsageError(`--bind must be IP addresses or auto, not '${a}'`);
  const unique = [...new Set(items)];
  if (unique.length > 1024) throw new UsageError(`--bind names ${unique.length} addresses; at most 1024`);
  return unique;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function formatProgress(p: ProbeProgress): string {
  const s = Math.floor(p.elapsedMs / 1000);
  const elapsed = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `held ${p.held.toLocaleString('en-US')} connections, ${p.attempts.toLocaleString('en-US')} attempts, ${Math.round(p.ratePerSec).toLocaleString('en-US')}/s, ${elapsed} elapsed`;
}

export function register(program: Command, io: CliIO): void {
  program
    .command('capture')
    .description('Hold connections to a peer one at a time until one fails, with tcpdump running on this host and on the peer (over ssh), then correlate the two captures.')
    .requiredOption('--peer <host>', 'the server: an IP address or a host name', (v) => validateHost(v, '--peer'))
    .option('-p, --port <ports>', 'the port(s) synprobe serve (or any listener) holds connections on: 8000, 8000-8003 or 8000,9000; attempts go round them', (v) => parsePortList(v, '--port'), [8000])
    .option('--ssh <[user@]host>', 'how to reach the peer for its capture (default: the peer, as the current user)', (v) => validateSshTarget(v))
    .option('--ssh-option <option>', 'an ssh option, as for ssh -o (Port=2222, IdentityFile=~/.ssh/k); repeatable', collect, [] as string[])
    .option('-i, --interface <name>', 'interface to capture on here (default: the route to the peer)', (v) => validateInterfaceName(v, '--interface'))
    .option('--remote-interface <name>', 'interface to capture on at the peer (default: the one holding the peer address)', (v) => validateInterfaceName(v, '--remote-interface'))
    .option('--sudo', 'run tcpdump on the peer through sudo -n (it must not ask for a password)')
    .option('--max <n>', 'stop after this many connections', (v) => {
      const n = parseCount(v, '--max');
      if (n < 1 || n > 10_000_000) throw new UsageError(`--max must be from 1 to 10000000, not ${n}`);
      return n;
    }, 60_000)
    .option('--connect-timeout <duration>', 'give up on a connection attempt after this long (15s, 500ms, 2m)', (v) => parseDuration(v, '--connect-timeout', 100, 600_000), 15_000)
    .option('--hold <duration>', 'keep everything open this long after the probe stops, before stopping the captures', (v) => parseDuration(v, '--hold', 0, 3_600_000), 3_000)
    .option('--out <dir>', 'output directory (default: synprobe-<timestamp>/ here); existing files are never overwritten')
    .option('--no-remote', 'no capture on the peer (no ssh): this host only')
    .option('-f, --format <format>', 'table | markdown | json (default: table on a terminal, markdown otherwise)', parseFormat)
    .option('--redact', 'replace addresses in the reports')
    .addOption(new Option('--bind <addresses>', 'local source address(es) to connect from: 10.0.0.5,10.0.0.6, or auto (every address of the outgoing interface); attempts go round every (source, port) pair').argParser(parseBind))
    .addHelpText('after', `
What it does, in order: preflight on both hosts (tcpdump, open-files limit,
local ports, conntrack, SYN retry timing; a probe that a local limit would stop
is refused with the fix), counters before, tcpdump started here and on the
peer and shown listening, the probe (one connection at a time, each held,
stopping at the first failure or --max), --hold, both captures stopped while
the connections are held, counters after, then the analysis.

The peer's capture runs over ONE ssh connection opened before the probe (once
the path is full, no new connection opens - not even ssh) and streams back
over it; the ssh session itself is kept out of the capture. The peer needs
tcpdump, and root, --sudo (sudoers NOPASSWD for tcpdump) or tcpdump with
cap_net_raw. ssh must log in without a prompt (key or agent).

More than about 64,000 connections: one source address reaches one destination
port from at most the ports of net.ipv4.ip_local_port_range. Add source
addresses (--bind, e.g. secondary private IPs of the interface) or destination
ports (--port 8000-8003 with synprobe serve --port 8000-8003); preflight says
how many connections the combination allows and which limit binds first.

Output in --out: client.pcap, server.pcap, run.json, report.md.
Ctrl-C stops both captures cleanly and keeps everything captured so far.

Exit status: 0 nothing lost between the capture points, 1 loss found,
2 error, refusal or interruption before the captures completed.

Examples:
  synprobe capture --peer 172.31.17.55
  synprobe capture --peer 172.31.17.55 --ssh ec2-user@172.31.17.55 --sudo --max 100000
  synprobe capture --peer server.internal --ssh-option Port=2222 --ssh-option IdentityFile=~/.ssh/lab
  synprobe capture --peer 10.0.0.5 --no-remote --connect-timeout 30s --out run1
  synprobe capture --peer 10.0.0.5 --bind 10.0.0.7,10.0.0.8 --port 8000-8003 --max 400000
  synprobe capture --peer 10.0.0.5 --bind auto --port 8000,8001
  ulimit -n 70000 && sudo -E synprobe capture --peer 10.0.0.5 --format markdown > post.md
`)
    .action(async (flags: CaptureFlags) => {
      if (flags.remote === false && (flags.ssh || flags.sshOption.length || flags.remoteInterface || flags.sudo)) {
        throw new UsageError('--no-remote cannot be combined with --ssh, --ssh-option, --remote-interface or --sudo');
      }
      // checks every --ssh-option before anything starts
      normalizeSshOptions(flags.sshOption);
      const options: CaptureOptions = {
        peer: flags.peer,
        ports: flags.port,
        ssh: flags.ssh ?? null,
        sshOptions: flags.sshOption,
        interface: flags.interface ?? null,
        remoteInterface: flags.remoteInterface ?? null,
        sudo: Boolean(flags.sudo),
        max: flags.max,
        connectTimeoutMs: flags.connectTimeout,
        holdMs: flags.hold,
        out: flags.out ?? null,
        remote: flags.remote !== false,
        bind: flags.bind ?? [],
        format: flags.format ?? defaultFormat(io.isTTY),
        redact: Boolean(flags.redact),
        command: ['synprobe', ...process.argv.slice(2)],
      };

      const controller = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals): void => {
        signals++;
        if (signals === 1) controller.abort(sig);
        else if (signals === 2) io.stderr(`\nstill stopping the captures so that nothing is lost; ${sig} once more quits at once\n`);
        else process.exit(130);
      };
      const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const s of sigs) process.on(s, onSignal);

      let progressShown = false;
      let lastLineAt = 0;
      const clearProgress = (): void => {
        if (progressShown) { io.stderr('\r\x1b[K'); progressShown = false; }
      };
      const hooks = {
        log: (line: string): void => { clearProgress(); io.stderr(`${line}\n`); },
        progress: (p: ProbeProgress): void => {
          if (io.isTTY) {
            io.stderr(`\r${formatProgress(p)}\x1b[K`);
            progressShown = true;
          } else if (Date.now() - lastLineAt >= 5000) {
            lastLineAt = Date.now();
            io.stderr(`${formatProgress(p)}\n`);
          }
        },
        signal: controller.signal,
      };
      try {
        const outcome = await runCapture(options, hooks);
        clearProgress();
        if (outcome.report) io.stdout(outcome.report);
        if (outcome.error) io.stderr(`synprobe: ${outcome.error}\n`);
        io.exitCode = outcome.exitStatus;
      } finally {
        for (const s of sigs) process.removeListener(s, onSignal);
      }
    });
}
