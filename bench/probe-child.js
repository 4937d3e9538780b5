/**
 * The probe as the benchmark runs it, inside the lab's client namespace:
 *
 *   node --expose-gc bench/probe-child.js HOST PORT COUNT [SETTLE_MS]
 *
 * Runs runProbe (dist/probe/probe.js) for COUNT connections and prints one JSON line: connections
 * established, time and rate, and the resident set before and after (each after a full GC). With
 * SETTLE_MS, holds the connections that long and prints {"rssSettledKb": N}: V8 sizes its young
 * generation up while the connections pile up and gives that back only once the process is idle.
 * Then holds the connections until its standard input closes.
 */
import { runProbe } from '../dist/probe/probe.js';
import { settledRssKb, writeLine } from './lib/proc.js';

async function main() {
  const [host, port, count, settle] = process.argv.slice(2);
  const rssBeforeKb = await settledRssKb();
  const started = performance.now();
  const held = await runProbe({ host, port: Number(port), max: Number(count), connectTimeoutMs: 10_000 });
  const ms = performance.now() - started;
  const rssAfterKb = await settledRssKb();
  const { result } = held;
  await writeLine({
    established: result.established,
    engine: result.engine,
    ms,
    ratePerSec: (result.established * 1000) / ms,
    rssBeforeKb,
    rssAfterKb,
    error: result.failure ? `${result.failure.code}: ${result.failure.message}` : '',
  });
  const settleMs = Number(settle ?? 0);
  if (settleMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    await writeLine({ rssSettledKb: await settledRssKb() });
  }
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('close', resolve).once('end', resolve));
  await held.close();
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`probe-child: ${error.stack ?? error}\n`);
  process.exit(2);
});
