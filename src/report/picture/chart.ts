/**
 * The chart: connections established and still open over time, from the client capture, on a
 * wall-clock axis (client clock, UTC); the ceiling as a dashed line, each failed attempt as a
 * point. The step line is downsampled to a bounded number of vertices so 100,000 attempts still
 * make a small file.
 */
import type { AnalysisResult, Attempt } from '../../analyze/types.js';
import { countTicks, dateRange, isoToMs, timeTicks } from './axis.js';
import type { Box } from './ladder-svg.js';
import { COLORS, line, n, text, textWidth } from './svg.js';

export interface OpenEvent {
  /** Epoch ms, client clock. */
  t: number;
  d: 1 | -1;
}

/** +1 when a connection's first SYN-ACK reached the client, -1 when it was closed; sorted by time. */
export function connectionEvents(attempts: Attempt[]): OpenEvent[] {
  const events: OpenEvent[] = [];
  for (const a of attempts) {
    if (!a.established) continue;
    const opened = isoToMs(a.synAckSeenTimes[0]?.at ?? a.synSentTimes[a.synSentTimes.length - 1]?.at);
    if (opened === null) continue;
    events.push({ t: opened, d: 1 });
    const closed = isoToMs(a.closedAt);
    if (closed !== null) events.push({ t: Math.max(closed, opened), d: -1 });
  }
  // At the same instant a close goes first: the count never overshoots what was really open.
  return events.sort((x, y) => x.t - y.t || x.d - y.d);
}

/** How many connections were open at a time: binary search over the running count. */
export class OpenCount {
  private readonly times: number[];
  private readonly counts: number[];

  constructor(events: OpenEvent[]) {
    this.times = events.map((e) => e.t);
    let c = 0;
    this.counts = events.map((e) => (c += e.d));
  }

  /** Open just before t (a connection opened at exactly t is not counted). */
  before(t: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : this.counts[lo - 1];
  }

  get max(): number {
    return this.counts.reduce((m, c) => Math.max(m, c), 0);
  }
}

export interface StepOptions {
  /** Up to this many events the steps are exact (two vertices each). */
  exactMax?: number;
  /** Past it, events are gathered into this many time buckets of at most four vertices each. */
  buckets?: number;
}

/** Vertices [t, count] of the step line from t0 to t1, at most ~4 × buckets of them. */
export function stepPoints(events: OpenEvent[], t0: number, t1: number, opts: StepOptions = {}): Array<[number, number]> {
  const exactMax = opts.exactMax ?? 500;
  const buckets = opts.buckets ?? 250;
  const pts: Array<[number, number]> = [];
  const push = (t: number, y: number): void => {
    const last = pts[pts.length - 1];
    if (last && last[0] === t && last[1] === y) return;
    pts.push([t, y]);
  };
  let y = 0;
  push(t0, 0);
  if (events.length <= exactMax) {
    for (let i = 0; i < events.length; ) {
      const t = events[i].t;
      const before = y;
      while (i < events.length && events[i].t === t) y += events[i++].d;
      if (y !== before) {
        push(t, before);
        push(t, y);
      }
    }
  } else {
    const width = Math.max(t1 - t0, 1) / buckets;
    for (let i = 0; i < events.length; ) {
      const b = Math.min(buckets - 1, Math.max(0, Math.floor((events[i].t - t0) / width)));
      const enter = y;
      let lo = y;
      let hi = y;
      while (i < events.length && Math.min(buckets - 1, Math.max(0, Math.floor((events[i].t - t0) / width))) === b) {
        y += events[i++].d;
        lo = Math.min(lo, y);
        hi = Math.max(hi, y);
      }
      const t = t0 + (b + 0.5) * width;
      push(t, enter);
      // Up first when the bucket ends higher than it started, down first otherwise.
      for (const v of y >= enter ? [lo, hi, y] : [hi, lo, y]) push(t, v);
    }
  }
  push(t1, y);
  return pts;
}

/** The vertices as a compact path: H and V steps where the line is axis-aligned. */
export function pathData(pts: Array<[number, number]>, x: (t: number) => number, yOf: (c: number) => number): string {
  let d = '';
  let px = '';
  let py = '';
  for (const [t, c] of pts) {
    const sx = n(x(t));
    const sy = n(yOf(c));
    if (d === '') d = `M${sx} ${sy}`;
    else if (sx === px && sy === py) continue;
    else if (sx === px) d += `V${sy}`;
    else if (sy === py) d += `H${sx}`;
    else d += `L${sx} ${sy}`;
    px = sx;
    py = sy;
  }
  return d;
}

function failedColor(a: Attempt): string {
  return a.verdict === 'refused' ? COLORS.rst : a.verdict === 'outside-capture' ? COLORS.muted : COLORS.lost;
}

export function chartHeightMin(): number {
  return 330;
}

export function renderChart(r: AnalysisResult, box: Box & { h: number }): string {
  const client = r.captures[0];
  const events = connectionEvents(r.attempts);
  const counter = new OpenCount(events);
  const failed = r.attempts.filter((a) => !a.established);
  const retried = r.attempts.filter((a) => a.verdict === 'established-after-loss');
  const times = [
    isoToMs(client?.firstPacketAt),
    isoToMs(client?.lastPacketAt),
    events[0]?.t,
    events[events.length - 1]?.t,
    ...failed.flatMap((a) => [isoToMs(a.synSentTimes[0]?.at), isoToMs(a.synSentTimes[a.synSentTimes.length - 1]?.at)]),
  ].filter((t): t is number => typeof t === 'number');
  const t0 = times.length ? Math.min(...times) : 0;
  const t1 = times.length ? Math.max(...times, t0 + 1) : 1;

  const ceiling = r.summary.ceiling;
  const yTicks = countTicks(Math.max(counter.max, ceiling ?? 0) * 1.12);
  const labelW = Math.max(28, textWidth(yTicks.top.toLocaleString('en-US'), 12));
  const plot = { x: box.x + labelW + 26, y: box.y + 56, w: 0, h: box.h - 56 - 48 };
  plot.w = box.x + box.w - plot.x - 6;
  const x = (t: number): number => plot.x + ((t - t0) / (t1 - t0)) * plot.w;
  const yOf = (c: number): number => plot.y + plot.h - (c / yTicks.top) * plot.h;

  const out: string[] = ['<g class="chart">'];
  out.push(text(box.x, box.y + 16, 'Connections open over time (client capture)', { size: 15, weight: 'bold' }));
  // Legend
  let lx = box.x;
  const ly = box.y + 38;
  const legend = (sample: (x0: number) => string, label: string): void => {
    out.push(sample(lx));
    out.push(text(lx + 28, ly + 4, label, { size: 12, fill: COLORS.muted }));
    lx += 40 + textWidth(label, 12);
  };
  legend((x0) => line(x0, ly, x0 + 22, ly, COLORS.open, 'stroke-width="2.5"'), 'open');
  if (ceiling !== null) legend((x0) => line(x0, ly, x0 + 22, ly, COLORS.lost, 'stroke-width="2" stroke-dasharray="6 4"'), 'ceiling');
  if (failed.length > 0) legend((x0) => `<circle cx="${n(x0 + 11)}" cy="${n(ly)}" r="5" fill="${COLORS.lost}"/>`, 'failed attempt');
  if (retried.length > 0) legend((x0) => `<circle cx="${n(x0 + 11)}" cy="${n(ly)}" r="4.5" fill="white" stroke="${COLORS.retried}" stroke-width="2"/>`, 'needed retransmissions');

  // Axes and grid
  out.push(`<rect x="${n(plot.x)}" y="${n(plot.y)}" width="${n(plot.w)}" height="${n(plot.h)}" fill="white" stroke="${COLORS.faint}"/>`);
  for (const v of yTicks.ticks) {
    const yy = yOf(v);
    if (v > 0) out.push(line(plot.x, yy, plot.x + plot.w, yy, COLORS.faint, 'stroke-width="1"'));
    out.push(text(plot.x - 6, yy + 4, v.toLocaleString('en-US'), { anchor: 'end', size: 12, fill: COLORS.muted }));
  }
  const sample = timeTicks(t0, t1, 2).ticks[0]?.label ?? '00:00:00';
  const maxTicks = Math.max(2, Math.floor(plot.w / (textWidth(sample, 12) + 22)));
  const xTicks = timeTicks(t0, t1, maxTicks);
  for (const tk of xTicks.ticks) {
    const xx = x(tk.value);
    out.push(line(xx, plot.y + plot.h, xx, plot.y + plot.h + 5, COLORS.muted));
    out.push(text(xx, plot.y + plot.h + 19, tk.label, { anchor: 'middle', size: 12, fill: COLORS.muted }));
  }
  out.push(text(plot.x + plot.w / 2, plot.y + plot.h + 38, `client clock, UTC, ${dateRange(t0, t1)}`, { anchor: 'middle', size: 12, fill: COLORS.muted }));
  const midY = plot.y + plot.h / 2;
  out.push(`<text x="${n(box.x + 10)}" y="${n(midY)}" font-size="12" fill="${COLORS.muted}" text-anchor="middle" transform="rotate(-90 ${n(box.x + 10)} ${n(midY)})">connections open</text>`);

  // The step line, filled beneath
  const pts = stepPoints(events, t0, t1);
  const d = pathData(pts, x, yOf);
  const base = n(yOf(0));
  out.push(`<path class="open-fill" d="${d}V${base}H${n(x(t0))}Z" fill="${COLORS.openFill}" stroke="none"/>`);
  out.push(`<path class="open-line" d="${d}" fill="none" stroke="${COLORS.open}" stroke-width="2.5" stroke-linejoin="round"/>`);

  // Ceiling
  if (ceiling !== null) {
    const yy = yOf(ceiling);
    out.push(`<g class="ceiling" data-value="${ceiling}">`);
    out.push(line(plot.x, yy, plot.x + plot.w, yy, COLORS.lost, 'stroke-width="2" stroke-dasharray="6 4"'));
    // The label goes to the end of the line away from the first failure's point.
    const firstAt = r.summary.firstFailedAttempt !== null ? isoToMs(r.attempts[r.summary.firstFailedAttempt - 1]?.synSentTimes[0]?.at) : null;
    const labelLeft = firstAt !== null && x(firstAt) > plot.x + plot.w / 2;
    const label = `ceiling ${ceiling.toLocaleString('en-US')} connections`;
    out.push(text(labelLeft ? plot.x + 8 : plot.x + plot.w - 6, yy - 7, label, { anchor: labelLeft ? 'start' : 'end', size: 13, weight: 'bold', fill: COLORS.lost }));
    out.push('</g>');
  } else {
    out.push(text(plot.x + plot.w / 2, plot.y + 22, 'no attempt failed: no ceiling reached', { anchor: 'middle', fill: COLORS.muted }));
  }

  // Attempts that needed retransmissions, then failed attempts, one mark per pixel
  const seen = new Set<string>();
  for (const a of retried) {
    const t = isoToMs(a.synAckSeenTimes[0]?.at);
    if (t === null) continue;
    const cx = n(x(t));
    const cy = n(yOf(counter.before(t) + 1));
    if (seen.has(`r${cx},${cy}`)) continue;
    seen.add(`r${cx},${cy}`);
    out.push(`<circle class="retried-point" cx="${cx}" cy="${cy}" r="4.5" fill="white" stroke="${COLORS.retried}" stroke-width="2"/>`);
  }
  const first = r.summary.firstFailedAttempt !== null ? r.attempts[r.summary.firstFailedAttempt - 1] : null;
  if (first && first.synSentTimes.length > 1) {
    // The first failure's SYN copies, as ticks along the level it was stuck at
    const yy = yOf(counter.before(isoToMs(first.synSentTimes[0].at) ?? t0));
    const ticks = first.synSentTimes.map((s) => isoToMs(s.at)).filter((t): t is number => t !== null);
    out.push(line(x(ticks[0]), yy + 10, x(ticks[ticks.length - 1]), yy + 10, COLORS.lost, 'stroke-width="1.5"'));
    for (const t of ticks) out.push(line(x(t), yy + 3, x(t), yy + 10, COLORS.lost, 'class="retry-tick" stroke-width="2.5"'));
  }
  let points = 0;
  for (const a of failed) {
    const t = isoToMs(a.synSentTimes[0]?.at);
    if (t === null) continue;
    const cx = n(x(t));
    const cy = n(yOf(counter.before(t)));
    const key = `f${cx},${cy},${a.verdict}`;
    if (seen.has(key)) continue;
    seen.add(key);
    points++;
    out.push(`<circle class="failed-point" data-index="${a.index}" cx="${cx}" cy="${cy}" r="5.5" fill="${failedColor(a)}" stroke="white" stroke-width="1.5"/>`);
  }
  if (first) {
    const t = isoToMs(first.synSentTimes[0]?.at) ?? t0;
    const fx = x(t);
    const fy = yOf(counter.before(t));
    const copies = first.synSentTimes.length > 1 ? `, ${first.synSentTimes.length} SYN copies` : '';
    const label = `attempt ${first.index.toLocaleString('en-US')}: ${first.verdict}${copies}`;
    const w = textWidth(label, 12, true);
    const end = plot.x + plot.w - 4;
    const lx = fx + 10 + w <= end ? fx + 10 : fx - 10 - w >= plot.x + 4 ? fx - 10 - w : Math.max(plot.x + 4, end - w);
    out.push(text(lx, fy + 27, label, { size: 12, weight: 'bold', fill: failedColor(first) }));
  }
  if (failed.length > points && points > 0) {
    out.push(text(plot.x + plot.w - 6, plot.y + plot.h - 8, `${failed.length.toLocaleString('en-US')} failed attempts (${points.toLocaleString('en-US')} marks: one per pixel)`, { anchor: 'end', size: 11.5, fill: COLORS.muted }));
  }
  out.push('</g>');
  return out.join('\n');
}
