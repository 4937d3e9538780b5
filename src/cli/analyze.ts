/** `synprobe analyze CLIENT [SERVER]`: the thin layer over analyzeCaptures and the reports. */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { analyzeCaptures, type AnalyzeOptions, type RunCoverageFacts } from '../analyze/index.js';
import { parseIsoNs, parseTimeArg } from '../analyze/time.js';
import { exitStatusFor, writeReport } from '../report/index.js';
import { UsageError, type CliIO } from './io.js';
import { defaultFormat, parseAddress, parseCount, parseFormat, parseMilliseconds, parsePortList } from './options.js';

interface AnalyzeFlags {
  port?: number[];
  peer?: string;
  format?: ReturnType<typeof parseFormat>;
  redact?: boolean;
  run?: string;
  clockOffset?: number;
  clientDrops?: number;
  serverDrops?: number;
  serverStart?: string;
  serverStop?: string;
  svg?: string;
  png?: string;
  overwrite?: boolean;
}

/** A run.json is a few kilobytes; anything far bigger is another file. */
const RUN_JSON_MAX_BYTES = 1 << 20;

function readRunJson(file: string): RunCoverageFacts {
  let text: string;
  try {
    // Reading a FIFO would wait for a writer forever, /dev/zero would never end.
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > RUN_JSON_MAX_BYTES) throw new Error(`${st.size} bytes, more than a run.json holds (${RUN_JSON_MAX_BYTES})`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read run.json: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  return checkRunFacts(file, value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks the fields of run.json the analysis reads (a wrong type would otherwise fail deep inside
 * it, as an internal error). Absent and null fields are fine: they are unknown.
 */
function checkRunFacts(file: string, value: unknown): RunCoverageFacts {
  const bad = (what: string) => new UsageError(`${file}: not a run.json written by synprobe capture: ${what}`);
  if (!isObject(value)) throw bad('not a JSON object');
  for (const role of ['client', 'server'] as const) {
    const side = value[role];
    if (side === undefined || side === null) continue;
    if (!isObject(side)) throw bad(`${role} is not an object`);
    const capture = side.capture;
    if (capture === undefined || capture === null) continue;
    if (!isObject(capture)) throw bad(`${role}.capture is not an object`);
    for (const key of ['startedAt', 'stoppedAt']) {
      const time = capture[key];
      if (time === undefined || time === null) continue;
      if (typeof time !== 'string' || parseIsoNs(time) === null) throw bad(`${role}.capture.${key} is not an ISO-8601 time: ${JSON.stringify(time)}`);
    }
    const drops = capture.droppedByKernel;
    if (drops !== undefined && drops !== null && !(Number.isSafeInteger(drops) && (drops as number) >= 0)) {
      throw bad(`${role}.capture.droppedByKernel is not a count: ${JSON.stringify(drops)}`);
    }
    const clock = capture.clock;
    if (clock !== undefined && clock !== null && clock !== 'own' && clock !== 'client-estimated') {
      throw bad(`${role}.capture.clock is neither "own" nor "client-estimated": ${JSON.stringify(clock)}`);
    }
  }
  const options = value.options;
  if (isObject(options) && options.ports !== undefined && options.ports !== null) {
    const ports = options.ports;
    if (!Array.isArray(ports) || ports.length === 0 || !ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)) {
      throw bad(`options.ports is not a list of ports: ${JSON.stringify(ports).slice(0, 80)}`);
    }
  }
  return value as RunCoverageFacts;
}

/** Fails before the analysis, not after it, when a picture file could not be written anyway. */
function checkPictureTargets(flags: AnalyzeFlags): void {
  if (flags.svg && flags.png && resolve(flags.svg) === resolve(flags.png)) throw new UsageError('--svg and --png name the same file');
  for (const file of [flags.svg, flags.png]) {
    if (!file) continue;
    let st;
    try {
      st = lstatSync(file);
    } catch {
      continue; // does not exist yet: created with O_EXCL when written
    }
    if (st.isSymbolicLink()) throw new UsageError(`${file} is a symbolic link: refusing to write through or replace it`);
    if (!st.isFile()) throw new UsageError(`${file} exists and is not a regular file`);
    if (!flags.overwrite) throw new UsageError(`${file} exists: remove it, choose another name, or pass --overwrite`);
  }
}

function parseTime(value: string | undefined, what: string): [number, number] | null {
  if (value === undefined) return null;
  const t = parseTimeArg(value);
  if (t === null) throw new UsageError(`${what} must be an ISO-8601 time (2026-11-29T23:01:42.5Z) or epoch seconds, not '${value}'`);
  return t;
}

export function register(program: Command, io: CliIO): void {
  program
    .command('analyze')
    .description('Correlate a client and a server capture and give every connection attempt a verdict.')
    .argument('<client-capture>', 'capture taken on the client host (pcap or pcapng)')
    .argument('[server-capture]', 'capture taken on the server host at the same time')
    .option('-p, --port <ports>', 'destination port(s) of the attempts: 8000, 8000-8003 or 8000,9000 (default: the port with the most SYNs)', (v) => parsePortList(v, '--port'))
    .option('--peer <address>', 'only attempts to this address (as the client saw it)', (v) => parseAddress(v, '--peer'))
    .option('-f, --format <format>', 'table | markdown | json (default: table on a terminal, markdown otherwise)', parseFormat)
    .option('--redact', 'replace addresses with client-1, server-1, ... in every format')
    .option('--run <run.json>', 'run.json written by synprobe capture: capture start/stop times and kernel drops')
    .option('--clock-offset <ms>', 'server clock minus client clock in ms, instead of measuring it', (v) => parseMilliseconds(v, '--clock-offset'))
    .option('--client-drops <n>', 'packets the client capture dropped (tcpdump\'s "dropped by kernel")', (v) => parseCount(v, '--client-drops'))
    .option('--server-drops <n>', 'packets the server capture dropped', (v) => parseCount(v, '--server-drops'))
    .option('--server-start <time>', 'when the server capture started (server clock; ISO-8601 or epoch seconds)')
    .option('--server-stop <time>', 'when the server capture stopped (server clock)')
    .option('--svg <file>', 'also write the evidence picture (ladder, connections chart, caption) as SVG')
    .option('--png <file>', 'also write the evidence picture as PNG (about 1000 px wide)')
    .option('--overwrite', 'replace existing --svg/--png files (regular files only; a symlink is never followed or replaced)')
    .addHelpText('after', `
Verdicts: established, established-after-loss, lost-in-path, synack-lost,
unanswered-at-server, refused, no-reply (client capture only), outside-capture.
A SYN is called lost only when both captures covered its time and neither
reported kernel drops.

Exit status: 0 nothing lost between the capture points, 1 loss found
(or, with one capture, attempts that got no reply), 2 error.

Examples:
  synprobe analyze client.pcap server.pcap
  synprobe analyze client.pcap server.pcapng --port 8000 --format markdown --redact > post.md
  synprobe analyze client.pcap server.pcap --run synprobe-20261129-230142/run.json --format json
  synprobe analyze client.pcap            # which SYNs were retransmitted and never answered
  synprobe analyze client.pcap server.pcap --format markdown --redact --png evidence.png > post.md
`)
    .action(async (clientFile: string, serverFile: string | undefined, flags: AnalyzeFlags) => {
      const run = flags.run ? readRunJson(flags.run) : null;
      const options: AnalyzeOptions = {
        clientFile,
        serverFile: serverFile ?? null,
        // without --port, the ports the capture probed (run.json), else the port with the most SYNs
        ports: flags.port ?? run?.options?.ports ?? null,
        peer: flags.peer ?? null,
        run,
        clockOffsetMs: flags.clockOffset ?? null,
        client: { drops: flags.clientDrops ?? null },
        server: {
          drops: flags.serverDrops ?? null,
          start: parseTime(flags.serverStart, '--server-start'),
          stop: parseTime(flags.serverStop, '--server-stop'),
        },
      };
      if (!serverFile && (flags.serverDrops !== undefined || flags.serverStart || flags.serverStop)) {
        throw new UsageError('--server-drops, --server-start and --server-stop need a server capture');
      }
      checkPictureTargets(flags);
      const result = await analyzeCaptures(options);
      const format = flags.format ?? defaultFormat(io.isTTY);
      let image: string | null = null;
      if (flags.svg || flags.png) {
        // Imported here: without --svg/--png the picture code is not needed, nor its start-up time spent.
        const { PictureFileError, writePictures } = await import('../report/picture/index.js');
        try {
          image = await writePictures(result, { svg: flags.svg, png: flags.png, redact: flags.redact, overwrite: flags.overwrite });
        } catch (err) {
          if (err instanceof PictureFileError) throw new UsageError(err.message);
          throw err;
        }
      }
      writeReport(result, format, { redact: flags.redact, image }, (text) => io.stdout(text));
      io.exitCode = exitStatusFor(result);
    });
}
