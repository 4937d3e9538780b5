/**
 * The ceiling: connections established and still open (as the client capture shows them) when the
 * first attempt that got no SYN-ACK sent its first SYN. Attempts are in first-SYN order.
 */
import type { Flow } from './handshakes.js';

export interface Ceiling {
  /** Position in `attempts` of the first attempt that was not established, or -1. */
  firstFailed: number;
  /** null when every attempt was established. */
  ceiling: number | null;
}

export function findCeiling(attempts: Flow[]): Ceiling {
  const firstFailed = attempts.findIndex((a) => a.synAck.times.length === 0);
  if (firstFailed < 0) return { firstFailed, ceiling: null };
  const t = attempts[firstFailed].syn.times[0];
  let open = 0;
  for (const a of attempts) {
    if (a.synAck.times.length === 0) continue;
    const establishedAt = a.synAck.times[0];
    if (establishedAt <= t && !(a.closedNs <= t)) open++;
  }
  return { firstFailed, ceiling: open };
}
