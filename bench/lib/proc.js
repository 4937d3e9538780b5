/** Small helpers shared by the benchmark's child scripts: resident memory from /proc and JSON lines. */
import { readFileSync } from 'node:fs';

/** A field of /proc/self/status in kB (VmRSS, VmHWM), or NaN when /proc is not there. */
export function statusKb(field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size in kB after a full garbage collection (when --expose-gc is on) and a pause for it to settle. */
export async function settledRssKb() {
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return statusKb('VmRSS');
}

export function writeLine(value) {
  return new Promise((resolve) => {
    process.stdout.write(`${JSON.stringify(value)}\n`, () => resolve());
  });
}
