/**
 * Shared by the robustness tests: where the inputs are, a temporary directory, and the CLI run
 * in-process (src/cli/main.ts) or as a subprocess (bin/synprobe.js, after npm run build), judged by
 * the one rule: a report (exit 0/1) or one error line naming the file and a byte offset (exit 2).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { judgeOutcome, runAnalyze } from './mutate.js';
import { makeTempDir as makeReadTempDir, type TempDir } from '../read/build.js';

export type { TempDir };

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../..');
export const FIXTURES_DIR = path.join(REPO_ROOT, 'fixtures');
export const REGRESS_DIR = path.join(FIXTURES_DIR, 'regress');
/** The public corpus lives beside the repository: <repo root>/../shared/corpus (CI clones it there). */
export const CORPUS_DIR = path.resolve(REPO_ROOT, '../shared/corpus');
export const CORPUS_FILES_DIR = path.join(CORPUS_DIR, 'files');
export const BIN = path.join(REPO_ROOT, 'bin/synprobe.js');

export function requireCorpus(): void {
  if (!existsSync(path.join(CORPUS_FILES_DIR, 'MANIFEST.tsv'))) {
    throw new Error(`public corpus not found at ${CORPUS_DIR}: the repository expects shared/corpus beside it`);
  }
}

/** Capture files (*.pcap, *.pcapng) in `dir`, sorted, as full paths. */
export function listCaptures(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /\.pcap(ng)?$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

export function fixture(name: string): string {
  return path.join(FIXTURES_DIR, name);
}

/** A temporary directory, in memory (/dev/shm) where there is one: the mutation tests write thousands of files. */
export function makeTempDir(prefix = 'synprobe-robust-'): TempDir {
  return makeReadTempDir(prefix, existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
}

export interface Outcome {
  code?: number;
  stdout: string;
  stderr: string;
  ms: number;
  error?: unknown;
}

export type Format = 'json' | 'markdown' | 'table';

/** `synprobe analyze <paths> --format <format> [--redact]` in-process. */
export async function analyzeInProcess(paths: string[], format: Format = 'json', redact = false, timeoutMs = 20_000): Promise<Outcome> {
  return (await runAnalyze(main, paths, format, redact, timeoutMs)) as Outcome;
}

/** null when the run ended in a report or in one proper error line, else what went wrong. */
export function judge(outcome: Outcome, paths: string[], format: Format = 'json'): string | null {
  return judgeOutcome(outcome, paths, format) as string | null;
}

/** The JSON report of a run that ended in one. */
export function report(outcome: Outcome): AnalysisJson {
  return JSON.parse(outcome.stdout) as AnalysisJson;
}

/** The parts of the JSON report the robustness tests read. */
export interface AnalysisJson {
  captures: Array<{ file: string; packets: number; readProblem: { kind: string; offset: number; message: string } | null; warnings: string[] }>;
  attempts: unknown[];
  warnings: string[];
}

export interface SubprocessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
  /** Peak resident memory of the process in KiB (from process.resourceUsage, written on exit). */
  maxRssKiB: number | null;
}

export function requireBuild(): void {
  if (!existsSync(path.join(REPO_ROOT, 'dist/cli/main.js'))) {
    throw new Error('dist/cli/main.js is missing: run npm run build first (npm test does)');
  }
}

/**
 * Runs bin/synprobe.js with `args`, killed after `timeoutMs`. A preloaded module writes the peak
 * RSS to a file on exit, so that memory can be checked without touching stderr.
 */
export function runBin(args: string[], opts: { timeoutMs?: number; uid?: number; gid?: number; stdin?: 'ignore' | 'pipe'; env?: Record<string, string> } = {}): Promise<SubprocessOutcome> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const rssDir = mkdtempSync(path.join(tmpdir(), 'synprobe-rss-'));
  const rssFile = path.join(rssDir, 'rss');
  const preload = path.join(here, 'report-rss.js');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', preload, BIN, ...args], {
      env: { ...process.env, ...opts.env, SYNPROBE_RSS_FILE: rssFile, NODE_OPTIONS: '' },
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid,
      cwd: opts.uid !== undefined ? '/' : REPO_ROOT,
    });
    if (opts.uid !== undefined) rmSync(rssDir, { recursive: true, force: true }); // nobody could not write it
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let maxRssKiB: number | null = null;
      try {
        maxRssKiB = Number(readFileSync(rssFile, 'utf8'));
      } catch {
        maxRssKiB = null;
      }
      rmSync(rssDir, { recursive: true, force: true });
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - started,
        timedOut,
        maxRssKiB,
      });
    });
  });
}

/** The one-line error a file-system fault gives: no byte offset, since no byte was read. */
export function fileErrorLine(file: string, what: string): string {
  return `synprobe: ${file}: ${what}\n`;
}
