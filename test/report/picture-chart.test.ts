/**
 * The chart's arithmetic (the step line, its downsampling, the axes) and a picture of 100,000
 * attempts that must stay small.
 */
import { describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';
import type { AnalysisResult, Attempt } from '../../src/analyze/types.js';
import { connectionEvents, OpenCount, pathData, stepPoints, type OpenEvent } from '../../src/report/picture/chart.js';
import { countTicks, formatClock, isoToMs, timeTicks } from '../../src/report/picture/axis.js';
import { renderPictureSvg } from '../../src/report/picture/index.js';
import { analyze, count, scenarios } from './picture-helpers.js';

const T0 = Date.UTC(2026, 10, 29, 23, 0, 0);

describe('step line', () => {
  it('is exact for few events, closes before opens at the same instant', () => {
    const ev: OpenEvent[] = [{ t: 10, d: 1 }, { t: 20, d: 1 }, { t: 30, d: -1 }, { t: 30, d: 1 }];
    expect(stepPoints(ev, 0, 40)).toEqual([[0, 0], [10, 0], [10, 1], [20, 1], [20, 2], [40, 2]]);
    const counter = new OpenCount(ev);
    expect([counter.before(10), counter.before(10.5), counter.before(25), counter.before(99)]).toEqual([0, 1, 2, 2]);
    expect(counter.max).toBe(2);
  });

  it('keeps at most ~1000 vertices for 100,000 events, with the peak and the final count', () => {
    const ev: OpenEvent[] = [];
    for (let i = 0; i < 100_000; i++) ev.push({ t: i * 10, d: 1 });
    // a burst of 500 closes and re-opens inside one bucket: its dip must survive
    for (let i = 0; i < 500; i++) ev.push({ t: 500_000 + i, d: -1 });
    for (let i = 0; i < 500; i++) ev.push({ t: 500_600 + i, d: 1 });
    ev.sort((a, b) => a.t - b.t || a.d - b.d);
    const pts = stepPoints(ev, 0, 1_000_000);
    expect(pts.length).toBeLessThanOrEqual(1002);
    expect(pts[pts.length - 1]).toEqual([1_000_000, 100_000]);
    const ys = pts.map((p) => p[1]);
    expect(Math.max(...ys)).toBe(100_000);
    const dipAt = pts.filter(([t]) => t > 490_000 && t < 510_000).map((p) => p[1]);
    expect(Math.min(...dipAt)).toBeLessThanOrEqual(50_000 - 500 + 1);
  });

  it('writes axis-aligned steps as H and V', () => {
    const d = pathData([[0, 0], [10, 0], [10, 1], [20, 1]], (t) => t, (c) => 100 - c * 10);
    expect(d).toBe('M0 100H10V90H20');
  });

  it('counts a connection from its first SYN-ACK to its close', async () => {
    const r = await analyze(scenarios[0]);
    const ev = connectionEvents(r.attempts);
    expect(ev.filter((e) => e.d === 1)).toHaveLength(r.summary.established);
    expect(new OpenCount(ev).before(isoToMs(r.attempts[20].synSentTimes[0].at)!)).toBe(r.summary.ceiling);
  });
});

describe('axes', () => {
  it('puts time ticks on whole steps of UTC wall-clock time', () => {
    const { step, ticks } = timeTicks(T0 + 400, T0 + 5_300, 6);
    expect(step).toBe(1000);
    expect(ticks.map((t) => t.label)).toEqual(['23:00:01', '23:00:02', '23:00:03', '23:00:04', '23:00:05']);
    expect(timeTicks(T0, T0 + 3 * 3600_000, 4).ticks[1].label).toBe('00:00');
    expect(formatClock(T0 + 250, 100)).toBe('23:00:00.2');
    expect(timeTicks(T0, T0 + 40 * 60_000, 5).step).toBe(10 * 60_000);
  });

  it('rounds the count axis up', () => {
    expect(countTicks(22.4)).toEqual({ top: 25, ticks: [0, 5, 10, 15, 20, 25] });
    expect(countTicks(57_458).top).toBe(60_000);
    expect(countTicks(0).ticks).toEqual([0, 1]);
  });
});

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** 100,000 attempts 10 ms apart, every third closed after 100 s, the last 2,000 failed. */
function bigResult(base: AnalysisResult): AnalysisResult {
  // Plain copies: a record's fields are getters, which spreading does not copy.
  const ok = JSON.parse(JSON.stringify(base.attempts[0])) as Attempt;
  const bad = JSON.parse(JSON.stringify(base.attempts[base.attempts.length - 1])) as Attempt;
  const attempts: Attempt[] = [];
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const t = T0 + i * 10;
    const failed = i >= N - 2_000;
    const tpl = failed ? bad : ok;
    const tx = (ms: number) => ({ at: iso(ms), relMs: ms - t, tsVal: null, ipId: null, match: 0 });
    attempts.push({
      ...tpl,
      index: i + 1,
      client: { ...tpl.client, srcPort: 1024 + (i % 60_000) },
      synSentTimes: failed ? [tx(t), tx(t + 1000), tx(t + 3000)].map((x) => ({ ...x, match: null })) : [tx(t)],
      synSeenTimes: failed ? [] : [tx(t)],
      synAckSentTimes: failed ? [] : [tx(t + 1)],
      synAckSeenTimes: failed ? [] : [tx(t + 1)],
      closedAt: !failed && i % 3 === 0 ? iso(t + 100_000) : null,
    });
  }
  const ceiling = new OpenCount(connectionEvents(attempts)).before(T0 + (N - 2_000) * 10);
  return { ...base, attempts, summary: { ...base.summary, attempts: N, ceiling, firstFailedAttempt: N - 2_000 + 1 } };
}

describe('a picture of 100,000 attempts', () => {
  it('stays small and renders', async () => {
    const r = bigResult(await analyze(scenarios[0]));
    const started = Date.now();
    const svg = renderPictureSvg(r);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(svg.length).toBeLessThan(150_000);
    const line = /<path class="open-line" d="([^"]+)"/.exec(svg)![1];
    expect(count(line, /[MHVL]/g)).toBeLessThanOrEqual(1_002);
    const points = count(svg, /class="failed-point"/);
    expect(points).toBeGreaterThan(0);
    expect(points).toBeLessThanOrEqual(1_000);
    expect(svg).toContain('2,000 failed attempts');
    expect(svg).toContain(`ceiling ${r.summary.ceiling!.toLocaleString('en-US')} connections`);
    expect(count(svg, /class="row syn syn-sent"/)).toBe(4); // the failing attempt's 3 copies, the last success's 1
    expect(new Resvg(svg).width).toBe(1000);
  });
});
