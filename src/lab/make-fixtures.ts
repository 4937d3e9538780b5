/**
 * Regenerates the analyzer's test fixtures with REAL captures: for every lab scenario, tcpdump
 * on the client's veth and on the server's veth while the probe (in the client namespace) runs
 * against the listener (in the server namespace). Needs root, iproute2, nftables, tcpdump,
 * dumpcap, editcap and tshark (tshark only counts packets for expected.json).
 *
 *   npm run build && node dist/lab/make-fixtures.js [outdir] [--only path-cap,nat] [--name synfix]
 *
 * Writes <scenario>-client.pcap / <scenario>-server.pcap, the SLL2/nanosecond and pcapng pair,
 * the clock-shifted and truncated variants, expected.json (exact numbers for the tests) and
 * README.md (how each file was made). Captures are small: limit 20, snaplen 128.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile, stat } from 'node:fs/promises';
import { release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ProbeResult } from '../probe/probe.js';
import { countRuleHits, createLab, destroyLab, inNamespace, runCommand, SCENARIO_DESCRIPTIONS, type Lab, type Scenario } from './topology.js';

const LIMIT = 20;
const PORT = 8000;
const SNAPLEN = 128;
/** tcp_syn_retries in the client: with linear timeouts (kernel >= 6.5) a failing connect sends
 * 6 SYN copies (0, 1, 2, 3, 4, 5 s) and fails at about 7 s. */
const SYN_RETRIES = 2;
const CONNECT_TIMEOUT_MS = 60_000;
/** Quiet time before the captures stop: dumpcap hands packets over in blocks up to 1 s late. */
const SETTLE_MS = 2000;
const CAPTURE_SCENARIOS: Scenario[] = ['path-cap', 'synack-lost', 'server-drop', 'refused', 'lossy', 'nat', 'ipv6'];
const CLOCK_SHIFTS = [
  { file: 'clock-shift-server.pcap', seconds: 7.25 },
  { file: 'clock-shift-neg-server.pcap', seconds: -3.5 },
];
const PROBE_MAIN = fileURLToPath(new URL('./probe-main.js', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** A long-running child: stdout split into lines, stderr kept, exit awaited. */
interface Child {
  proc: ChildProcess;
  stderr(): string;
  nextLine(timeoutMs: number): Promise<string>;
  waitForStderr(pattern: RegExp, timeoutMs: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startChild(argv: string[]): Child {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.on('exit', (code, signal) => { exitInfo = { code, signal }; res(exitInfo); });
    proc.on('error', (err) => { stderr += String(err); exitInfo = { code: null, signal: null }; res(exitInfo); });
  });
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
    partial += s;
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) { lines.push(partial.slice(0, i)); partial = partial.slice(i + 1); }
    proc.emit('synprobe-line');
  });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; proc.emit('synprobe-stderr'); });
  const wait = (ready: () => boolean, event: string, what: string, timeoutMs: number): Promise<void> =>
    new Promise((res, rej) => {
      const check = (): void => {
        if (ready()) { cleanup(); res(); } else if (exitInfo) { cleanup(); rej(new Error(`${argv.join(' ')} exited before ${what}: ${stderr.trim()}`)); }
      };
      const timer = setTimeout(() => { cleanup(); rej(new Error(`${argv.join(' ')}: no ${what} within ${timeoutMs} ms: ${stderr.trim()}`)); }, timeoutMs);
      const cleanup = (): void => { clearTimeout(timer); proc.off(event, check); proc.off('exit', check); };
      proc.on(event, check);
      proc.on('exit', check);
      check();
    });
  return {
    proc,
    stderr: () => stderr,
    exited,
    nextLine: async (timeoutMs) => {
      await wait(() => lines.length > 0, 'synprobe-line', 'output line', timeoutMs);
      return lines.shift()!;
    },
    waitForStderr: (pattern, timeoutMs) => wait(() => pattern.test(stderr), 'synprobe-stderr', `'${pattern.source}' on stderr`, timeoutMs),
  };
}

/** SIGTERM to the process itself (`ip netns exec` execs it: the pid is tcpdump's), then wait. */
async function stopChild(child: Child, what: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  child.proc.kill('SIGTERM');
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 10_000));
  const result = await Promise.race([child.exited, timeout]);
  if (result === null) {
    child.proc.kill('SIGKILL');
    throw new Error(`${what} did not stop within 10 s of SIGTERM`);
  }
  return result;
}

export interface CaptureCounts {
  captured: number | null;
  received: number | null;
  dropped: number | null;
  /** dumpcap only: drops reported for the interface. */
  interfaceDropped?: number | null;
}

/** tcpdump: "N packets captured", "N packets received by filter", "N packets dropped by kernel". */
export function parseTcpdumpCounts(stderr: string): CaptureCounts {
  const num = (re: RegExp): number | null => { const m = re.exec(stderr); return m ? Number(m[1]) : null; };
  return {
    captured: num(/^(\d+) packets? captured$/m),
    received: num(/^(\d+) packets? received by filter$/m),
    dropped: num(/^(\d+) packets? dropped by kernel$/m),
  };
}

/** dumpcap: "Packets captured: N" and "Packets received/dropped on interface 'x': R/D (...)". */
export function parseDumpcapCounts(stderr: string): CaptureCounts {
  const captured = /^Packets captured: (\d+)$/m.exec(stderr);
  const rd = /^Packets received\/dropped on interface '[^']*': (\d+)\/(\d+)/m.exec(stderr);
  return {
    captured: captured ? Number(captured[1]) : null,
    received: rd ? Number(rd[1]) : null,
    dropped: rd ? Number(rd[2]) : null,
    interfaceDropped: rd ? Number(rd[2]) : null,
  };
}

interface CaptureSpec {
  ns: string;
  file: string;
  tool: 'tcpdump' | 'dumpcap';
  iface: string;
  nano?: boolean;
}

interface RunningCapture { spec: CaptureSpec; child: Child; startedAt: string }

async function startCapture(spec: CaptureSpec): Promise<RunningCapture> {
  const argv = spec.tool === 'tcpdump'
    ? ['tcpdump', '-n', '-i', spec.iface, '-s', String(SNAPLEN), '-U', '--immediate-mode', '-Z', 'root',
      ...(spec.nano ? ['--time-stamp-precision=nano'] : []), '-w', spec.file]
    : ['dumpcap', '-i', spec.iface, '-s', String(SNAPLEN), '-w', spec.file];
  const startedAt = new Date().toISOString();
  const child = startChild(inNamespace(spec.ns, argv));
  await child.waitForStderr(spec.tool === 'tcpdump' ? /listening on / : /Capturing on /, 10_000);
  // dumpcap says "Capturing on" just before it opens the device; give it a moment.
  if (spec.tool === 'dumpcap') await new Promise((r) => setTimeout(r, 500));
  return { spec, child, startedAt };
}

async function stopCapture(capture: RunningCapture): Promise<{ counts: CaptureCounts; stoppedAt: string; stderr: string }> {
  const stoppedAt = new Date().toISOString();
  const exit = await stopChild(capture.child, `${capture.spec.tool} in ${capture.spec.ns}`);
  await chmod(capture.spec.file, 0o644); // dumpcap writes 0600
  const stderr = capture.child.stderr();
  if (exit.code !== 0) throw new Error(`${capture.spec.tool} in ${capture.spec.ns} exited with ${exit.code ?? exit.signal}: ${stderr.trim()}`);
  const counts = capture.spec.tool === 'tcpdump' ? parseTcpdumpCounts(stderr) : parseDumpcapCounts(stderr);
  if (counts.captured === null) throw new Error(`${capture.spec.tool} printed no packet counts: ${stderr.trim()}`);
  return { counts, stoppedAt, stderr };
}

/** Per-file packet counts (via tshark) and the failing attempt's SYN copies, found by ISN. */
interface FileFacts {
  packets: number;
  syn: number;
  synAck: number;
  rst: number;
  bytes: number;
}

async function tsharkFields(file: string, fields: string[]): Promise<string[][]> {
  const args = ['tshark', '-n', '-r', file, '-T', 'fields', '-E', 'separator=/t'];
  for (const f of fields) args.push('-e', f);
  const { stdout } = await runCommand(args, { timeoutMs: 60_000 });
  return stdout.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

async function fileFacts(file: string): Promise<FileFacts & { rows: string[][] }> {
  const rows = await tsharkFields(file, ['frame.number', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.reset', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw']);
  const isTrue = (v: string | undefined): boolean => v === '1' || v === 'True';
  return {
    rows,
    packets: rows.length,
    syn: rows.filter((r) => isTrue(r[1]) && !isTrue(r[2])).length,
    synAck: rows.filter((r) => isTrue(r[1]) && isTrue(r[2])).length,
    rst: rows.filter((r) => isTrue(r[3])).length,
    bytes: (await stat(file)).size,
  };
}

function isSynOnly(r: string[]): boolean {
  return (r[1] === '1' || r[1] === 'True') && !(r[2] === '1' || r[2] === 'True');
}

interface ScenarioRecord {
  description: string;
  limit: number;
  port: number;
  synRetries: number | null;
  client: { addr: string; ns: string };
  server: { addr: string; ns: string };
  probe: {
    attempts: number; established: number; stoppedBy: string;
    failureCode: string | null; failureKind: string | null; failureLocalPort: number | null; failureElapsedMs: number | null;
    /** The failing attempt's ISN (from the client capture) and its SYN copies at each end. */
    failureIsn: number | null; failureSynCopiesClient: number | null; failureSynCopiesServer: number | null;
  };
  listener: { held: number | null; accepted: number | null };
  /** Packets the scenario's nftables rules dropped or rejected (their counters). */
  ruleHits: number;
  /** SYN copies (SYN without ACK to the probe port) at each end, over the whole run. */
  syns: { client: number; server: number; notAtServer: number; attemptsRetransmitted: number };
  captures: Record<'client' | 'server', {
    file: string; tool: string; format: string; linkType: string; nanosecond: boolean;
    captured: number | null; received: number | null; dropped: number | null;
    startedAt: string; stoppedAt: string;
    packets: number; syn: number; synAck: number; rst: number; bytes: number;
  }>;
}

interface RunPlan {
  key: string;
  scenario: Scenario;
  client: Omit<CaptureSpec, 'ns'>;
  server: Omit<CaptureSpec, 'ns'>;
}

async function runScenario(plan: RunPlan, outDir: string, labName: string, log: (s: string) => void): Promise<ScenarioRecord> {
  const { scenario } = plan;
  const lossy = scenario === 'lossy';
  // 'lossy' keeps the kernel's default retries so every connection gets through in the end.
  const synRetries = lossy ? null : SYN_RETRIES;
  await destroyLab(labName);
  const lab: Lab = await createLab({ name: labName, scenario, limit: LIMIT, port: PORT, ...(synRetries === null ? {} : { synRetries }) });
  const children: Child[] = [];
  try {
    const server = startChild(inNamespace(lab.server.ns, [process.execPath, PROBE_MAIN, 'serve', '--port', String(PORT)]));
    children.push(server);
    JSON.parse(await server.nextLine(10_000));
    const clientCap = await startCapture({ ...plan.client, ns: lab.client.ns, file: join(outDir, plan.client.file) });
    children.push(clientCap.child);
    const serverCap = await startCapture({ ...plan.server, ns: lab.server.ns, file: join(outDir, plan.server.file) });
    children.push(serverCap.child);

    const probe = startChild(inNamespace(lab.client.ns, [
      process.execPath, PROBE_MAIN, 'probe', '--host', lab.peer, '--port', String(PORT),
      '--max', String(lossy ? LIMIT : LIMIT * 2), '--timeout', String(CONNECT_TIMEOUT_MS), '--hold',
    ]));
    children.push(probe);
    const { result } = JSON.parse(await probe.nextLine(CONNECT_TIMEOUT_MS + 30_000)) as { result: ProbeResult };
    log(`  probe: ${result.attempts} attempts, ${result.established} established, ${result.failure ? `${result.failure.code} at attempt ${result.failure.attempt}` : result.stoppedBy}`);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const ruleHits = await countRuleHits(lab);
    // Captures stop before the probe closes its connections: no FIN storm in the fixtures.
    const clientStop = await stopCapture(clientCap);
    const serverStop = await stopCapture(serverCap);
    // The listener first, so its count is taken while the probe still holds every connection.
    await stopChild(server, 'listener').catch(() => undefined);
    let listener: { held: number | null; accepted: number | null } = { held: null, accepted: null };
    try { listener = JSON.parse(await server.nextLine(2000)) as typeof listener; } catch { /* counts are a bonus */ }
    await stopChild(probe, 'probe');

    const cf = await fileFacts(clientCap.spec.file);
    const sf = await fileFacts(serverCap.spec.file);
    let failureIsn: number | null = null;
    let copiesClient: number | null = null;
    let copiesServer: number | null = null;
    if (result.failure?.localPort) {
      const port = String(result.failure.localPort);
      const clientSyns = cf.rows.filter((r) => isSynOnly(r) && r[4] === port && r[5] === String(PORT));
      copiesClient = clientSyns.length;
      failureIsn = clientSyns.length > 0 ? Number(clientSyns[0]![6]) : null;
      copiesServer = failureIsn === null ? null : sf.rows.filter((r) => isSynOnly(r) && Number(r[6]) === failureIsn).length;
    }
    const clientSynPorts = new Map<string, number>();
    for (const r of cf.rows) if (isSynOnly(r) && r[5] === String(PORT)) clientSynPorts.set(r[4]!, (clientSynPorts.get(r[4]!) ?? 0) + 1);
    const clientSyns = [...clientSynPorts.values()].reduce((a, b) => a + b, 0);
    const serverSyns = sf.rows.filter((r) => isSynOnly(r) && r[5] === String(PORT)).length;
    const syns = {
      client: clientSyns,
      server: serverSyns,
      notAtServer: clientSyns - serverSyns,
      attemptsRetransmitted: [...clientSynPorts.values()].filter((n) => n > 1).length,
    };
    const describe = (spec: CaptureSpec, cap: RunningCapture, stop: Awaited<ReturnType<typeof stopCapture>>, facts: FileFacts) => ({
      file: spec.file.slice(outDir.length + 1),
      tool: spec.tool,
      format: spec.tool === 'dumpcap' ? 'pcapng' : 'pcap',
      linkType: spec.iface === 'any' ? 'LINUX_SLL2' : 'EN10MB',
      nanosecond: spec.tool === 'dumpcap' || Boolean(spec.nano),
      captured: stop.counts.captured,
      received: stop.counts.received,
      dropped: stop.counts.dropped,
      startedAt: cap.startedAt,
      stoppedAt: stop.stoppedAt,
      packets: facts.packets, syn: facts.syn, synAck: facts.synAck, rst: facts.rst, bytes: facts.bytes,
    });
    return {
      description: SCENARIO_DESCRIPTIONS[scenario],
      limit: LIMIT,
      port: PORT,
      synRetries,
      client: { addr: scenario === 'ipv6' ? lab.client.addr6 : lab.client.addr4, ns: lab.client.ns },
      server: { addr: lab.peer, ns: lab.server.ns },
      probe: {
        attempts: result.attempts,
        established: result.established,
        stoppedBy: result.stoppedBy,
        failureCode: result.failure?.code ?? null,
        failureKind: result.failure?.kind ?? null,
        failureLocalPort: result.failure?.localPort ?? null,
        failureElapsedMs: result.failure?.elapsedMs ?? null,
        failureIsn,
        failureSynCopiesClient: copiesClient,
        failureSynCopiesServer: copiesServer,
      },
      listener,
      ruleHits,
      syns,
      captures: {
        client: describe(clientCap.spec, clientCap, clientStop, cf),
        server: describe(serverCap.spec, serverCap, serverStop, sf),
      },
    };
  } finally {
    for (const child of children) child.proc.kill('SIGKILL');
    await destroyLab(labName);
  }
}

/** Where each record of a classic pcap file starts; throws on anything else. */
export function pcapRecordOffsets(data: Buffer): { offset: number; inclLen: number }[] {
  if (data.length < 24) throw new Error('not a pcap file: shorter than its header');
  const magic = data.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && data.readUInt32BE(0) !== 0xa1b2c3d4 && data.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a classic pcap file');
  const records: { offset: number; inclLen: number }[] = [];
  let at = 24;
  while (at + 16 <= data.length) {
    const inclLen = le ? data.readUInt32LE(at + 8) : data.readUInt32BE(at + 8);
    if (at + 16 + inclLen > data.length) break;
    records.push({ offset: at, inclLen });
    at += 16 + inclLen;
  }
  return records;
}

async function writeTruncated(outDir: string, from: string, to: string): Promise<Record<string, number | string>> {
  const data = await readFile(join(outDir, from));
  const records = pcapRecordOffsets(data);
  if (records.length < 3) throw new Error(`${from} has too few packets to truncate`);
  const index = records.length - 2; // the last-but-one packet, 0-based
  const rec = records[index]!;
  const kept = Math.floor(rec.inclLen / 2);
  const cutAt = rec.offset + 16 + kept;
  await writeFile(join(outDir, to), data.subarray(0, cutAt));
  return {
    from,
    bytes: cutAt,
    originalBytes: data.length,
    originalPackets: records.length,
    completePackets: index,
    cutPacketNumber: index + 1,
    cutPacketRecordOffset: rec.offset,
    cutPacketCapturedLength: rec.inclLen,
    cutPacketBytesKept: kept,
  };
}

function readmeText(expected: Expected, command: string): string {
  const lines = [
    '# Fixtures',
    '',
    'Real captures made by `src/lab/make-fixtures.ts` in network namespaces on one machine',
    `(kernel ${expected.kernel}, ${expected.tcpdump}): client — router — server, nftables in the`,
    `router (or the server) as described per scenario, limit ${LIMIT} connections, port ${PORT},`,
    `snaplen ${SNAPLEN}, client \`net.ipv4.tcp_syn_retries=${SYN_RETRIES}\` (except lossy), the probe from the`,
    'client namespace holding every connection; tcpdump (`-U --immediate-mode`) on the client\'s and the',
    'server\'s veth, stopped with SIGTERM sent to tcpdump itself before the probe closes its connections.',
    'Exact numbers (probe result, tcpdump counts, SYN copies) are in `expected.json`.',
    '',
    `Regenerate (as root): \`${command}\``,
    '',
    '| file | how it was made |',
    '|---|---|',
  ];
  for (const [key, rec] of Object.entries(expected.scenarios)) {
    for (const side of ['client', 'server'] as const) {
      const c = rec.captures[side];
      const how = key === 'sll2-ns'
        ? (side === 'client'
          ? 'path-cap run, client captured with `tcpdump -i any --time-stamp-precision=nano` (LINUX_SLL2, nanosecond pcap)'
          : 'same path-cap run, server captured with `dumpcap -w` (pcapng, nanosecond, with interface statistics)')
        : `${key}: ${rec.description}; ${side} side, \`tcpdump -i ${side === 'client' ? 'veth-client' : 'veth-server'}\``;
      lines.push(`| \`${c.file}\` | ${how} |`);
    }
  }
  for (const shift of CLOCK_SHIFTS) {
    lines.push(`| \`${shift.file}\` | \`path-cap-server.pcap\` with every timestamp shifted by ${shift.seconds > 0 ? '+' : ''}${shift.seconds} s (\`editcap -F pcap -t ${shift.seconds}\`): namespaces share the host's realtime clock, so a clock offset between hosts can only be made this way |`);
  }
  const t = expected.derived['truncated-client.pcap']!;
  lines.push(`| \`truncated-client.pcap\` | \`path-cap-client.pcap\` cut at byte ${t['bytes']}, in the middle of packet ${t['cutPacketNumber']} of ${t['originalPackets']} (the last-but-one: ${t['cutPacketBytesKept']} of its ${t['cutPacketCapturedLength']} captured bytes kept) |`);
  lines.push('| `expected.json` | the numbers above, per scenario, for exact assertions |', '');
  return lines.join('\n');
}

interface Expected {
  generatedBy: string;
  generatedAt: string;
  kernel: string;
  tcpdump: string;
  limit: number;
  port: number;
  snaplen: number;
  synRetries: number;
  scenarios: Record<string, ScenarioRecord>;
  derived: Record<string, Record<string, number | string>>;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { only: { type: 'string' }, name: { type: 'string', default: 'synfix' } },
  });
  if (process.getuid?.() !== 0) throw new Error('make-fixtures needs root (network namespaces, nftables, tcpdump)');
  const outDir = resolve(positionals[0] ?? DEFAULT_OUT);
  await mkdir(outDir, { recursive: true });
  const labName = values.name!;
  const only = values.only ? new Set(values.only.split(',')) : null;
  const log = (s: string): void => { process.stderr.write(`${s}\n`); };

  const plans: RunPlan[] = CAPTURE_SCENARIOS.map((scenario) => ({
    key: scenario,
    scenario,
    client: { tool: 'tcpdump', iface: 'veth-client', file: `${scenario}-client.pcap` },
    server: { tool: 'tcpdump', iface: 'veth-server', file: `${scenario}-server.pcap` },
  }));
  plans.push({
    key: 'sll2-ns',
    scenario: 'path-cap',
    client: { tool: 'tcpdump', iface: 'any', nano: true, file: 'sll2-ns-client.pcap' },
    server: { tool: 'dumpcap', iface: 'veth-server', file: 'sll2-ns-server.pcapng' },
  });

  const expectedFile = join(outDir, 'expected.json');
  let expected: Expected;
  const versionLine = (await runCommand(['tcpdump', '--version'])).stdout.split('\n')[0] ?? 'tcpdump';
  const command = `npm run build && node dist/lab/make-fixtures.js${positionals[0] ? ` ${positionals[0]}` : ''}`;
  const fresh: Expected = {
    generatedBy: command,
    generatedAt: new Date().toISOString(),
    kernel: release(),
    tcpdump: versionLine.trim(),
    limit: LIMIT, port: PORT, snaplen: SNAPLEN, synRetries: SYN_RETRIES,
    scenarios: {},
    derived: {},
  };
  if (only) {
    try { expected = { ...JSON.parse(await readFile(expectedFile, 'utf8')) as Expected, generatedAt: fresh.generatedAt }; } catch { expected = fresh; }
  } else {
    expected = fresh;
  }

  const onSignal = (): void => { void destroyLab(labName).finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  for (const plan of plans) {
    if (only && !only.has(plan.key)) continue;
    log(`${plan.key}: ${SCENARIO_DESCRIPTIONS[plan.scenario]}`);
    expected.scenarios[plan.key] = await runScenario(plan, outDir, labName, log);
  }

  if (!only || only.has('path-cap')) {
    for (const shift of CLOCK_SHIFTS) {
      await runCommand(['editcap', '-F', 'pcap', '-t', String(shift.seconds), join(outDir, 'path-cap-server.pcap'), join(outDir, shift.file)]);
      expected.derived[shift.file] = { from: 'path-cap-server.pcap', shiftSeconds: shift.seconds, shiftNs: Math.round(shift.seconds * 1e9) };
    }
    expected.derived['truncated-client.pcap'] = await writeTruncated(outDir, 'path-cap-client.pcap', 'truncated-client.pcap');
  }
  await writeFile(expectedFile, `${JSON.stringify(expected, null, 2)}\n`);
  await writeFile(join(outDir, 'README.md'), readmeText(expected, command));
  log(`wrote fixtures to ${outDir}`);
}

// Run only as the entry point: tests import the parsers above.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    () => { process.exit(0); },
    (err: unknown) => {
      process.stderr.write(`make-fixtures: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
