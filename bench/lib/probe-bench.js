/**
 * The probe and serve measurements, in a lab of network namespaces (spbench-client → spbench-router
 * → spbench-server, scenario 'open': nothing is capped):
 * - connects per second of the probe vs bench/connect.c, both sequential and holding every
 *   connection, against the same `synprobe serve` listener, rounds alternating which goes first;
 * - resident memory per held connection of the probe and of serve at HELD connections.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { createLab, destroyLab, inNamespace, runCommand } from '../../dist/lab/topology.js';

export const LAB_NAME = 'spbench';
const PORT = 8000;

/** A child process speaking JSON lines on stdout; `next()` resolves with the next line. */
function startChild(argv, label) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const queue = [];
  const waiting = [];
  let stderr = '';
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      for (const w of waiting.splice(0)) w.reject(new Error(`${label} exited (${signal ?? code}) before answering: ${stderr.trim()}`));
      resolve(exited);
    });
  });
  child.stderr.setEncoding('utf8').on('data', (s) => { if (stderr.length < 10_000) stderr += s; });
  createInterface({ input: child.stdout }).on('line', (line) => {
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      return;
    }
    const w = waiting.shift();
    if (w) w.resolve(value);
    else queue.push(value);
  });
  child.stdin.on('error', () => {});
  return {
    child,
    next(timeoutMs = 120_000) {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      if (exited) return Promise.reject(new Error(`${label} exited (${exited.signal ?? exited.code}): ${stderr.trim()}`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${label}: no answer within ${timeoutMs} ms`)), timeoutMs);
        waiting.push({
          resolve: (v) => { clearTimeout(timer); resolve(v); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        });
      });
    },
    send(line) { child.stdin.write(`${line}\n`); },
    /** Closes stdin (the child closes its connections and exits); kills it if it does not. */
    async stop(timeoutMs = 30_000) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Builds the lab, with the client namespace able to open (and reopen) many connections. */
async function buildLab() {
  await destroyLab(LAB_NAME);
  const lab = await createLab({ name: LAB_NAME, scenario: 'open', limit: 0, port: PORT });
  // Rounds reopen tens of thousands of connections within a minute: a wide port range, and
  // TIME_WAIT ports reusable (the client closes first, so TIME_WAIT is on its side).
  await runCommand(inNamespace(lab.client.ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1']));
  await runCommand(inNamespace(lab.server.ns, ['sysctl', '-q', '-w', 'net.core.somaxconn=4096']));
  return lab;
}

async function waitForHeld(server, expected, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    server.send('held');
    const { held } = await server.next();
    if (held === expected) return;
    if (Date.now() > deadline) throw new Error(`serve holds ${held} connections, expected ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Runs one client (C or probe) for `count` connections; returns its first JSON line and the child
 * (the connections stay held until `release()`). `settleMs`: the probe reports its RSS again after that long.
 */
async function runClient(lab, kind, tools, count, settleMs = 0) {
  // 'probe': the engine synprobe picks (native when built); 'probe-node': Node's sockets.
  const argv = kind === 'c'
    ? [tools.connect, lab.server.addr4, String(PORT), String(count)]
    : ['env', `SYNPROBE_PROBE_ENGINE=${kind === 'probe-node' ? 'node' : 'auto'}`,
      process.execPath, '--expose-gc', join(tools.benchDir, 'probe-child.js'), lab.server.addr4, String(PORT), String(count), String(settleMs)];
  const client = startChild(inNamespace(lab.client.ns, argv), kind === 'c' ? 'connect.c' : 'probe-child');
  const result = await client.next();
  if (result.established !== count) {
    await client.stop();
    throw new Error(`${kind === 'c' ? 'connect.c' : 'probe'} established ${result.established} of ${count}: ${result.error}`);
  }
  return { result, client, release: () => client.stop() };
}

function startServe(lab, tools) {
  return startChild(
    inNamespace(lab.server.ns, [process.execPath, '--expose-gc', join(tools.benchDir, 'serve-child.js'), '::', String(PORT)]),
    'serve-child',
  );
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {object} opts
 * @param {{connect: string, benchDir: string}} opts.tools  the compiled C client and this folder
 * @param {number} opts.rounds  rounds of (C, probe) connection runs
 * @param {number} opts.count  connections per run
 * @param {number} opts.heldRounds  rounds of the held-memory measurement
 * @param {number} opts.held  connections held for the memory measurement
 * @param {number} opts.settleMs  how long connections are held before the second memory reading
 * @param {(line: string) => void} opts.log
 */
export async function measureProbe(opts) {
  const { tools, log } = opts;
  const lab = await buildLab();
  const running = new Set();
  const track = (child) => { running.add(child); return child; };
  try {
    const server = track(startServe(lab, tools));
    const listening = await server.next();
    // Warm-up: neighbour entries, the first connections of each kind; the first run as big as a
    // round's, so that serve's descriptor table has grown before any client is timed (growing it,
    // 64 -> 128 -> ... entries, waits for the kernel each time in a threaded process: whichever
    // client ran first got about a third of its rate in the first 10,000-connection round).
    const kinds = ['c', 'probe', 'probe-node'];
    let engine = null;
    for (const kind of kinds) {
      const run = await runClient(lab, kind, tools, kind === 'c' ? opts.count : 200);
      if (kind === 'probe') engine = run.result.engine;
      await run.release();
      await waitForHeld(server, 0);
    }

    const rates = { c: [], probe: [], 'probe-node': [] };
    for (let round = 0; round < opts.rounds; round++) {
      // The order rotates every round, so no client always runs right after another.
      for (const kind of kinds.map((_, i) => kinds[(i + round) % kinds.length])) {
        const run = await runClient(lab, kind, tools, opts.count);
        rates[kind].push(run.result.ratePerSec);
        await run.release();
        await waitForHeld(server, 0);
      }
      log(`  connects/s round ${round + 1}: C ${Math.round(rates.c[round])}, probe (${engine}) ${Math.round(rates.probe[round])}, probe (node) ${Math.round(rates['probe-node'][round])}`);
    }
    await server.stop();
    running.delete(server);

    const bytes = (kbBefore, kbAfter) => ((kbAfter - kbBefore) * 1024) / opts.held;
    const heldBytes = { probe: [], probeSettled: [], serve: [], serveSettled: [] };
    for (let round = 0; round < opts.heldRounds; round++) {
      // serve: a fresh listener's RSS idle, then holding `held` connections from the C client.
      const serve = track(startServe(lab, tools));
      const idle = await serve.next();
      const c = await runClient(lab, 'c', tools, opts.held);
      await waitForHeld(serve, opts.held);
      serve.send('rss');
      const full = await serve.next();
      await sleep(opts.settleMs);
      serve.send('rss');
      const settled = await serve.next();
      heldBytes.serve.push(bytes(idle.rssKb, full.rssKb));
      heldBytes.serveSettled.push(bytes(idle.rssKb, settled.rssKb));
      await c.release();
      // The probe: its own RSS before, right after `held` connections, and after holding them a while.
      const p = await runClient(lab, 'probe', tools, opts.held, opts.settleMs);
      const later = await p.client.next();
      heldBytes.probe.push(bytes(p.result.rssBeforeKb, p.result.rssAfterKb));
      heldBytes.probeSettled.push(bytes(p.result.rssBeforeKb, later.rssSettledKb));
      await p.release();
      await waitForHeld(serve, 0);
      await serve.stop();
      running.delete(serve);
      const r = (x) => Math.round(x[round]);
      log(`  bytes per held connection round ${round + 1}: probe ${r(heldBytes.probe)} (after ${opts.settleMs / 1000} s ${r(heldBytes.probeSettled)}), serve ${r(heldBytes.serve)} (after ${opts.settleMs / 1000} s ${r(heldBytes.serveSettled)})`);
    }
    return { engine, path: `${lab.client.ns} → ${lab.router.ns} → ${lab.server.ns}, ${lab.server.addr4}:${PORT} (listening on ${listening.listening.bind})`, rates, heldBytes };
  } finally {
    for (const child of running) await child.stop(5_000);
    await destroyLab(LAB_NAME);
  }
}
