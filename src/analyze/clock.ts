/**
 * The offset between the two hosts' clocks, from packets seen in both captures.
 * A SYN sent at client time t1 and seen at server time t2 bounds the offset from above
 * (t2 - t1 = offset + one-way delay); a SYN-ACK sent at server time t3 and seen at client time
 * t4 bounds it from below (t3 - t4 = offset - delay). The tightest pair of bounds over all matched
 * attempts brackets the offset; its midpoint is the estimate and half its width the uncertainty.
 */
import type { Copies, Flow } from './handshakes.js';
import type { ClockOffset } from './types.js';

/** The identity of a transmission across captures: its TSval, else its IP ID, else none (-1). */
function identity(c: Copies, i: number): number {
  if (c.tsVals[i] >= 0) return c.tsVals[i];
  if (c.ipIds[i] >= 0) return 0x100000000 + c.ipIds[i];
  return -1;
}

/**
 * Pairs copies of the same transmission in two captures: same TSval, else same IP ID, else (when
 * neither capture can tell copies apart but both hold as many) same position. Linear: a capture
 * holding thousands of copies of one SYN must not cost their square.
 */
export function pairCopies(a: Copies, b: Copies): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  const waiting = new Map<number, number[]>();
  for (let j = b.times.length - 1; j >= 0; j--) {
    const id = identity(b, j);
    if (id < 0) continue;
    const list = waiting.get(id);
    if (list === undefined) waiting.set(id, [j]);
    else list.push(j);
  }
  for (let i = 0; i < a.times.length; i++) {
    const id = identity(a, i);
    const list = id >= 0 ? waiting.get(id) : undefined;
    const j = list?.pop();
    if (j !== undefined) pairs.push([i, j]);
  }
  if (pairs.length === 0 && a.times.length === b.times.length) {
    for (let i = 0; i < a.times.length; i++) pairs.push([i, i]);
  }
  return pairs;
}

export function estimateClockOffset(matches: Map<Flow, Flow>): ClockOffset | null {
  let upper = Infinity; // min(server SYN time - client SYN time)
  let lower = -Infinity; // max(server SYN-ACK time - client SYN-ACK time)
  let samples = 0;
  for (const [client, server] of matches) {
    let used = false;
    for (const [i, j] of pairCopies(client.syn, server.syn)) {
      upper = Math.min(upper, server.syn.times[j] - client.syn.times[i]);
      used = true;
    }
    for (const [i, j] of pairCopies(client.synAck, server.synAck)) {
      lower = Math.max(lower, server.synAck.times[j] - client.synAck.times[i]);
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
