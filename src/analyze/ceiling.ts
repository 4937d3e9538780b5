/**
 * The ceiling: connections established and still open (as the client capture shows them) when the
 * first attempt that got no SYN-ACK sent its first SYN. Attempts are in first-SYN order. With
 * several (source address, destination port) pairs the same count is split by pair.
 */
import { SYN, SYN_ACK, type FlowTable } from './handshakes.js';
import type { PairCeiling } from './types.js';

export interface Ceiling {
  /** Position in `attempts` of the first attempt that was not established, or -1. */
  firstFailed: number;
  /** null when every attempt was established. */
  ceiling: number | null;
  /** Every (source, destination port) pair, in order of its first attempt. */
  pairs: PairCeiling[];
}

/** `attempts`: client flows of `table`, in first-SYN order. */
export function findCeiling(table: FlowTable, attempts: ArrayLike<number>): Ceiling {
  const { closedNs, srcAddr, dstPort } = table;
  let firstFailed = -1;
  for (let i = 0; i < attempts.length && firstFailed < 0; i++) if (!table.established(attempts[i])) firstFailed = i;
  const t = firstFailed >= 0 ? table.firstTime(attempts[firstFailed], SYN) : NaN;
  // Keyed by address number and port: one address number per address text.
  const byPair = new Map<number, PairCeiling>();
  let lastKey = -1;
  let pair: PairCeiling | undefined;
  let open = 0;
  for (let i = 0; i < attempts.length; i++) {
    const a = attempts[i];
    const key = srcAddr[a] * 65536 + dstPort[a];
    if (key !== lastKey) {
      pair = byPair.get(key);
      if (pair === undefined) {
        pair = { source: table.src(a), port: dstPort[a], attempts: 0, established: 0, ceiling: firstFailed >= 0 ? 0 : null, failedHere: false };
        byPair.set(key, pair);
      }
      lastKey = key;
    }
    pair!.attempts++;
    if (i === firstFailed) pair!.failedHere = true;
    if (!table.established(a)) continue;
    pair!.established++;
    if (firstFailed < 0) continue;
    const establishedAt = table.firstTime(a, SYN_ACK);
    if (establishedAt <= t && !(closedNs[a] <= t)) {
      open++;
      pair!.ceiling!++;
    }
  }
  return { firstFailed, ceiling: firstFailed >= 0 ? open : null, pairs: [...byPair.values()] };
}
