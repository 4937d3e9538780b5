/**
 * The ladder panel: client column on the left, server column on the right, one row per
 * transmission in client-clock order; a lost packet's arrow ends in a ✕ before the far column.
 */
import type { AnalysisResult, Attempt } from '../../analyze/types.js';
import { offsetNote } from '../common.js';
import { formatMs } from '../text.js';
import { endpoint } from '../../address.js';
import type { LadderAttempt, LadderEvent } from './events.js';
import { clip, COLORS, line, lostMark, n, text } from './svg.js';

export interface Box {
  x: number;
  y: number;
  w: number;
}

const ROW = 26;
const HEAD = 62;
const BLOCK_HEAD = 44;
const BLOCK_GAP = 18;
const FOOT = 44;
/** Rows drawn per attempt; past it one row says how many more there were. */
export const MAX_ROWS = 40;
/** How far before the far column a lost packet's arrow stops. */
const LOST_GAP = 34;

function rowsOf(l: LadderAttempt): number {
  return Math.min(l.events.length, MAX_ROWS) + (l.events.length > MAX_ROWS ? 1 : 0);
}

export function ladderHeight(list: LadderAttempt[]): number {
  let h = HEAD + FOOT;
  for (const l of list) h += BLOCK_HEAD + rowsOf(l) * ROW + BLOCK_GAP;
  return h;
}

function arrow(x1: number, y: number, x2: number, color: string, dashed = false, head = true): string {
  const dir = Math.sign(x2 - x1) || 1;
  const tip = x2;
  const shaft = line(x1, y, head ? tip - dir * 9 : tip, y, color, `stroke-width="2"${dashed ? ' stroke-dasharray="5 4"' : ''}`);
  if (!head) return shaft;
  const back = tip - dir * 11;
  return `${shaft}<path d="M${n(tip)} ${n(y)}L${n(back)} ${n(y - 5)}L${n(back)} ${n(y + 5)}Z" fill="${color}"/>`;
}

function stamp(ms: number | null): string {
  return formatMs(ms);
}

function roleNote(a: Attempt, role: LadderAttempt['role'], r: AnalysisResult): string {
  if (role === 'before') return 'last success before it';
  if (r.summary.firstFailedAttempt !== null) return 'first failure';
  if (a.verdict === 'established-after-loss') return 'first retransmitted';
  return 'last attempt';
}

function tupleNote(a: Attempt): string {
  const parts = [`port ${a.client.srcPort} → ${a.client.dstPort}`, `ISN ${a.isn}`];
  const s = a.server;
  if (s && (s.src !== a.client.src || s.srcPort !== a.client.srcPort)) parts.push(`server saw ${endpoint(s.src, s.srcPort)}`);
  return parts.join(' · ');
}

interface Columns {
  client: number;
  server: number;
  hasServer: boolean;
}

function renderEvent(e: LadderEvent, y: number, c: Columns): string {
  const mid = (c.client + c.server) / 2;
  const leftX = c.client - 10;
  const rightX = c.server + 10;
  const parts: string[] = [];
  let cls = `row ${e.kind}`;
  if (e.kind === 'syn') {
    cls += e.clientMs !== null ? ' syn-sent' : ' syn-seen-only';
    const label = e.fate === 'unseen-by-sender' ? `SYN copy ${e.number}` : `SYN #${e.number}`;
    parts.push(text(mid, y - 6, label, { anchor: 'middle', size: 12, fill: COLORS.syn }));
    if (e.clientMs !== null) parts.push(text(leftX, y + 4, stamp(e.clientMs), { anchor: 'end' }));
    else parts.push(text(leftX, y + 4, 'not captured', { anchor: 'end', fill: COLORS.muted, size: 12 }));
    if (e.fate === 'lost') {
      parts.push(arrow(c.client, y, c.server - LOST_GAP, COLORS.syn, false, false));
      parts.push(lostMark(c.server - LOST_GAP, y, 'lost'));
      parts.push(text(rightX, y + 4, 'never arrived', { fill: COLORS.lost, weight: 'bold' }));
    } else {
      parts.push(arrow(c.client, y, c.server, COLORS.syn, e.fate !== 'arrived'));
      if (e.serverMs !== null) parts.push(text(rightX, y + 4, stamp(e.serverMs)));
    }
  } else if (e.kind === 'syn-ack') {
    cls += e.serverMs !== null ? ' synack-sent' : ' synack-seen-only';
    parts.push(text(mid, y - 6, `SYN-ACK #${e.number}`, { anchor: 'middle', size: 12, fill: COLORS.synAck }));
    if (e.serverMs !== null) parts.push(text(rightX, y + 4, stamp(e.serverMs)));
    else if (c.hasServer) parts.push(text(rightX, y + 4, 'not captured', { fill: COLORS.muted, size: 12 }));
    if (e.fate === 'lost') {
      parts.push(arrow(c.server, y, c.client + LOST_GAP, COLORS.synAck, false, false));
      parts.push(lostMark(c.client + LOST_GAP, y, 'lost'));
      parts.push(text(leftX, y + 4, 'never arrived', { anchor: 'end', fill: COLORS.lost, weight: 'bold' }));
    } else {
      parts.push(arrow(c.server, y, c.client, COLORS.synAck, e.fate !== 'arrived'));
      if (e.clientMs !== null) parts.push(text(leftX, y + 4, stamp(e.clientMs), { anchor: 'end' }));
    }
  } else if (e.kind === 'rst') {
    parts.push(arrow(c.server, y, c.client, COLORS.rst, true));
    parts.push(text(mid, y - 6, `RST ×${e.number}: refused`, { anchor: 'middle', size: 12, fill: COLORS.rst }));
    parts.push(text(leftX, y + 4, 'RST', { anchor: 'end', fill: COLORS.rst, weight: 'bold' }));
  } else {
    parts.push(text(mid, y + 4, 'no reply', { anchor: 'middle', fill: COLORS.muted }));
  }
  return `<g class="${cls}" data-fate="${e.fate}">${parts.join('')}</g>`;
}

export function renderLadderPanel(r: AnalysisResult, list: LadderAttempt[], box: Box): string {
  const hasServer = r.captures.length > 1;
  const c: Columns = { client: box.x + 116, server: box.x + box.w - 116, hasServer };
  const out: string[] = [`<g class="ladder">`];
  const first = list[list.length - 1]?.attempt;
  let y = box.y;
  out.push(text(box.x, y + 16, 'Ladder: every SYN and SYN-ACK copy', { size: 15, weight: 'bold' }));
  if (first) {
    const server = first.server ? endpoint(first.server.dst, first.server.dstPort) : endpoint(first.client.dst, first.client.dstPort);
    out.push(text(c.client, y + 40, 'client', { anchor: 'middle', weight: 'bold' }));
    out.push(text(c.client, y + 56, clip(first.client.src, 210, 12), { anchor: 'middle', size: 12, fill: COLORS.muted }));
    out.push(text(c.server, y + 40, 'server', { anchor: 'middle', weight: 'bold' }));
    out.push(text(c.server, y + 56, hasServer ? clip(server, 210, 12) : '(no server capture)', { anchor: 'middle', size: 12, fill: COLORS.muted }));
  }
  y += HEAD;
  for (const l of list) {
    const a = l.attempt;
    out.push(`<g class="attempt" data-index="${a.index}" data-verdict="${a.verdict}" data-role="${l.role}">`);
    out.push(`<rect x="${n(box.x)}" y="${n(y + 2)}" width="${n(box.w)}" height="${BLOCK_HEAD - 8}" rx="4" fill="${COLORS.panel}"/>`);
    const verdictColor = a.established ? (a.verdict === 'established' ? COLORS.synAck : COLORS.retried) : COLORS.lost;
    out.push(`<text x="${n(box.x + 8)}" y="${n(y + 18)}" font-weight="bold">Attempt ${a.index.toLocaleString('en-US')} · <tspan fill="${verdictColor}">${a.verdict}</tspan></text>`);
    out.push(text(box.x + box.w - 8, y + 18, roleNote(a, l.role, r), { anchor: 'end', size: 12, fill: COLORS.muted, cls: 'role' }));
    out.push(text(box.x + 8, y + 33, clip(tupleNote(a), box.w - 16, 11.5), { size: 11.5, fill: COLORS.muted }));
    y += BLOCK_HEAD;
    const rows = rowsOf(l);
    const top = y;
    const bottom = y + rows * ROW;
    out.push(line(c.client, top - 4, c.client, bottom, COLORS.ink, 'stroke-width="2"'));
    out.push(line(c.server, top - 4, c.server, bottom, hasServer ? COLORS.ink : COLORS.faint, `stroke-width="2"${hasServer ? '' : ' stroke-dasharray="4 4"'}`));
    const shown = l.events.length > MAX_ROWS ? l.events.slice(0, MAX_ROWS - 1) : l.events;
    shown.forEach((e, i) => out.push(renderEvent(e, top + i * ROW + 17, c)));
    if (shown.length < l.events.length) {
      out.push(text((c.client + c.server) / 2, top + shown.length * ROW + 20, `… ${(l.events.length - shown.length).toLocaleString('en-US')} more transmissions not drawn`, { anchor: 'middle', fill: COLORS.muted, size: 12 }));
    }
    out.push('</g>');
    y = bottom + BLOCK_GAP;
  }
  out.push(text(box.x, y + 10, 'times: client clock, from each attempt\'s first SYN', { size: 11.5, fill: COLORS.muted }));
  if (hasServer) out.push(text(box.x, y + 26, offsetNote(r), { size: 11.5, fill: COLORS.muted }));
  out.push('</g>');
  return out.join('\n');
}
