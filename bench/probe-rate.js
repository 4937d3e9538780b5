/**
 * The probe's rate alone (the probe part of bench/run.js, quicker, and with variants to compare):
 * in a lab of its own (namespaces sprate-client → sprate-router → sprate-server, scenario
 * 'open', the same sysctls as bench/lib/probe-bench.js), against one listener, rounds of
 * bench/connect.c (blocking connect), bench/connect-epoll.c (the same loop the way libuv does it:
 * the floor for any event-loop client) and each probe variant, the order rotating every round. Prints each round and
 * the medians: connects/s, the ratio to the C client within each round, and the probe's CPU per
 * connection. Needs root, ip, nft and gcc; run after `npm run build`.
 *
 *   node bench/probe-rate.js [--rounds 5] [--count 5000] [--server node|c] [--engines native,node]
 *        [--probe LABEL=PATH[,NODE_FLAG...]]...   default: probe=dist/probe/probe.js
 *
 * Each probe variant runs with each engine (SYNPROBE_PROBE_ENGINE), labelled LABEL-ENGINE.
 *
 * --server c uses bench/serve.c (epoll, accept, hold) instead of `synprobe serve`, to see
 * whether the Node listener limits the rate.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLab, destroyLab, inNamespace, runCommand } from '../dist/lab/topology.js';
import { median } from './lib/measure.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const LAB = 'sprate';
const PORT = 8000;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    count: { type: 'string', default: '5000' },
    server: { type: 'string', default: 'node' },
    probe: { type: 'string', multiple: true, default: [] },
    engines: { type: 'string', default: 'native,node' },
  },
});
const rounds = Number(values.rounds);
const count = Number(values.count);
const variants = (values.probe.length > 0 ? values.probe : [`probe=${join(benchDir, '..', 'dist', 'probe', 'probe.js')}`]).map((spec) => {
  const [label, rest] = spec.split(/=(.*)/s);
  const [path, ...flags] = rest.split(',');
  return { label, path, flags };
}).flatMap((v) => values.engines.split(',').map((engine) => ({ ...v, label: `${v.label}-${engine}`, engine })));

function child(argv, label, env = {}) {
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines = [];
  const waiting = [];
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (s) => { stderr += s; });
  const exit = new Promise((r) => proc.on('exit', (code) => { for (const w of waiting.splice(0)) w.reject(new Error(`${label} exited ${code}: ${stderr}`)); r(); }));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const v = JSON.parse(line);
    const w = waiting.shift();
    if (w) w.resolve(v); else lines.push(v);
  });
  proc.stdin.on('error', () => {});
  return {
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject }))),
    send: (s) => proc.stdin.write(`${s}\n`),
    stop: async () => { proc.stdin.end(); const t = setTimeout(() => proc.kill('SIGKILL'), 20_000); await exit; clearTimeout(t); },
  };
}

async function waitForHeld(server, n) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    server.send('held');
    const { held } = await server.next();
    if (held === n) return;
    if (Date.now() > deadline) throw new Error(`server holds ${held}, expected ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'sprate-'));
  const connect = join(tmp, 'connect');
  execFileSync('gcc', ['-O2', '-o', connect, join(benchDir, 'connect.c')]);
  const connectEpoll = join(tmp, 'connect-epoll');
  execFileSync('gcc', ['-O2', '-o', connectEpoll, join(benchDir, 'connect-epoll.c')]);
  const serveC = join(tmp, 'serve');
  execFileSync('gcc', ['-O2', '-o', serveC, join(benchDir, 'serve.c')]);
  await destroyLab(LAB);
  const lab = await createLab({ name: LAB, scenario: 'open', limit: 0, port: PORT });
  let server = null;
  try {
    await runCommand(inNamespace(lab.client.ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1']));
    await runCommand(inNamespace(lab.server.ns, ['sysctl', '-q', '-w', 'net.core.somaxconn=4096']));
    server = child(inNamespace(lab.server.ns, values.server === 'c'
      ? [serveC, String(PORT)]
      : [process.execPath, join(benchDir, 'serve-child.js'), '::', String(PORT)]), 'server');
    await server.next();
    const clients = [{ label: 'C', argv: (n) => [connect, lab.server.addr4, String(PORT), String(n)] },
      { label: 'C-epoll', argv: (n) => [connectEpoll, lab.server.addr4, String(PORT), String(n)] },
      ...variants.map((v) => ({ label: v.label, env: { SYNPROBE_PROBE_ENGINE: v.engine }, argv: (n) => [process.execPath, ...v.flags, join(benchDir, 'probe-rate-child.js'), v.path, lab.server.addr4, String(PORT), String(n)] }))];
    const run = async (c, n) => {
      const p = child(inNamespace(lab.client.ns, c.argv(n)), c.label, c.env);
      const r = await p.next();
      await p.stop();
      await waitForHeld(server, 0);
      if (r.established !== n) throw new Error(`${c.label}: ${r.established} of ${n}: ${r.error}`);
      return r;
    };
    // Warm-up; the first run as big as a round's, so that the listener's descriptor table has grown
    // before any client is timed (see lib/probe-bench.js).
    for (const [i, c] of clients.entries()) await run(c, i === 0 ? count : 300);
    const results = Object.fromEntries(clients.map((c) => [c.label, []]));
    for (let round = 0; round < rounds; round++) {
      const order = clients.map((_, i) => clients[(i + round) % clients.length]);
      for (const c of order) results[c.label].push(await run(c, count));
      const cRate = results.C[round].ratePerSec;
      process.stderr.write(`round ${round + 1} (load ${loadavg()[0].toFixed(1)}): ${clients.map((c) => {
        const r = results[c.label][round];
        return `${c.label} ${Math.round(r.ratePerSec)}/s${c.label === 'C' ? '' : ` ${(r.ratePerSec / cRate).toFixed(2)}x`}${r.userUsPerConn === undefined ? '' : `, cpu ${Math.round(r.userUsPerConn)}+${Math.round(r.sysUsPerConn)} us`}`;
      }).join(', ')}\n`);
    }
    const out = {};
    for (const c of clients) {
      const rs = results[c.label];
      out[c.label] = {
        rate: Math.round(median(rs.map((r) => r.ratePerSec))),
        ratio: c.label === 'C' ? 1 : Number(median(rs.map((r, i) => r.ratePerSec / results.C[i].ratePerSec)).toFixed(3)),
        userUs: rs[0].userUsPerConn === undefined ? null : Math.round(median(rs.map((r) => r.userUsPerConn))),
        sysUs: rs[0].sysUsPerConn === undefined ? null : Math.round(median(rs.map((r) => r.sysUsPerConn))),
        // C's CPU per connection over this one's, within each round: the ratio the rates would
        // have on an idle machine (each side CPU-bound), which load on a shared machine skews less.
        cpuRatio: Number(median(rs.map((r, i) => (results.C[i].userUsPerConn + results.C[i].sysUsPerConn) / (r.userUsPerConn + r.sysUsPerConn))).toFixed(3)),
        rates: rs.map((r) => Math.round(r.ratePerSec)),
      };
    }
    process.stdout.write(`${JSON.stringify({ server: values.server, rounds, count, results: out })}\n`);
  } finally {
    await server?.stop();
    await destroyLab(LAB);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (e) => {
  process.stderr.write(`probe-rate: ${e.stack ?? e}\n`);
  await destroyLab(LAB).catch(() => {});
  process.exit(1);
});
