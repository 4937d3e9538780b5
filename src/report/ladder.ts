/**
 * A ladder (sequence) diagram of one attempt in plain text: the client's column on the left, the
 * server's on the right, one row per transmission in client-clock order, lost packets ending in
 * an "x" before the far column.
 */
import type { Attempt, Transmission } from '../analyze/types.js';
import { endpoint, formatMs } from './text.js';

const LEFT = 26;
const ARROW = 24;

interface Row {
  t: number;
  /** Within the same millisecond a SYN row goes before the reply it caused (the offset estimate has some slack). */
  order: number;
  left: string;
  arrow: string;
  right: string;
}

function fit(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function line(width: number, head: string, tail: string): string {
  return head + '─'.repeat(Math.max(1, width - head.length - tail.length)) + tail;
}

function stamp(t: Transmission): string {
  return formatMs(t.relMs);
}

export function renderLadder(a: Attempt, hasServer: boolean, offsetNote: string): string {
  const rows: Row[] = [];
  const never = '— never arrived —';
  a.synSentTimes.forEach((t, i) => {
    const label = `${stamp(t)}  SYN #${i + 1}`;
    if (!hasServer) {
      rows.push({ t: t.relMs, order: 0, left: label, arrow: line(ARROW, '', '▶'), right: '' });
    } else if (t.match !== null) {
      const seen = a.synSeenTimes[t.match];
      rows.push({ t: t.relMs, order: 0, left: label, arrow: line(ARROW, '', '▶'), right: `${stamp(seen)}  SYN #${i + 1} arrived` });
    } else {
      rows.push({ t: t.relMs, order: 0, left: label, arrow: line(ARROW - 4, '', 'x'), right: never });
    }
  });
  a.synSeenTimes.forEach((t, j) => {
    if (t.match === null) rows.push({ t: t.relMs, order: 0, left: '(not in client capture)', arrow: line(ARROW, '', '▶'), right: `${stamp(t)}  SYN copy ${j + 1}` });
  });
  a.synAckSentTimes.forEach((t, j) => {
    const label = `${stamp(t)}  SYN-ACK #${j + 1}`;
    if (t.match !== null) {
      const seen = a.synAckSeenTimes[t.match];
      rows.push({ t: t.relMs, order: 1, left: `${stamp(seen)}  SYN-ACK #${j + 1}`, arrow: line(ARROW, '◀', ''), right: label });
    } else {
      rows.push({ t: t.relMs, order: 1, left: never, arrow: line(ARROW, '    x', ''), right: label });
    }
  });
  a.synAckSeenTimes.forEach((t, k) => {
    if (t.match === null) rows.push({ t: t.relMs, order: 1, left: `${stamp(t)}  SYN-ACK #${k + 1}`, arrow: line(ARROW, '◀', ''), right: hasServer ? '(not in server capture)' : '' });
  });
  rows.sort((x, y) => Math.floor(x.t) - Math.floor(y.t) || x.order - y.order || x.t - y.t);
  if (a.rstSeen > 0) rows.push({ t: Infinity, order: 2, left: `RST ×${a.rstSeen} (refused)`, arrow: line(ARROW, '◀', ''), right: '' });
  if (!hasServer && a.synAckSeen === 0 && a.rstSeen === 0) rows.push({ t: Infinity, order: 2, left: 'no reply', arrow: '', right: '' });

  const head = [
    `Attempt ${a.index.toLocaleString('en-US')} (ISN ${a.isn}): ${a.verdict}`,
    `${fit(`client ${endpoint(a.client.src, a.client.srcPort)}`, LEFT + ARROW + 2)}${hasServer ? `server ${a.server ? endpoint(a.server.dst, a.server.dstPort) : endpoint(a.client.dst, a.client.dstPort)}` : '(no server capture)'}`,
    `${fit('times: client clock, from its first SYN', LEFT + ARROW + 2)}${hasServer ? offsetNote : ''}`,
  ];
  return [...head, ...rows.map((r) => `${fit(r.left, LEFT)} ${fit(r.arrow, ARROW)} ${r.right}`.trimEnd())].join('\n');
}

/** The attempt a report draws: the first that failed, else the first that needed retransmissions, else the last. */
export function pickLadderAttempt(attempts: Attempt[], firstFailed: number | null): Attempt | null {
  if (attempts.length === 0) return null;
  if (firstFailed !== null) return attempts[firstFailed - 1] ?? null;
  return attempts.find((a) => a.verdict === 'established-after-loss') ?? attempts[attempts.length - 1];
}
