/**
 * A ladder (sequence) diagram of one attempt in plain text: the client's column on the left, the
 * server's on the right, one row per transmission in client-clock order, lost packets ending in
 * an "x" before the far column.
 */
import type { Attempt } from '../analyze/types.js';
import { ladderEvents, type LadderEvent } from './ladder-events.js';
import { formatMs } from './text.js';
import { endpoint } from '../address.js';
import { formatInteger } from '../numbers.js';

const LEFT = 26;
const ARROW = 24;

function fit(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function line(width: number, head: string, tail: string): string {
  return head + '─'.repeat(Math.max(1, width - head.length - tail.length)) + tail;
}

const NEVER = '— never arrived —';

/** One text row (left column, arrow, right column) for one ladder event. */
function textRow(e: LadderEvent, hasServer: boolean): [string, string, string] {
  const at = (ms: number | null): string => formatMs(ms);
  if (e.kind === 'syn') {
    const label = `${at(e.clientMs)}  SYN #${e.number}`;
    switch (e.fate) {
      case 'arrived': return [label, line(ARROW, '', '▶'), `${at(e.serverMs)}  SYN #${e.number} arrived`];
      case 'lost': return [label, line(ARROW - 4, '', 'x'), NEVER];
      case 'unseen-by-sender': return ['(not in client capture)', line(ARROW, '', '▶'), `${at(e.serverMs)}  SYN copy ${e.number}`];
      case 'unknown': return [label, line(ARROW, '', '▶'), ''];
    }
  }
  if (e.kind === 'syn-ack') {
    switch (e.fate) {
      case 'arrived': return [`${at(e.clientMs)}  SYN-ACK #${e.number}`, line(ARROW, '◀', ''), `${at(e.serverMs)}  SYN-ACK #${e.number}`];
      case 'lost': return [NEVER, line(ARROW, '    x', ''), `${at(e.serverMs)}  SYN-ACK #${e.number}`];
      default: return [`${at(e.clientMs)}  SYN-ACK #${e.number}`, line(ARROW, '◀', ''), hasServer ? '(not in server capture)' : ''];
    }
  }
  if (e.kind === 'rst') return [`RST ×${e.number} (refused)`, line(ARROW, '◀', ''), ''];
  return ['no reply', '', ''];
}

export function renderLadder(a: Attempt, hasServer: boolean, offsetNote: string): string {
  const head = [
    `Attempt ${formatInteger(a.index)} (ISN ${a.isn}): ${a.verdict}`,
    `${fit(`client ${endpoint(a.client.src, a.client.srcPort)}`, LEFT + ARROW + 2)}${hasServer ? `server ${a.server ? endpoint(a.server.dst, a.server.dstPort) : endpoint(a.client.dst, a.client.dstPort)}` : '(no server capture)'}`,
    `${fit('times: client clock, from its first SYN', LEFT + ARROW + 2)}${hasServer ? offsetNote : ''}`,
  ];
  const rows = ladderEvents(a, hasServer).map((e) => textRow(e, hasServer));
  return [...head, ...rows.map(([left, arrow, right]) => `${fit(left, LEFT)} ${fit(arrow, ARROW)} ${right}`.trimEnd())].join('\n');
}

/** The attempt a report draws: the first that failed, else the first that needed retransmissions, else the last. */
export function pickLadderAttempt(attempts: Attempt[], firstFailed: number | null): Attempt | null {
  if (attempts.length === 0) return null;
  if (firstFailed !== null) return attempts[firstFailed - 1] ?? null;
  return attempts.find((a) => a.verdict === 'established-after-loss') ?? attempts[attempts.length - 1];
}
