/**
 * A tiny entry for running the probe or the listener in a child process inside a lab
 * namespace (`ip netns exec <ns> node dist/lab/probe-main.js ...`), which the lab's fixture
 * generator and tests need because a Node process cannot change its own namespace.
 *
 *   probe-main.js probe --host 198.19.0.2 --port 8000 --max 40 --timeout 30000 [--bind A] [--hold]
 *     prints one JSON line {"result": ProbeResult}; with --hold the connections stay open
 *     until SIGTERM/SIGINT (or stdin closes), so the caller stops its captures first.
 *   probe-main.js serve --port 8000[,8001] [--bind ::]
 *     prints {"listening": {"ports": [...], "bind": "..."}} once listening, and on
 *     SIGTERM/SIGINT {"held": N, "accepted": N} before exiting.
 */
import { parseArgs } from 'node:util';
import { runProbe } from '../probe/probe.js';
import { startServer } from '../probe/serve.js';

function writeLine(value: unknown): Promise<void> {
  return new Promise((resolve) => { process.stdout.write(`${JSON.stringify(value)}\n`, () => resolve()); });
}

function waitForStop(watchStdin: boolean): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    if (watchStdin) {
      process.stdin.on('end', () => resolve());
      process.stdin.on('error', () => resolve());
      process.stdin.resume();
    }
  });
}

function toInt(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, not '${value}'`);
  return n;
}

async function probeMode(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      max: { type: 'string' },
      timeout: { type: 'string' },
      bind: { type: 'string' },
      hold: { type: 'boolean', default: false },
    },
  });
  if (!values.host) throw new Error('--host is required');
  const held = await runProbe({
    host: values.host,
    port: toInt(values.port, 'port', 8000),
    max: toInt(values.max, 'max'),
    connectTimeoutMs: toInt(values.timeout, 'timeout', 30_000),
    bind: values.bind,
  });
  await writeLine({ result: held.result });
  if (values.hold) await waitForStop(true);
  await held.close();
}

async function serveMode(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, bind: { type: 'string' } },
  });
  const ports = (values.port ?? '8000').split(',').map((p) => toInt(p, 'port'));
  const server = await startServer({ port: ports, bind: values.bind });
  await writeLine({ listening: { ports: server.ports, bind: server.bind } });
  await waitForStop(false);
  const counts = { held: server.held(), accepted: server.accepted() };
  await server.close();
  await writeLine(counts);
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv;
  if (mode === 'probe') await probeMode(rest);
  else if (mode === 'serve') await serveMode(rest);
  else throw new Error(`usage: probe-main.js probe|serve [options] (got '${mode ?? ''}')`);
}

main(process.argv.slice(2)).then(
  () => { process.exit(0); },
  (err: unknown) => {
    process.stderr.write(`probe-main: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
