/**
 * A probe variant as bench/probe-rate.js runs it, inside the lab's client namespace:
 *
 *   node bench/probe-rate-child.js MODULE HOST PORT COUNT
 *
 * Imports runProbe from MODULE (a path; dist/probe/probe.js or a copy to compare with), runs it
 * for COUNT connections and prints one JSON line (as bench/probe-child.js, plus the process's CPU
 * time per connection, user and system). Holds the connections until its standard input closes.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeLine } from './lib/proc.js';

async function main() {
  const [module, host, port, count] = process.argv.slice(2);
  const { runProbe } = await import(pathToFileURL(resolve(module)).href);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const held = await runProbe({ host, port: Number(port), max: Number(count), connectTimeoutMs: 10_000 });
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const { result } = held;
  const n = Math.max(1, result.established);
  await writeLine({
    established: result.established,
    ms,
    ratePerSec: (result.established * 1000) / ms,
    userUsPerConn: cpu.user / n,
    sysUsPerConn: cpu.system / n,
    error: result.failure ? `${result.failure.code}: ${result.failure.message}` : '',
  });
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('close', r).once('end', r));
  await held.close();
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`probe-rate-child: ${error.stack ?? error}\n`);
  process.exit(2);
});
