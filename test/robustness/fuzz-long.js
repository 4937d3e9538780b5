#!/usr/bin/env node
/**
 * `npm run fuzz`: the long mode of the fuzz test. Mutates the fixtures (and the small files of the
 * public corpus) and runs `synprobe analyze` on each mutant in-process, in worker threads, against
 * the built CLI (dist/). Every case must end in a report (exit 0/1) or one error line naming the
 * file and a byte offset (exit 2); a throw, a stack trace, a hang or running out of memory is a
 * finding. Findings are written to a directory (printed at the end) with their inputs.
 *
 *   npm run fuzz                          # 100,000 cases, a new seed
 *   npm run fuzz -- --cases 20000 --seed 7
 *   npm run fuzz -- --replay 7:12345      # one case, printed with its outcome
 *
 * Each case is a function of (seed, index) (see mutate.js): "seed:index" reproduces it.
 * Turn a finding into a regression fixture: copy its input to fixtures/regress/, add a line to
 * fixtures/README.md ("Regression"), fix the bug; test/robustness/regress.test.ts runs them all.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism, tmpdir } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { judgeOutcome, makeCase, runAnalyze } from './mutate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const FIXTURES = path.join(ROOT, 'fixtures');
const CORPUS_FILES = path.resolve(ROOT, '../shared/corpus/files');
/** Corpus files up to this size are mutated too (bigger ones make cases slow). */
const CORPUS_MAX_BYTES = 120_000;
const SLOW_MS = 2_000;

/** The inputs, in a fixed order (a case's input depends on it): fixtures, regressions, small corpus files. */
function loadSources(includeCorpus) {
  const pick = (dir, filter) =>
    readdirSync(dir)
      .filter((n) => /\.pcap(ng)?$/.test(n) && filter(path.join(dir, n)))
      .sort()
      .map((n) => ({ name: n, bytes: new Uint8Array(readFileSync(path.join(dir, n))) }));
  const sources = pick(FIXTURES, () => true);
  if (includeCorpus) {
    if (!existsSync(CORPUS_FILES)) throw new Error(`public corpus not found at ${CORPUS_FILES}: expected shared/corpus beside the repository`);
    sources.push(...pick(CORPUS_FILES, (f) => statSync(f).size <= CORPUS_MAX_BYTES));
  }
  return sources;
}

function parseArgs(argv) {
  const opts = { cases: 100_000, seed: null, workers: Math.max(1, availableParallelism()), timeoutMs: 15_000, corpus: true, replay: null, out: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--cases') opts.cases = Number(next());
    else if (a === '--seed') opts.seed = Number(next()) >>> 0;
    else if (a === '--workers') opts.workers = Number(next());
    else if (a === '--timeout') opts.timeoutMs = Number(next());
    else if (a === '--fixtures-only') opts.corpus = false;
    else if (a === '--out') opts.out = next();
    else if (a === '--replay') opts.replay = next();
    else throw new Error(`unknown option ${a} (see the comment at the top of ${path.relative(process.cwd(), fileURLToPath(import.meta.url))})`);
  }
  if (!(opts.cases > 0)) throw new Error('--cases must be a positive number');
  return opts;
}

// ---------------------------------------------------------------- worker

async function workerMain() {
  const { seed, corpus, first, stride, last, timeoutMs } = workerData;
  const { main } = await import(pathToFileURL(path.join(ROOT, 'dist/cli/main.js')).href);
  const sources = loadSources(corpus);
  const dir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'synprobe-fuzz-'));
  try {
    for (let index = first; index < last; index += stride) {
      parentPort.postMessage({ type: 'start', index });
      const c = makeCase(seed, index, sources);
      const paths = c.files.map((f, i) => {
        const file = path.join(dir, `${i === 0 ? 'client' : 'server'}-${f.name}`);
        writeFileSync(file, f.bytes);
        return file;
      });
      const outcome = await runAnalyze(main, paths, c.format, c.redact, timeoutMs);
      const problem = judgeOutcome(outcome, paths, c.format);
      parentPort.postMessage({ type: 'done', index, code: outcome.code ?? null, problem, ms: outcome.ms, stderr: problem ? outcome.stderr.slice(0, 2000) : '' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  parentPort.postMessage({ type: 'finished' });
}

// ---------------------------------------------------------------- supervisor

async function supervise(opts) {
  const seed = opts.seed ?? (Math.floor(Math.random() * 2 ** 32) >>> 0);
  const sources = loadSources(opts.corpus);
  const outDir = opts.out ?? path.join(tmpdir(), `synprobe-fuzz-findings-${seed}`);
  const findings = [];
  const codes = { 0: 0, 1: 0, 2: 0 };
  const slow = [];
  let done = 0;
  const started = Date.now();
  console.log(`synprobe fuzz: seed ${seed}, ${opts.cases.toLocaleString('en-US')} cases, ${opts.workers} workers, ${sources.length} inputs (${sources.length} = fixtures${opts.corpus ? ' + corpus files up to ' + CORPUS_MAX_BYTES + ' bytes' : ''})`);

  const record = (index, kind, detail, stderr = '') => {
    const c = makeCase(seed, index, sources);
    const dir = path.join(outDir, `${seed}-${index}`);
    mkdirSync(dir, { recursive: true });
    c.files.forEach((f, i) => writeFileSync(path.join(dir, `${i === 0 ? 'client' : 'server'}-${f.name}`), f.bytes));
    writeFileSync(path.join(dir, 'case.txt'), `${kind}: ${detail}\ncase ${seed}:${index}\nformat ${c.format}${c.redact ? ' --redact' : ''}\n${c.description}\n\n${stderr}`);
    findings.push({ index, kind, detail, description: c.description, dir });
    console.log(`FINDING ${seed}:${index} ${kind}: ${detail}\n  input: ${c.description}\n  saved in ${dir}`);
  };

  const chunk = Math.ceil(opts.cases / opts.workers);
  const runners = [];
  for (let w = 0; w < opts.workers; w++) {
    const first = w * chunk;
    const last = Math.min(opts.cases, first + chunk);
    if (first < last) runners.push(runRange(first, last));
  }

  /** Runs cases [first, last) in one worker; restarts past a case that hung or killed the worker. */
  function runRange(first, last) {
    return new Promise((resolve) => {
      let current = -1;
      let since = 0;
      let nextIndex = first;
      const spawn = () => {
        if (nextIndex >= last) return resolve();
        const worker = new Worker(fileURLToPath(import.meta.url), {
          workerData: { seed, corpus: opts.corpus, first: nextIndex, stride: 1, last, timeoutMs: opts.timeoutMs },
          resourceLimits: { maxOldGenerationSizeMb: 512 },
          stdout: true,
          stderr: true,
        });
        let ended = false;
        const watchdog = setInterval(() => {
          if (current >= 0 && Date.now() - since > opts.timeoutMs * 2) {
            record(current, 'hang', `no result after ${opts.timeoutMs * 2} ms (synchronous loop?)`);
            nextIndex = current + 1;
            current = -1;
            ended = true;
            clearInterval(watchdog);
            void worker.terminate().then(spawn);
          }
        }, 1000);
        worker.on('message', (m) => {
          if (m.type === 'start') {
            current = m.index;
            since = Date.now();
          } else if (m.type === 'done') {
            done++;
            nextIndex = m.index + 1;
            current = -1;
            if (m.code !== null) codes[m.code] = (codes[m.code] ?? 0) + 1;
            if (m.problem) record(m.index, 'bad ending', m.problem, m.stderr);
            if (m.ms > SLOW_MS) slow.push({ index: m.index, ms: m.ms });
            if (done % 5000 === 0) {
              const s = (Date.now() - started) / 1000;
              console.log(`  ${done.toLocaleString('en-US')} cases, ${s.toFixed(0)} s, ${findings.length} findings`);
            }
          } else if (m.type === 'finished') {
            ended = true;
            clearInterval(watchdog);
            resolve();
          }
        });
        worker.on('error', (error) => {
          if (ended) return;
          ended = true;
          clearInterval(watchdog);
          const index = current >= 0 ? current : nextIndex;
          record(index, error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out of memory' : 'worker died', `${error.name}: ${error.message}`, error.stack ?? '');
          nextIndex = index + 1;
          current = -1;
          spawn();
        });
        worker.on('exit', () => {
          if (ended) return;
          ended = true;
          clearInterval(watchdog);
          resolve();
        });
      };
      spawn();
    });
  }

  await Promise.all(runners);
  const seconds = (Date.now() - started) / 1000;
  console.log('');
  console.log(`seed ${seed}: ${done.toLocaleString('en-US')} cases in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)} per second)`);
  console.log(`exit status 0: ${codes[0]}, 1: ${codes[1]}, 2: ${codes[2]}`);
  slow.sort((a, b) => b.ms - a.ms);
  if (slow.length > 0) console.log(`slow cases (> ${SLOW_MS} ms): ${slow.slice(0, 10).map((s) => `${seed}:${s.index} ${s.ms.toFixed(0)} ms`).join(', ')}${slow.length > 10 ? `, ${slow.length - 10} more` : ''}`);
  if (findings.length === 0) {
    console.log('findings: none');
    return 0;
  }
  const kinds = new Map();
  for (const f of findings) {
    const key = `${f.kind}: ${f.detail.replace(/synprobe: \S+: /, "synprobe: <file>: ").replace(/\d+/g, "N")}`;
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  console.log(`findings: ${findings.length}, saved in ${outDir}`);
  for (const [k, n] of kinds) console.log(`  ${n} x ${k}`);
  return 1;
}

async function replay(opts) {
  const [seed, index] = opts.replay.split(':').map(Number);
  const { main } = await import(pathToFileURL(path.join(ROOT, 'dist/cli/main.js')).href);
  const c = makeCase(seed >>> 0, index, loadSources(opts.corpus));
  const dir = mkdtempSync(path.join(tmpdir(), 'synprobe-replay-'));
  const paths = c.files.map((f, i) => {
    const file = path.join(dir, `${i === 0 ? 'client' : 'server'}-${f.name}`);
    writeFileSync(file, f.bytes);
    return file;
  });
  console.log(`case ${seed}:${index}: ${c.description}\nformat ${c.format}${c.redact ? ' --redact' : ''}; files in ${dir}`);
  const outcome = await runAnalyze(main, paths, c.format, c.redact, opts.timeoutMs);
  console.log(`exit ${outcome.code ?? '-'} in ${outcome.ms.toFixed(0)} ms; stderr: ${outcome.stderr}`);
  if (outcome.error) console.log(outcome.error);
  const problem = judgeOutcome(outcome, paths, c.format);
  console.log(problem ? `PROBLEM: ${problem}` : 'ok');
  return problem ? 1 : 0;
}

if (isMainThread) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (!existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run npm run build first');
    process.exitCode = opts.replay ? await replay(opts) : await supervise(opts);
  } catch (error) {
    console.error(`fuzz: ${error.message}`);
    process.exitCode = 2;
  }
} else {
  await workerMain();
}
