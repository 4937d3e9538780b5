/**
 * Running measured commands: wall time from spawn to exit as the parent sees it, and for Node
 * children the peak resident set (VmHWM) through the peak-rss.js preload.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PEAK_RSS_HOOK = pathToFileURL(new URL('./peak-rss.js', import.meta.url).pathname).href;

let rssFileCounter = 0;

/**
 * Variables taken out of the environment of every timed process. NODE_EXTRA_CA_CERTS makes every
 * node process read and parse that certificate file as it starts (on the machines this bench was
 * written on it is set for every process, and costs each node start 65-90 ms: `node -e 0` takes
 * 0.13 s with it, 0.04 s without); synprobe makes no TLS connection and tshark does not read it.
 * The results name what was removed, and the analyze of the pcap pair is also timed with it kept.
 */
export const REMOVED_FROM_ENV = ['NODE_EXTRA_CA_CERTS'].filter((name) => process.env[name] !== undefined);

function timedEnv(extra, keepEnv) {
  const env = { ...process.env, ...(extra ?? {}) };
  if (!keepEnv) for (const name of REMOVED_FROM_ENV) delete env[name];
  return env;
}

/**
 * Runs argv to completion with stdout discarded (or captured), stderr kept for errors.
 * `okCodes`: exit codes that count as success. `detached`: run it in its own process group
 * (tshark), killed as a group if the bench is interrupted. The environment is this process's, with
 * `env` added and REMOVED_FROM_ENV taken out (`keepEnv`: left in).
 * Resolves to { ms, code, stdout }.
 */
export function runTimed(argv, { okCodes = [0], captureStdout = false, detached = false, env, keepEnv = false, timeoutMs = 900_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'],
      detached,
      env: timedEnv(env, keepEnv),
    });
    activeChildren.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s) => { if (stderr.length < 20_000) stderr += s; });
    const timer = setTimeout(() => killChild(child), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      activeChildren.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      const ms = performance.now() - started;
      clearTimeout(timer);
      activeChildren.delete(child);
      if (!okCodes.includes(code)) {
        reject(new Error(`${argv.join(' ')}: ${signal ? `killed by ${signal}` : `exit ${code}`}: ${stderr.trim().slice(-2000)}`));
        return;
      }
      resolve({ ms, code, stdout });
    });
  });
}

/** Runs a Node script (argv after `node`) and also returns its peak RSS in kB. */
export async function runNodeTimed(args, { tmpDir, ...options } = {}) {
  const rssFile = join(tmpDir, `rss-${process.pid}-${++rssFileCounter}`);
  const result = await runTimed([process.execPath, '--import', PEAK_RSS_HOOK, ...args], {
    ...options,
    env: { ...(options.env ?? {}), SPBENCH_RSS_FILE: rssFile },
  });
  let peakRssKb = NaN;
  try {
    peakRssKb = Number(readFileSync(rssFile, 'utf8'));
    rmSync(rssFile, { force: true });
  } catch {
    // the hook could not write: leave NaN
  }
  return { ...result, peakRssKb };
}

const activeChildren = new Set();

function killChild(child) {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  try {
    // A detached child leads its own process group: end the whole group.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Ends every child still running (on SIGINT or an error), by pid. */
export function killActiveChildren() {
  for (const child of activeChildren) killChild(child);
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
