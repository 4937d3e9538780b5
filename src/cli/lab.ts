/** `synprobe lab`: the demo on one Linux box, and the end-to-end test bed. */
import type { Command } from 'commander';
import { LAB_ADDRESSES, SCENARIOS, SCENARIO_DESCRIPTIONS, type Scenario } from '../lab/topology.js';
import { checkLabPrerequisites, cleanupLabs, LabError, runLab } from '../lab/run-lab.js';
import { UsageError, type CliIO } from './io.js';
import { defaultFormat, parseCount, parseFormat } from './options.js';
import type { Format } from '../report/index.js';

interface LabFlags {
  scenario: string;
  limit: number;
  remote: string;
  keep?: boolean;
  out?: string;
  format?: Format;
  redact?: boolean;
  cleanup?: boolean;
  connectTimeout: string;
}

function parseScenario(value: string): Scenario {
  if (!(SCENARIOS as readonly string[]).includes(value)) throw new UsageError(`--scenario must be one of ${SCENARIOS.join(', ')}, not '${value}'`);
  return value as Scenario;
}

function parseLimit(value: string): number {
  const n = parseCount(value, '--limit');
  if (n < 1 || n > 15000) throw new UsageError(`--limit must be from 1 to 15000 (the lab holds every connection in one process), not ${n}`);
  return n;
}

export function register(program: Command, io: CliIO): void {
  const scenarioHelp = SCENARIOS.map((s) => `  ${s.padEnd(12)} ${SCENARIO_DESCRIPTIONS[s]}`).join('\n');
  program
    .command('lab')
    .description('Reproduce a connection ceiling on this machine (root): client, router and server namespaces with a table-limited firewall, then run capture against it.')
    .option('-s, --scenario <name>', `what the router (or server) does past the limit: ${SCENARIOS.join(' | ')}`, 'path-cap')
    .option('-l, --limit <n>', 'connections the firewall tracks before it acts', parseLimit, 300)
    .option('--remote <how>', 'how capture reaches the server host: ssh (a real sshd in its namespace, exactly as with a real peer; the only way for now)', 'ssh')
    .option('--connect-timeout <duration>', 'how long the failing attempt keeps retransmitting', '4s')
    .option('--keep', 'leave the namespaces and rules up afterwards, and say how to enter them')
    .option('--out <dir>', 'output directory (default synprobe-<timestamp>/)')
    .option('-f, --format <format>', 'table | markdown | json', parseFormat)
    .option('--redact', 'replace addresses in the report')
    .option('--cleanup', 'remove a lab left behind (by --keep or a killed run) and exit')
    .addHelpText('after', `
Scenarios:
${scenarioHelp}

Addresses: the lab uses ${LAB_ADDRESSES.ipv4Range} and ${LAB_ADDRESSES.ipv6Range}, the
${LAB_ADDRESSES.note}; nothing leaves this machine.
Needs root, iproute2, nftables, tcpdump and (for --remote ssh) openssh-server.

Examples:
  sudo npx synprobe lab
  sudo npx synprobe lab --scenario synack-lost --limit 100
  sudo npx synprobe lab --scenario nat --format markdown > post.md
  sudo npx synprobe lab --keep        # then: ip netns exec synlab-client bash
  sudo npx synprobe lab --cleanup
`)
    .action(async (flags: LabFlags) => {
      const log = (line: string): void => io.stderr(`${line}\n`);
      const remote = flags.remote;
      if (remote !== 'ssh') throw new UsageError(`--remote must be ssh (capturing in the server namespace without ssh is not built yet), not '${remote}'`);
      if (!/^\d+(ms|s|m)?$/.test(flags.connectTimeout)) throw new UsageError(`--connect-timeout must be a duration like 4s or 2500ms, not '${flags.connectTimeout}'`);
      try {
        if (flags.cleanup) {
          await checkLabPrerequisites('none');
          const removed = await cleanupLabs();
          log(removed.length > 0 ? `removed lab ${removed.join(', ')}` : 'no lab to remove');
          io.exitCode = 0;
          return;
        }
        const controller = new AbortController();
        const onSignal = (): void => controller.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const result = await runLab(
            {
              scenario: parseScenario(flags.scenario),
              limit: flags.limit,
              remote,
              keep: Boolean(flags.keep),
              out: flags.out ?? null,
              format: flags.format ?? defaultFormat(io.isTTY),
              redact: Boolean(flags.redact),
              connectTimeout: flags.connectTimeout,
            },
            { log, stdout: io.stdout, stderr: io.stderr, signal: controller.signal },
          );
          io.exitCode = controller.signal.aborted ? 2 : result.exitCode;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      } catch (err) {
        if (err instanceof LabError) throw new UsageError(err.message);
        throw err;
      }
    });
}
