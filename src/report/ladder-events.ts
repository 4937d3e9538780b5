/**
 * The events of one attempt's ladder, in the order both ladders draw them (the text ladder in
 * ladder.ts and the picture's): one per transmission, each with its fate.
 */
import type { Attempt } from '../analyze/types.js';

export type LadderEventKind = 'syn' | 'syn-ack' | 'rst' | 'no-reply';

/**
 * - arrived: in both captures; lost: sent, never reached the other capture point;
 * - unseen-by-sender: in the receiver's capture only; unknown: no capture at the far end.
 */
export type Fate = 'arrived' | 'lost' | 'unseen-by-sender' | 'unknown';

export interface LadderEvent {
  kind: LadderEventKind;
  /** Copy number as its sender counts it (1-based); for rst, the count of RSTs. */
  number: number;
  fate: Fate;
  /** Milliseconds after the attempt's first SYN, client clock, where the event touches each column. */
  clientMs: number | null;
  serverMs: number | null;
}


interface Sortable extends LadderEvent {
  t: number;
  order: number;
}

/** Events of one attempt, ordered as renderLadder orders its rows. */
export function ladderEvents(a: Attempt, hasServer: boolean): LadderEvent[] {
  const rows: Sortable[] = [];
  a.synSentTimes.forEach((t, i) => {
    const seen = hasServer && t.match !== null ? a.synSeenTimes[t.match] : undefined;
    const fate: Fate = !hasServer ? 'unknown' : seen ? 'arrived' : 'lost';
    rows.push({ kind: 'syn', number: i + 1, fate, clientMs: t.relMs, serverMs: seen ? seen.relMs : null, t: t.relMs, order: 0 });
  });
  a.synSeenTimes.forEach((t, j) => {
    if (t.match === null) rows.push({ kind: 'syn', number: j + 1, fate: 'unseen-by-sender', clientMs: null, serverMs: t.relMs, t: t.relMs, order: 0 });
  });
  a.synAckSentTimes.forEach((t, j) => {
    const seen = t.match !== null ? a.synAckSeenTimes[t.match] : undefined;
    rows.push({ kind: 'syn-ack', number: j + 1, fate: seen ? 'arrived' : 'lost', clientMs: seen ? seen.relMs : null, serverMs: t.relMs, t: t.relMs, order: 1 });
  });
  a.synAckSeenTimes.forEach((t, k) => {
    if (t.match === null) {
      rows.push({ kind: 'syn-ack', number: k + 1, fate: hasServer ? 'unseen-by-sender' : 'unknown', clientMs: t.relMs, serverMs: null, t: t.relMs, order: 1 });
    }
  });
  rows.sort((x, y) => Math.floor(x.t) - Math.floor(y.t) || x.order - y.order || x.t - y.t);
  const events: LadderEvent[] = rows.map(({ t: _t, order: _o, ...e }) => e);
  if (a.rstSeen > 0) events.push({ kind: 'rst', number: a.rstSeen, fate: 'arrived', clientMs: null, serverMs: null });
  if (!hasServer && a.synAckSeen === 0 && a.rstSeen === 0) events.push({ kind: 'no-reply', number: 0, fate: 'unknown', clientMs: null, serverMs: null });
  return events;
}
