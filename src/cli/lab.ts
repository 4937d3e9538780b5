/** `synprobe lab`: the demo on one Linux box, and the end-to-end test bed. */
import type { Command } from 'commander';
import { LAB_ADDRESSES, SCENARIOS, SCENARIO_DESCRIPTIONS, type Scenario } from '../lab/topology.js';
import { checkLabPrerequisites, cleanupLabs, LAB_NAME, LabError, runLab } from '../lab/run-lab.js';
import { UsageError, type CliIO } from './io.js';
import { defaultFormat, parseCount, parseFormat, parsePortList } from './options.js';
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
  name: string;
  port: number[];
  sources: number;
  localPorts?: number;
  max?: number;
}

function parseScenario(value: string): Scenario {
  if (!(SCENARIOS as readonly string[]).includes(value)) throw new UsageError(`--scenario must be one of ${SCENARIOS.join(', ')}, not '${value}'`);
  return value as Scenario;
}

/** The lab's name is the prefix of its namespaces (`<name>-client`, ...): ip netns accepts these. */
function parseName(value: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/.test(value)) throw new UsageError(`--name must be a letter followed by up to 31 letters, digits, '.', '_' or '-', not '${value}'`);
  return value;
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
    .option('-p, --port <ports>', 'probe port(s): 8000, 8000-8003 or 8000,9000; serve listens on all, capture goes round them, and the cap counts them together', (v) => parsePortList(v, '--port'), [8000])
    .option('--sources <n>', 'source addresses on the client (secondary addresses on its veth); more than one are all given to capture --bind', (v) => {
      const n = parseCount(v, '--sources');
      if (n < 1 || n > 200) throw new UsageError(`--sources must be from 1 to 200, not ${n}`);
      return n;
    }, 1)
    .option('--local-ports <n>', 'narrow the client\'s net.ipv4.ip_local_port_range to n ports (from 40000), to see the local-ports limit', (v) => {
      const n = parseCount(v, '--local-ports');
      if (n < 1 || n > 25000) throw new UsageError(`--local-ports must be from 1 to 25000, not ${n}`);
      return n;
    })
    .option('--max <n>', 'the probe\'s --max (default: the limit + 50 for a cap, the limit for open, 40 for lossy)', (v) => {
      const n = parseCount(v, '--max');
      if (n < 1 || n > 15000) throw new UsageError(`--max must be from 1 to 15000 (the lab holds every connection in one process), not ${n}`);
      return n;
    })
    .option('--cleanup', 'remove a lab left behind (by --keep or a killed run) and exit')
    .option('--name <name>', 'the lab\'s name, the prefix of its namespaces (two labs with different names can run at once)', parseName, LAB_NAME)
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
  sudo npx synprobe lab --scenario open --limit 300 --local-ports 100          # stops at 100: local ports
  sudo npx synprobe lab --limit 150 --local-ports 100 --sources 2 --port 8000-8001 --max 400
  sudo npx synprobe lab --name demo2 # a second lab beside the first (demo2-client, ...)

Ctrl-C (or SIGTERM) stops the capture cleanly, keeps what it captured, tears
the lab down and exits with status 2; a second Ctrl-C does not cut that short.
`)
    .action(async (flags: LabFlags) => {
      const log = (line: string): void => io.stderr(`${line}\n`);
      const remote = flags.remote;
      if (remote !== 'ssh') throw new UsageError(`--remote must be ssh (capturing in the server namespace without ssh is not built yet), not '${remote}'`);
      if (!/^\d+(ms|s|m)?$/.test(flags.connectTimeout)) throw new UsageError(`--connect-timeout must be a duration like 4s or 2500ms, not '${flags.connectTimeout}'`);
      try {
        if (flags.cleanup) {
          await checkLabPrerequisites('none');
          const removed = await cleanupLabs(flags.name);
          log(removed.length > 0 ? `removed lab ${removed.join(', ')}` : 'no lab to remove');
          io.exitCode = 0;
          return;
        }
        // The first signal stops capture cleanly and tears the lab down; a second one must not kill
        // this process half-way through (namespaces and processes would be left): only a third does.
        const controller = new AbortController();
        let signals = 0;
        const onSignal = (sig: NodeJS.Signals): void => {
          signals++;
          if (signals === 1) controller.abort(sig);
          else if (signals === 2) io.stderr(`\nstill stopping the capture and tearing the lab down; ${sig} once more quits at once (then remove the lab with: synprobe lab --cleanup${flags.name === LAB_NAME ? '' : ` --name ${flags.name}`})\n`);
          else process.exit(130);
        };
        const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
        for (const s of sigs) process.on(s, onSignal);
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
              name: flags.name,
              ports: flags.port,
              sources: flags.sources,
              ...(flags.localPorts ? { localPorts: flags.localPorts } : {}),
              ...(flags.max ? { max: flags.max } : {}),
            },
            { log, stdout: io.stdout, stderr: io.stderr, signal: controller.signal },
          );
          io.exitCode = controller.signal.aborted ? 2 : result.exitCode;
        } finally {
          for (const s of sigs) process.off(s, onSignal);
        }
      } catch (err) {
        if (err instanceof LabError) throw new UsageError(err.message);
        throw err;
      }
    });
}
