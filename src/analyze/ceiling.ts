/**
 * The ceiling: connections established and still open (as the client capture shows them) when the
 * first attempt that got no SYN-ACK sent its first SYN. Attempts are in first-SYN order. With
 * several (source address, destination port) pairs the same count is split by pair.
 */
import type { Flow } from './handshakes.js';
import type { PairCeiling } from './types.js';

export interface Ceiling {
  /** Position in `attempts` of the first attempt that was not established, or -1. */
  firstFailed: number;
  /** null when every attempt was established. */
  ceiling: number | null;
  /** Every (source, destination port) pair, in order of its first attempt. */
  pairs: PairCeiling[];
}

export function findCeiling(attempts: Flow[]): Ceiling {
  const firstFailed = attempts.findIndex((a) => a.synAck.times.length === 0);
  const t = firstFailed >= 0 ? attempts[firstFailed]!.syn.times[0]! : NaN;
  const byPair = new Map<string, PairCeiling>();
  let open = 0;
  for (const a of attempts) {
    const key = `${a.src} ${a.dstPort}`;
    let pair = byPair.get(key);
    if (!pair) {
      pair = { source: a.src, port: a.dstPort, attempts: 0, established: 0, ceiling: firstFailed >= 0 ? 0 : null, failedHere: false };
      byPair.set(key, pair);
    }
    pair.attempts++;
    if (a === attempts[firstFailed]) pair.failedHere = true;
    if (a.synAck.times.length === 0) continue;
    pair.established++;
    if (firstFailed < 0) continue;
    const establishedAt = a.synAck.times[0]!;
    if (establishedAt <= t && !(a.closedNs <= t)) {
      open++;
      pair.ceiling!++;
    }
  }
  return { firstFailed, ceiling: firstFailed >= 0 ? open : null, pairs: [...byPair.values()] };
}
