/**
 * The worker thread that reads the server capture of a large pair (handshakes-worker.ts), and its
 * early start. A worker takes ~50 ms to boot and ~40 ms more to load the readers; when `analyze` is
 * given two large files the CLI starts one before it loads anything else (bin/synprobe.js), so that
 * it is ready when the files are known, and analyze hands it the file or ends it. This module imports
 * nothing of the analysis, to be cheap to load that early.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** The worker script beside this module (the built JavaScript: a worker cannot run the TypeScript sources). */
const WORKER_URL = new URL('./handshakes-worker.js', import.meta.url);

/**
 * Whether reading in a worker thread is possible here, and when: 'never' (SYNPROBE_READ_THREADS=1,
 * one core, or the TypeScript sources), 'always' (SYNPROBE_READ_THREADS=2, for tests and
 * measurements), or 'if-large' (the default: the caller decides by the files' sizes).
 */
function readThreadPolicy(): 'never' | 'always' | 'if-large' {
  const threads = process.env.SYNPROBE_READ_THREADS;
  if (!import.meta.url.endsWith('.js') || threads === '1') return 'never';
  if (threads === '2') return 'always';
  return availableParallelism() < 2 ? 'never' : 'if-large';
}

/** Both files at least this big: the server capture is read in a worker thread while the main thread reads the client's. */
const PARALLEL_MIN_BYTES = 8 << 20;

function large(file: string): boolean {
  try {
    return statSync(file).size >= PARALLEL_MIN_BYTES;
  } catch {
    return false; // the reader reports what is wrong with the file
  }
}

/** Whether `serverFile` is to be read in a worker while the main thread reads `clientFile`. */
export function wantWorker(clientFile: string, serverFile: string): boolean {
  const policy = readThreadPolicy();
  return policy === 'always' || (policy === 'if-large' && large(clientFile) && large(serverFile));
}

interface Started {
  worker: Worker;
  /** Set once the worker has exited (it failed, or was ended). */
  exited: boolean;
}

let early: Started | null = null;

function start(workerData: { file: string } | null): Started | null {
  try {
    const worker = new Worker(WORKER_URL, { workerData });
    const started: Started = { worker, exited: false };
    worker.once('exit', () => {
      started.exited = true;
    });
    worker.on('error', () => {}); // the exit that follows says it
    return started;
  } catch {
    return null;
  }
}

/**
 * Starts a worker that waits for a file to read, when `args` (the command's arguments, not yet
 * parsed) name two files that wantWorker would read in parallel: a guess, which analyze settles.
 * It does not keep the process alive; readInWorker takes it, endEarlyWorker ends it.
 */
export function startEarlyWorker(args: readonly string[]): void {
  if (early !== null) return;
  const policy = readThreadPolicy();
  if (policy === 'never' || (policy === 'if-large' && args.filter(large).length < 2)) return;
  early = start(null);
  early?.worker.unref();
}

/** A worker reading `file`: the early one if it is there and alive (it starts on the file now), else a new one; null if none could start. */
export function readInWorker(file: string): Worker | null {
  const taken = early;
  early = null;
  if (taken !== null && !taken.exited) {
    taken.worker.ref();
    taken.worker.postMessage({ file });
    return taken.worker;
  }
  return start({ file })?.worker ?? null;
}

/** Ends the early worker if nothing took it (analyze reads in one thread). */
export function endEarlyWorker(): void {
  const taken = early;
  early = null;
  if (taken !== null && !taken.exited) void taken.worker.terminate();
}
