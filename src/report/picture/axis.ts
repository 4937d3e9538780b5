/** Tick positions and labels for the chart's axes: wall-clock time (UTC) and counts. */
import { parseIsoNs } from '../../analyze/time.js';

/** Epoch milliseconds (with a fraction) of an ISO-8601 time; null when it does not parse. */
export function isoToMs(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = parseIsoNs(iso);
  return t === null ? null : t[0] * 1000 + t[1] / 1e6;
}

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  SEC, 2 * SEC, 5 * SEC, 10 * SEC, 15 * SEC, 30 * SEC,
  MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
];

export interface Tick {
  value: number;
  label: string;
}

function pad(v: number, width = 2): string {
  return String(v).padStart(width, '0');
}

export function formatClock(ms: number, step: number): string {
  const d = new Date(Math.round(ms));
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (step >= DAY) return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (step >= MIN) return hm;
  const hms = `${hm}:${pad(d.getUTCSeconds())}`;
  if (step >= SEC) return hms;
  const digits = step >= 100 ? 1 : step >= 10 ? 2 : 3;
  return `${hms}.${pad(d.getUTCMilliseconds(), 3).slice(0, digits)}`;
}

/** Ticks on whole multiples of a step (UTC has no daylight saving), at most maxTicks of them. */
export function timeTicks(t0: number, t1: number, maxTicks: number): { step: number; ticks: Tick[] } {
  const span = Math.max(t1 - t0, 1);
  const step = TIME_STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / DAY) * DAY;
  const ticks: Tick[] = [];
  for (let v = Math.ceil(t0 / step) * step; v <= t1; v += step) ticks.push({ value: v, label: formatClock(v, step) });
  return { step, ticks };
}

/** The UTC date (or dates) a time axis spans, for its title. */
export function dateRange(t0: number, t1: number): string {
  const a = new Date(t0).toISOString().slice(0, 10);
  const b = new Date(t1).toISOString().slice(0, 10);
  return a === b ? a : `${a} … ${b}`;
}

/** A round upper bound and step for a count axis starting at 0. */
export function countTicks(max: number, maxTicks = 6): { top: number; ticks: number[] } {
  const target = Math.max(max, 1);
  let step = 1;
  for (let mag = 1; ; mag *= 10) {
    const s = [1, 2, 5].map((f) => f * mag).find((c) => target / c <= maxTicks - 1);
    if (s !== undefined) {
      step = s;
      break;
    }
  }
  const top = Math.ceil(target / step) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return { top, ticks };
}
