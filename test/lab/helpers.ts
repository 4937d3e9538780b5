/**
 * Helpers for the lab and probe tests: prerequisites (root and tools), a unique lab prefix, and
 * a JavaScript build of the probe's child entry (a Node process cannot enter a namespace, so
 * the probe and the listener run as `ip netns exec <ns> node probe-main.js ...`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What the lab tests lack on this machine (null: nothing). */
export function missingLabPrerequisites(tools: string[] = ['ip', 'nft', 'tcpdump']): string | null {
  if (process.getuid?.() !== 0) return 'root';
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  return missing.length > 0 ? `the tools ${missing.join(', ')}` : null;
}

/**
 * Returns true when the lab tests can run. On CI a missing prerequisite is an error, never a
 * silent skip: the lab tests are the end-to-end proof.
 */
export function labTestsCanRun(tools?: string[]): boolean {
  const missing = missingLabPrerequisites(tools);
  if (missing !== null && process.env['CI']) {
    throw new Error(`the lab tests need ${missing} (CI is set, so they fail instead of skipping)`);
  }
  return missing === null;
}

/** A lab name no other test run uses: 'sptest-lab-<random>'. */
export function uniqueLabName(): string {
  return `sptest-lab-${randomBytes(3).toString('hex')}`;
}

/**
 * Transpiles probe-main and what it imports into a temp dir named by the sources' hash (so
 * runs reuse it and nothing piles up); returns probe-main.js's path.
 */
export function buildProbeMain(): string {
  const files = ['lab/probe-main.ts', 'probe/probe.ts', 'probe/native.ts', 'probe/serve.ts', 'ports.ts'];
  // The copy lives outside the package: tell it (and every child spawned from here) where the addon is.
  process.env.SYNPROBE_NATIVE_ADDON ||= join(ROOT, 'build', 'Release', 'synprobe_connect.node');
  const sources = files.map((rel) => readFileSync(join(ROOT, 'src', rel), 'utf8'));
  const hash = createHash('sha256').update(ts.version).update(sources.join('\0')).digest('hex').slice(0, 16);
  const out = join(tmpdir(), `synprobe-test-build-${hash}`);
  const entry = join(out, 'lab', 'probe-main.js');
  if (existsSync(entry)) return entry;
  const staging = mkdtempSync(join(tmpdir(), 'synprobe-test-staging-'));
  writeFileSync(join(staging, 'package.json'), '{"type":"module"}\n');
  files.forEach((rel, i) => {
    const js = ts.transpileModule(sources[i]!, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: rel,
    }).outputText;
    const file = join(staging, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, js);
  });
  try {
    renameSync(staging, out);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // built meanwhile by another run
  }
  return entry;
}

/** A child process whose stdout lines can be awaited. */
export interface LineChild {
  proc: ChildProcess;
  nextLine(timeoutMs?: number): Promise<string>;
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then wait (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

export function startLineChild(argv: string[]): LineChild {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => { done = true; proc.emit('line-or-exit'); resolve(code); });
    proc.on('error', () => { done = true; proc.emit('line-or-exit'); resolve(null); });
  });
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
    partial += s;
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) { lines.push(partial.slice(0, i)); partial = partial.slice(i + 1); }
    proc.emit('line-or-exit');
  });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  return {
    proc,
    stderr: () => stderr,
    exited,
    nextLine: (timeoutMs = 30_000) => new Promise((resolve, reject) => {
      const check = (): void => {
        if (lines.length > 0) { cleanup(); resolve(lines.shift()!); } else if (done) { cleanup(); reject(new Error(`${argv.join(' ')} exited: ${stderr.trim()}`)); }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`${argv.join(' ')}: no output within ${timeoutMs} ms: ${stderr.trim()}`)); }, timeoutMs);
      const cleanup = (): void => { clearTimeout(timer); proc.off('line-or-exit', check); };
      proc.on('line-or-exit', check);
      check();
    }),
    stop: async () => {
      if (done) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
