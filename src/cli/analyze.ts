/** `synprobe analyze CLIENT [SERVER]`: the thin layer over analyzeCaptures and the reports. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { analyzeCaptures, type AnalyzeOptions, type RunCoverageFacts } from '../analyze/index.js';
import { parseTimeArg } from '../analyze/time.js';
import { exitStatusFor, renderReport } from '../report/index.js';
import { UsageError, type CliIO } from './io.js';
import { defaultFormat, parseAddress, parseCount, parseFormat, parseMilliseconds, parsePort } from './options.js';

interface AnalyzeFlags {
  port?: number;
  peer?: string;
  format?: ReturnType<typeof parseFormat>;
  redact?: boolean;
  run?: string;
  clockOffset?: number;
  clientDrops?: number;
  serverDrops?: number;
  serverStart?: string;
  serverStop?: string;
}

function readRunJson(file: string): RunCoverageFacts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read run.json: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as RunCoverageFacts;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON: ${(err as Error).message}`);
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
    .option('-p, --port <port>', 'destination port of the attempts (default: the port with the most SYNs)', (v) => parsePort(v))
    .option('--peer <address>', 'only attempts to this address (as the client saw it)', (v) => parseAddress(v, '--peer'))
    .option('-f, --format <format>', 'table | markdown | json (default: table on a terminal, markdown otherwise)', parseFormat)
    .option('--redact', 'replace addresses with client-1, server-1, ... in every format')
    .option('--run <run.json>', 'run.json written by synprobe capture: capture start/stop times and kernel drops')
    .option('--clock-offset <ms>', 'server clock minus client clock in ms, instead of measuring it', (v) => parseMilliseconds(v, '--clock-offset'))
    .option('--client-drops <n>', 'packets the client capture dropped (tcpdump\'s "dropped by kernel")', (v) => parseCount(v, '--client-drops'))
    .option('--server-drops <n>', 'packets the server capture dropped', (v) => parseCount(v, '--server-drops'))
    .option('--server-start <time>', 'when the server capture started (server clock; ISO-8601 or epoch seconds)')
    .option('--server-stop <time>', 'when the server capture stopped (server clock)')
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
`)
    .action(async (clientFile: string, serverFile: string | undefined, flags: AnalyzeFlags) => {
      const options: AnalyzeOptions = {
        clientFile,
        serverFile: serverFile ?? null,
        port: flags.port ?? null,
        peer: flags.peer ?? null,
        run: flags.run ? readRunJson(flags.run) : null,
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
      const result = await analyzeCaptures(options);
      const format = flags.format ?? defaultFormat(io.isTTY);
      io.stdout(renderReport(result, format, { redact: flags.redact }));
      io.exitCode = exitStatusFor(result);
    });
}
