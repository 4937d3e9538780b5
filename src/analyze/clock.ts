/**
 * The offset between the two hosts' clocks, from packets seen in both captures.
 * A SYN sent at client time t1 and seen at server time t2 bounds the offset from above
 * (t2 - t1 = offset + one-way delay); a SYN-ACK sent at server time t3 and seen at client time
 * t4 bounds it from below (t3 - t4 = offset - delay). The tightest pair of bounds over all matched
 * attempts brackets the offset; its midpoint is the estimate and half its width the uncertainty.
 */
import { SYN, SYN_ACK, type FlowTable } from './handshakes.js';
import type { ClockOffset } from './types.js';

/** The copies whose times give the offset: SYNs (an upper bound) and SYN-ACKs (a lower one). */
const HANDSHAKE_KINDS = [SYN, SYN_ACK] as const;

/** The identity of a transmission across captures: its TSval, else its IP ID, else none (-1). */
function identity(t: FlowTable, c: number): number {
  const tsVal = t.tsVals[c];
  if (tsVal >= 0) return tsVal;
  const ipId = t.ipIds[c];
  if (ipId >= 0) return 0x100000000 + ipId;
  return -1;
}

/** Above this many comparisons the copies are paired through a Map (a flood of copies of one SYN). */
const QUADRATIC_LIMIT = 1024;
let taken = new Uint8Array(64);

/**
 * Pairs copies of the same transmission in two captures: copies aStart.. (aCount of them) of
 * table `a` with copies bStart.. of table `b`. Same TSval, else same IP ID (each copy of `a`, in
 * order, takes the first copy of `b` not yet taken), else (when neither capture can tell copies
 * apart but both hold as many) same position. Writes, for each copy of `a`, the position in `b`
 * of its pair or -1 into aToB[0 ... aCount - 1], and returns the number of pairs. Linear for
 * many copies: a capture holding thousands of copies of one SYN must not cost their square.
 */
export function pairCopies(a: FlowTable, aStart: number, aCount: number, b: FlowTable, bStart: number, bCount: number, aToB: Int32Array): number {
  let pairs = 0;
  if (aCount * bCount <= QUADRATIC_LIMIT) {
    if (taken.length < bCount) taken = new Uint8Array(bCount);
    taken.fill(0, 0, bCount);
    for (let i = 0; i < aCount; i++) {
      aToB[i] = -1;
      const id = identity(a, aStart + i);
      if (id < 0) continue;
      for (let j = 0; j < bCount; j++) {
        if (taken[j] === 0 && identity(b, bStart + j) === id) {
          taken[j] = 1;
          aToB[i] = j;
          pairs++;
          break;
        }
      }
    }
  } else {
    const waiting = new Map<number, number[]>();
    for (let j = bCount - 1; j >= 0; j--) {
      const id = identity(b, bStart + j);
      if (id < 0) continue;
      const list = waiting.get(id);
      if (list === undefined) waiting.set(id, [j]);
      else list.push(j);
    }
    for (let i = 0; i < aCount; i++) {
      const id = identity(a, aStart + i);
      const j = id >= 0 ? waiting.get(id)?.pop() : undefined;
      aToB[i] = j ?? -1;
      if (j !== undefined) pairs++;
    }
  }
  if (pairs === 0 && aCount === bCount) {
    for (let i = 0; i < aCount; i++) aToB[i] = i;
    pairs = aCount;
  }
  return pairs;
}

let scratch = new Int32Array(16);

/** A buffer for pairCopies' result, at least `n` long (shared: use it before the next call). */
export function pairScratch(n: number): Int32Array {
  if (scratch.length < n) scratch = new Int32Array(Math.max(n, 2 * scratch.length));
  return scratch;
}

/** `matches[i]`: the server flow of attempt `attempts[i]` (a client flow), or -1. */
export function estimateClockOffset(client: FlowTable, attempts: ArrayLike<number>, server: FlowTable, matches: Int32Array): ClockOffset | null {
  let upper = Infinity; // min(server SYN time - client SYN time)
  let lower = -Infinity; // max(server SYN-ACK time - client SYN-ACK time)
  let samples = 0;
  const cTimes = client.times;
  const sTimes = server.times;
  for (let m = 0; m < attempts.length; m++) {
    const s = matches[m];
    if (s < 0) continue;
    const c = attempts[m];
    let used = false;
    for (const k of HANDSHAKE_KINDS) {
      const cs = client.start(c, k);
      const cn = client.count(c, k);
      const ss = server.start(s, k);
      const sn = server.count(s, k);
      if (cn === 0 && sn === 0) continue;
      let d = NaN;
      if (cn === 1 && sn === 1) {
        // One copy on each side: the same transmission, by its identity or else by position.
        d = sTimes[ss] - cTimes[cs];
      } else {
        const pairs = pairScratch(cn);
        if (pairCopies(client, cs, cn, server, ss, sn, pairs) === 0) continue;
        for (let i = 0; i < cn; i++) {
          if (pairs[i] < 0) continue;
          const di = sTimes[ss + pairs[i]] - cTimes[cs + i];
          if (!(k === SYN ? di >= d : di <= d)) d = di;
        }
      }
      if (k === SYN) upper = Math.min(upper, d);
      else lower = Math.max(lower, d);
      used = true;
    }
    if (used) samples++;
  }
  if (samples === 0) return null;
  if (Number.isFinite(upper) && Number.isFinite(lower) && lower <= upper) {
    return { offsetMs: (upper + lower) / 2 / 1e6, uncertaintyMs: (upper - lower) / 2 / 1e6, method: 'round-trip', samples };
  }
  if (Number.isFinite(upper) && Number.isFinite(lower)) {
    // Bounds crossed: the clocks drifted during the run, or a capture host timestamps late.
    // Take the midpoint and say how far apart the bounds are.
    return { offsetMs: (upper + lower) / 2 / 1e6, uncertaintyMs: Math.abs(lower - upper) / 2 / 1e6, method: 'round-trip', samples };
  }
  if (Number.isFinite(upper)) {
    // Only SYNs reached the server: the one-way delay is unknown and counted into the offset.
    return { offsetMs: upper / 1e6, uncertaintyMs: 0, method: 'one-way', samples };
  }
  return { offsetMs: lower / 1e6, uncertaintyMs: 0, method: 'one-way', samples };
}
