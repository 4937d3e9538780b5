/**
 * `npm run bench`: the measurements of issue 5, as ratios to what a user would use instead.
 *
 *   npm run bench                      everything (about 8 minutes on 2 busy cores)
 *   node bench/run.js --quick          smaller inputs, fewer runs (a smoke test of the bench itself)
 *   node bench/run.js --skip probe,tshark,rss,pcap-parser   leave parts out
 *   node bench/run.js --packets 1000000 --ceiling 100000 --runs 5 --tshark-runs 2 --rss-runs 2
 *   node bench/run.js --render         the table again from bench/results.json, measuring nothing
 *
 * Inputs are generated into a temporary folder (removed afterwards). Each figure is the median of
 * several runs, the runs of the things compared interleaved so that load on a shared machine hits
 * them alike. Prints a table and writes bench/results.json (everything) and bench/RESULTS.md (the
 * table). Run after `npm run build`: it measures dist/ and bin/synprobe.js.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem, release, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { generateCapturePair } from './generate.js';
import { runTimed, runNodeTimed, median, killActiveChildren, REMOVED_FROM_ENV } from './lib/measure.js';
import { renderTable, renderMarkdown } from './lib/report.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const synprobe = join(root, 'bin', 'synprobe.js');
const readLoop = join(benchDir, 'read-loop.js');

const log = (line) => process.stderr.write(`${line}\n`);
let labStarted = false;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      packets: { type: 'string' },
      ceiling: { type: 'string' },
      runs: { type: 'string' },
      'tshark-runs': { type: 'string' },
      'rss-runs': { type: 'string' },
      skip: { type: 'string', default: '' },
      seed: { type: 'string', default: '1' },
      render: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick;
  const skip = new Set(values.skip.split(',').map((s) => s.trim()).filter(Boolean));
  return {
    quick,
    packets: Number(values.packets ?? (quick ? 100_000 : 1_000_000)),
    ceiling: Number(values.ceiling ?? (quick ? 10_000 : 100_000)),
    runs: Number(values.runs ?? (quick ? 3 : 5)),
    tsharkRuns: Number(values['tshark-runs'] ?? (quick ? 1 : 2)),
    rssRuns: Number(values['rss-runs'] ?? (quick ? 1 : 3)),
    // Rounds of 10,000 (about 0.45 s each), 7 of them: at 5,000 (0.2 s) a rate moved by a fifth
    // when the machine hiccuped (rounds' ratios 0.62-1.38 in one run), and 5 medians still moved.
    probeRounds: quick ? 2 : 7,
    probeCount: quick ? 1000 : 10_000,
    heldRounds: quick ? 1 : 2,
    held: quick ? 3000 : 15_000,
    settleMs: quick ? 3000 : 12_000,
    skip,
    seed: Number(values.seed),
    render: values.render,
  };
}

function which(command) {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function toolVersion(argv) {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return null;
  }
}

function generate(tmp, opts, format, packets, name) {
  const started = performance.now();
  const pair = generateCapturePair({ dir: tmp, packets, ceiling: opts.ceiling, format, seed: opts.seed, name });
  log(`  ${name}: ${pair.clientPackets.toLocaleString('en-US')} + ${pair.serverPackets.toLocaleString('en-US')} packets, ${((pair.clientBytes + pair.serverBytes) / 2 ** 20).toFixed(0)} MiB, ${Math.round(performance.now() - started)} ms`);
  return pair;
}

const analyzeArgs = (pair) => [synprobe, 'analyze', pair.clientFile, pair.serverFile, '--format', 'markdown'];

/** analyze, the bare decode loop and tshark on both formats, all interleaved run by run. */
async function measureFormats(tmp, opts, pairs, tshark) {
  const results = {};
  for (const format of Object.keys(pairs)) results[format] = { analyzeMs: [], analyzePeakRssKb: [], bareMs: [], tsharkMs: [], analyzeKeptEnvMs: [] };
  for (let run = 0; run < opts.runs; run++) {
    for (const [format, pair] of Object.entries(pairs)) {
      const r = results[format];
      const a = await runNodeTimed(analyzeArgs(pair), { tmpDir: tmp, okCodes: [0, 1] });
      r.analyzeMs.push(a.ms);
      r.analyzePeakRssKb.push(a.peakRssKb);
      let kept = null;
      if (REMOVED_FROM_ENV.length > 0 && format === 'pcap') {
        kept = await runNodeTimed(analyzeArgs(pair), { tmpDir: tmp, okCodes: [0, 1], keepEnv: true });
        r.analyzeKeptEnvMs.push(kept.ms);
      }
      const b = await runNodeTimed([readLoop, 'project', pair.clientFile, pair.serverFile], { tmpDir: tmp, captureStdout: true });
      r.bareMs.push(b.ms);
      let t = null;
      if (tshark && run < opts.tsharkRuns) {
        t = await runTimed([tshark, '-r', pair.clientFile, '-Y', 'tcp.flags.syn==1'], { detached: true });
        r.tsharkMs.push(t.ms);
      }
      log(`  ${format} run ${run + 1}: analyze ${Math.round(a.ms)} ms (peak ${Math.round(a.peakRssKb / 1024)} MiB)${kept ? ` (${Math.round(kept.ms)} ms with ${REMOVED_FROM_ENV.join(', ')})` : ''}, bare loop ${Math.round(b.ms)} ms${t ? `, tshark ${Math.round(t.ms)} ms` : ''} (load ${loadavg()[0].toFixed(1)})`);
    }
  }
  return results;
}

/**
 * pcap-parser vs own record loops over the same pcap pair: records only (pcap-parser alone vs a
 * minimal loop), and the bare decode loop through src/read/pcap.ts's two paths.
 */
async function measurePcapParser(tmp, opts, pair) {
  const modes = ['pcap-parser-raw', 'own-raw', 'pcap-parser', 'project'];
  const ms = Object.fromEntries(modes.map((m) => [m, []]));
  for (let run = 0; run < opts.runs; run++) {
    for (const mode of modes) {
      const r = await runNodeTimed([readLoop, mode, pair.clientFile, pair.serverFile], { tmpDir: tmp, captureStdout: true });
      ms[mode].push(r.ms);
    }
  }
  const m = (mode) => Math.round(median(ms[mode]));
  log(`  records only: pcap-parser ${m('pcap-parser-raw')} ms, minimal own loop ${m('own-raw')} ms; with decode: pcap-parser path ${m('pcap-parser')} ms, own path ${m('project')} ms`);
  return ms;
}

/**
 * Peak RSS of analyze at 1x, 2x and 4x the packets (same attempts: more data on the same
 * connections), the three sizes run in turn in each round so that all meet the same conditions
 * (a peak moves by about 7% from run to run: which thread frees what first).
 */
async function measureRss(tmp, opts, onePair) {
  const sizes = [{ factor: 1, pair: onePair, peakRssKb: [], ms: [] }];
  for (const factor of [2, 4]) sizes.push({ factor, pair: generate(tmp, opts, 'pcapng', opts.packets * factor, `gen-${factor}x`), peakRssKb: [], ms: [] });
  for (let run = 0; run < opts.rssRuns; run++) {
    for (const size of sizes) {
      const a = await runNodeTimed(analyzeArgs(size.pair), { tmpDir: tmp, okCodes: [0, 1] });
      size.peakRssKb.push(a.peakRssKb);
      size.ms.push(a.ms);
    }
    log(`  round ${run + 1}: peak ${sizes.map((s) => `${s.factor}x ${Math.round(s.peakRssKb[run] / 1024)} MiB`).join(', ')}`);
  }
  for (const { factor, pair } of sizes) {
    if (factor === 1) continue;
    rmSync(pair.clientFile, { force: true });
    rmSync(pair.serverFile, { force: true });
  }
  return sizes.map(({ factor, pair, peakRssKb, ms }) => ({ factor, packets: pair.clientPackets + pair.serverPackets, peakRssKb, ms }));
}

async function measureProbeSection(tmp, opts) {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (network namespaces)' };
  for (const tool of ['ip', 'gcc']) if (!which(tool)) return { skipped: `${tool} is not installed` };
  const connect = join(tmp, 'connect');
  execFileSync('gcc', ['-O2', '-o', connect, join(benchDir, 'connect.c')]);
  const { measureProbe } = await import('./lib/probe-bench.js');
  return measureProbe({
    tools: { connect, benchDir },
    rounds: opts.probeRounds,
    count: opts.probeCount,
    heldRounds: opts.heldRounds,
    held: opts.held,
    settleMs: opts.settleMs,
    log,
  });
}

/** Prints and writes the table of `results` (bench/results.json gets the rows too). */
function report(results) {
  const rows = summarize(results);
  results.table = rows;
  process.stdout.write(`\n${renderTable(rows, results)}\n`);
  writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(benchDir, 'RESULTS.md'), renderMarkdown(rows, results));
}

async function main() {
  const opts = parseOptions();
  if (opts.render) {
    report(JSON.parse(readFileSync(join(benchDir, 'results.json'), 'utf8')));
    return;
  }
  if (!existsSync(join(root, 'dist', 'analyze', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const tmp = mkdtempSync(join(tmpdir(), 'spbench-'));
  const stop = async () => {
    killActiveChildren();
    rmSync(tmp, { recursive: true, force: true });
    if (labStarted) {
      const { destroyLab } = await import('../dist/lab/topology.js');
      const { LAB_NAME } = await import('./lib/probe-bench.js');
      await destroyLab(LAB_NAME).catch(() => {});
    }
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const started = performance.now();
  const tshark = opts.skip.has('tshark') ? null : which('tshark');
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version, loadAtStart: loadavg(), envRemoved: REMOVED_FROM_ENV },
    tshark: tshark ? toolVersion([tshark, '--version']) : null,
    tsharkNote: tshark ? null : opts.skip.has('tshark') ? 'skipped (--skip tshark)' : 'tshark is not installed: no tshark baseline',
    options: { ...opts, skip: [...opts.skip] },
    inputs: {},
    formats: {},
  };
  if (!tshark) log(`tshark: ${results.tsharkNote}`);
  try {
    log(`generating inputs in ${tmp}`);
    const pairs = {
      pcap: generate(tmp, opts, 'pcap', opts.packets, 'gen-1x'),
      pcapng: generate(tmp, opts, 'pcapng', opts.packets, 'gen-1x'),
    };
    for (const [format, pair] of Object.entries(pairs)) {
      const { clientFile, serverFile, ...facts } = pair;
      results.inputs[format] = { ...facts, clientFile: clientFile.slice(tmp.length + 1), serverFile: serverFile.slice(tmp.length + 1) };
    }
    log(`analyze vs the bare decode loop${tshark ? ' vs tshark' : ''}`);
    results.formats = await measureFormats(tmp, opts, pairs, tshark);
    if (!opts.skip.has('pcap-parser')) {
      log('pcap-parser vs a minimal own classic-pcap loop');
      results.pcapParser = await measurePcapParser(tmp, opts, pairs.pcap);
    }
    rmSync(pairs.pcap.clientFile, { force: true });
    rmSync(pairs.pcap.serverFile, { force: true });
    if (!opts.skip.has('rss')) {
      log('peak RSS of analyze at 1x, 2x and 4x the packets (pcapng), in turn');
      results.rss = await measureRss(tmp, opts, pairs.pcapng);
    }
    if (!opts.skip.has('probe')) {
      log('probe vs the C client, memory per held connection');
      labStarted = true;
      results.probe = await measureProbeSection(tmp, opts);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  results.durationSec = Math.round((performance.now() - started) / 1000);
  results.machine.loadAtEnd = loadavg();
  report(results);
  log(`wrote bench/results.json and bench/RESULTS.md (${results.durationSec} s)`);
}

/**
 * The rows of the table: each a figure (median), the baseline it is compared with, the ratio and
 * the target. `ok` is null when there is no target or no baseline.
 */
function summarize(results) {
  const rows = [];
  // Ratios are medians of the ratios within each run (both sides measured back to back), which
  // load drifting over the minutes of a run affects less than a ratio of the two medians.
  const pairedRatio = (top, bottom) => median(top.slice(0, bottom.length).map((t, i) => t / bottom[i]));
  const fmtMs = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const mib = (kb) => `${(kb / 1024).toFixed(0)} MiB`;
  for (const [format, f] of Object.entries(results.formats)) {
    const input = results.inputs[format];
    const packets = `${((input.clientPackets + input.serverPackets) / 1e6).toFixed(2)}M packets`;
    const analyze = median(f.analyzeMs);
    const bare = median(f.bareMs);
    const bareRatio = pairedRatio(f.analyzeMs, f.bareMs);
    rows.push({ section: 'analyze', what: `analyze, ${format} pair (${packets})`, value: fmtMs(analyze), raw: analyze });
    if (f.analyzeKeptEnvMs?.length > 0) {
      const kept = median(f.analyzeKeptEnvMs);
      const removed = results.machine.envRemoved.join(', ');
      rows.push({ section: 'analyze', what: `  the same with ${removed} kept (see below)`, value: fmtMs(kept), raw: kept, ratio: kept / analyze, ratioText: `+${Math.round(kept - analyze)} ms`, ok: null });
    }
    rows.push({
      section: 'analyze', what: `  vs bare decode loop over both files (${format})`, value: fmtMs(bare), raw: bare,
      ratio: bareRatio, ratioText: `${bareRatio.toFixed(2)}× the loop`, target: '≤ 3×', ok: bareRatio <= 3,
    });
    if (f.tsharkMs.length > 0) {
      const t = median(f.tsharkMs);
      const tsharkRatio = pairedRatio(f.tsharkMs, f.analyzeMs);
      rows.push({
        section: 'analyze', what: `  vs tshark -Y 'tcp.flags.syn==1', client file only (${format})`, value: fmtMs(t), raw: t,
        ratio: tsharkRatio, ratioText: `${tsharkRatio.toFixed(1)}× faster`, target: '≥ 20×', ok: tsharkRatio >= 20,
      });
    } else {
      rows.push({ section: 'analyze', what: `  vs tshark (${format})`, value: results.tsharkNote ?? 'not measured', ok: null });
    }
  }
  if (results.pcapParser) {
    const p = results.pcapParser;
    const raw = median(p['pcap-parser-raw']);
    const own = median(p['own-raw']);
    const viaParser = median(p['pcap-parser']);
    const viaOwn = median(p.project);
    const rawRatio = pairedRatio(p['pcap-parser-raw'], p['own-raw']);
    const viaRatio = pairedRatio(p['pcap-parser'], p.project);
    rows.push({ section: 'pcap-parser', what: 'pcap-parser alone, records only, both pcap files', value: fmtMs(raw), raw });
    rows.push({ section: 'pcap-parser', what: '  vs a minimal own record loop', value: fmtMs(own), raw: own, ratio: rawRatio, ratioText: `${rawRatio.toFixed(1)}× slower`, ok: null });
    rows.push({ section: 'pcap-parser', what: 'bare decode loop through readPcapWithParser (pcap-parser)', value: fmtMs(viaParser), raw: viaParser });
    rows.push({ section: 'pcap-parser', what: '  vs through readPcap (own loop, the default)', value: fmtMs(viaOwn), raw: viaOwn, ratio: viaRatio, ratioText: `${viaRatio.toFixed(1)}× slower`, ok: null });
  }
  if (results.rss) {
    // Results of runs before session 5 hold 2x and 4x only; their 1x runs were the timing runs'.
    const sizes = results.rss[0]?.factor === 1
      ? results.rss
      : [{ factor: 1, packets: results.inputs.pcapng.clientPackets + results.inputs.pcapng.serverPackets, peakRssKb: results.formats.pcapng?.analyzePeakRssKb ?? [] }, ...results.rss];
    const base = median(sizes[0].peakRssKb);
    for (const s of sizes) {
      const peak = median(s.peakRssKb);
      const small = peak * 1024 <= 150e6;
      const flat = peak / base <= 1.1;
      rows.push({
        section: 'memory', what: `analyze peak RSS, ${s.factor}× packets (${(s.packets / 1e6).toFixed(1)}M, same ${results.options.ceiling.toLocaleString('en-US')}-connection ceiling)`,
        value: mib(peak), raw: peak,
        ratio: peak / base, ratioText: s.factor === 1 ? '' : `${(peak / base).toFixed(2)}× the 1× peak`,
        target: s.factor === 1 ? '≤ 150 MB' : '≤ 150 MB, flat (≤ 1.1×)',
        ok: small && (s.factor === 1 || flat),
        okText: s.factor === 1 || small === flat ? undefined : `${flat ? 'flat' : 'NOT flat'}, ${small ? '≤' : '>'} 150 MB`,
      });
    }
  }
  const probe = results.probe;
  if (probe?.skipped) {
    rows.push({ section: 'probe', what: 'probe', value: `skipped: ${probe.skipped}`, ok: null });
  } else if (probe) {
    const c = median(probe.rates.c);
    const p = median(probe.rates.probe);
    const rateRatio = pairedRatio(probe.rates.probe, probe.rates.c);
    rows.push({ section: 'probe', what: `C client (blocking connect), connects/s, ${results.options.probeCount.toLocaleString('en-US')} held`, value: `${Math.round(c).toLocaleString('en-US')}/s`, raw: c });
    const engine = probe.engine === 'native' ? 'native connect loop' : `${probe.engine ?? 'node'} engine: the native loop was not built`;
    rows.push({ section: 'probe', what: `  probe (${engine}), connects/s`, value: `${Math.round(p).toLocaleString('en-US')}/s`, raw: p, ratio: rateRatio, ratioText: `${rateRatio.toFixed(2)}× the C client`, target: '≥ 0.8×', ok: rateRatio >= 0.8 });
    if (probe.rates['probe-node']?.length) {
      const n = median(probe.rates['probe-node']);
      const nodeRatio = pairedRatio(probe.rates['probe-node'], probe.rates.c);
      rows.push({ section: 'probe', what: "  probe with Node's sockets (SYNPROBE_PROBE_ENGINE=node), connects/s", value: `${Math.round(n).toLocaleString('en-US')}/s`, raw: n, ratio: nodeRatio, ratioText: `${nodeRatio.toFixed(2)}× the C client`, ok: null });
    }
    const held = results.options.held.toLocaleString('en-US');
    const settle = `${results.options.settleMs / 1000} s later`;
    for (const [key, label] of [['probe', 'probe'], ['probeSettled', `probe, ${settle}`], ['serve', 'serve'], ['serveSettled', `serve, ${settle}`]]) {
      const b = median(probe.heldBytes[key]);
      rows.push({ section: 'probe', what: `${label}: RSS per held connection at ${held}`, value: `${Math.round(b).toLocaleString('en-US')} B`, raw: b, target: '≤ 3 KB', ok: b <= 3000 });
    }
  }
  return rows;
}

main().catch((error) => {
  killActiveChildren();
  log(`bench: ${error.stack ?? error}`);
  process.exit(1);
});
