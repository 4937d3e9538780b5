/**
 * Time inside the analyzer: integer nanoseconds relative to one whole second (the base), held in
 * ordinary numbers. Epoch nanoseconds (~1.8e18) do not fit a double exactly; offsets from a base
 * do for 104 days, so both captures of a run share one base and every sum stays exact.
 */
export class TimeBase {
  private baseSec: number | null = null;

  /** The base second, fixed by the first timestamp seen. */
  get sec(): number | null {
    return this.baseSec;
  }

  /** Fixes the base second, unless a timestamp already did. */
  adopt(sec: number): void {
    if (this.baseSec === null) this.baseSec = sec;
  }

  rel(tsSec: number, tsNsec: number): number {
    if (this.baseSec === null) this.baseSec = tsSec;
    return (tsSec - this.baseSec) * 1e9 + tsNsec;
  }

  /** ISO-8601 UTC with nine fractional digits, e.g. 2026-11-29T23:01:42.123456789Z. */
  iso(relNs: number): string {
    const base = this.baseSec ?? 0;
    const wholeSec = Math.floor(relNs / 1e9);
    const nsec = relNs - wholeSec * 1e9;
    return formatEpochNs(base + wholeSec, nsec);
  }
}

/** The last whole second formatted: consecutive timestamps mostly share it (toISOString is slow). */
let cachedSecond = NaN;
let cachedPrefix = '';

export function formatEpochNs(sec: number, nsec: number): string {
  const carry = Math.floor(nsec / 1e9);
  const s = sec + carry;
  const ns = Math.round(nsec - carry * 1e9);
  if (s !== cachedSecond) {
    cachedPrefix = new Date(s * 1000).toISOString().slice(0, 19); // 2026-11-29T23:01:42
    cachedSecond = s;
  }
  return `${cachedPrefix}.${String(ns).padStart(9, '0')}Z`;
}

const ISO_NS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO-8601 time with up to nine fractional digits into [epoch seconds, nanoseconds]. */
export function parseIsoNs(text: string): [number, number] | null {
  const m = ISO_NS.exec(text.trim());
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  const nsec = m[2] ? Number(m[2].padEnd(9, '0')) : 0;
  return [Math.floor(ms / 1000), nsec];
}

/** Accepts ISO-8601 or epoch seconds with a fraction ("1764457302.123456789"). */
export function parseTimeArg(text: string): [number, number] | null {
  const epoch = /^(\d{9,11})(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (epoch) return [Number(epoch[1]), epoch[2] ? Number(epoch[2].padEnd(9, '0')) : 0];
  return parseIsoNs(text);
}

export const NS_PER_MS = 1e6;
