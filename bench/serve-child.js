/**
 * `synprobe serve` as the benchmark runs it, inside the lab's server namespace:
 *
 *   node --expose-gc bench/serve-child.js ADDRESS PORT
 *
 * Starts startServer (dist/probe/serve.js) and prints {"listening":...,"rssKb":N}. Then, for each
 * line "rss" on its standard input, prints {"held":N,"accepted":N,"rssKb":N} (resident set after a
 * full GC). Closes and exits when its standard input closes.
 */
import { createInterface } from 'node:readline';
import { startServer } from '../dist/probe/serve.js';
import { settledRssKb, writeLine } from './lib/proc.js';

async function main() {
  const [bind, port] = process.argv.slice(2);
  const server = await startServer({ port: Number(port), bind });
  await writeLine({ listening: { ports: server.ports, bind: server.bind }, rssKb: await settledRssKb() });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'rss') await writeLine({ held: server.held(), accepted: server.accepted(), rssKb: await settledRssKb() });
    else if (line.trim() === 'held') await writeLine({ held: server.held(), accepted: server.accepted() });
  }
  await server.close();
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`serve-child: ${error.stack ?? error}\n`);
  process.exit(2);
});
