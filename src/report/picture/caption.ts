/**
 * The caption under the picture: the verdict sentence, the summary the other reports show
 * (summaryRows), one line of facts per capture, and the synprobe version that made it.
 */
import { basename } from 'node:path';
import type { AnalysisResult, CaptureFacts } from '../../analyze/types.js';
import { decodeProblems, formatCount, summaryRows } from '../text.js';
import type { Box } from './ladder-svg.js';
import { COLORS, esc, n, text, wrap } from './svg.js';

const SENTENCE_SIZE = 14.5;
const SENTENCE_LINE = 20;
const FACT_SIZE = 12.5;
const FACT_LINE = 17;
const KEY_W = 150;

interface CaptionRow {
  key: string;
  lines: string[];
}

function shortTime(iso: string | null): string {
  // 2026-11-29T23:22:51.853420000Z → 23:22:51.853420
  return iso ? iso.slice(11, 26) : '—';
}

export function captureLine(c: CaptureFacts): string {
  const format = `${c.format}${c.format === 'pcap' ? (c.nanosecond ? ' (ns)' : ' (µs)') : ''}`;
  const parts = [
    basename(c.file),
    `${format}, ${c.linkTypes.join(', ') || 'no link type'}, snap length ${c.snapLen || 'unlimited'}`,
    `${formatCount(c.packets)} packets (${formatCount(c.synPackets)} SYN, ${formatCount(c.synAckPackets)} SYN-ACK)`,
    `${shortTime(c.firstPacketAt)} … ${shortTime(c.lastPacketAt)} UTC, ${c.role} clock${c.coverEndSource === 'assumed' ? ', stop assumed' : ''}`,
    `kernel drops ${c.kernelDrops === null ? 'unknown' : formatCount(c.kernelDrops)}`,
  ];
  const problems = decodeProblems(c);
  if (problems !== 'none') parts.push(`decode problems: ${problems}`);
  if (c.readProblem) parts.push(`read stopped: ${c.readProblem.kind} at byte ${c.readProblem.offset}`);
  return parts.join(' · ');
}

function rowsOf(r: AnalysisResult, width: number): CaptionRow[] {
  const hasServer = r.captures.length > 1;
  const valueW = width - KEY_W;
  const rows: CaptionRow[] = summaryRows(r.summary, hasServer).map(([key, value]) => ({ key, lines: wrap(value, valueW, FACT_SIZE) }));
  for (const c of r.captures) rows.push({ key: `${c.role[0].toUpperCase()}${c.role.slice(1)} capture`, lines: wrap(captureLine(c), valueW, FACT_SIZE) });
  return rows;
}

export function captionHeight(r: AnalysisResult, width: number): number {
  const sentence = wrap(r.summary.sentence, width, SENTENCE_SIZE, true).length * SENTENCE_LINE;
  const facts = rowsOf(r, width).reduce((h, row) => h + row.lines.length * FACT_LINE, 0);
  return 12 + sentence + 10 + facts + 12 + 22;
}

export function renderCaption(r: AnalysisResult, box: Box): string {
  const out: string[] = ['<g class="caption">'];
  let y = box.y + 12;
  out.push(`<text class="sentence" x="${n(box.x)}" y="${n(y + 6)}" font-size="${SENTENCE_SIZE}" font-weight="bold" fill="${COLORS.ink}">`);
  wrap(r.summary.sentence, box.w, SENTENCE_SIZE, true).forEach((l, i) => {
    out.push(`<tspan x="${n(box.x)}" dy="${i === 0 ? 0 : SENTENCE_LINE}">${esc(l)}</tspan>`);
    y += SENTENCE_LINE;
  });
  out.push('</text>');
  y += 10;
  for (const row of rowsOf(r, box.w)) {
    out.push(text(box.x, y, row.key, { size: FACT_SIZE, weight: 'bold', fill: COLORS.muted }));
    for (const l of row.lines) {
      out.push(text(box.x + KEY_W, y, l, { size: FACT_SIZE }));
      y += FACT_LINE;
    }
  }
  y += 12;
  out.push(`<line x1="${n(box.x)}" y1="${n(y - 8)}" x2="${n(box.x + box.w)}" y2="${n(y - 8)}" stroke="${COLORS.faint}"/>`);
  out.push(text(box.x, y + 8, 'Times are in the client\'s clock; server times are shifted by the estimated clock offset.', { size: 11.5, fill: COLORS.muted }));
  out.push(text(box.x + box.w, y + 8, `synprobe ${r.tool.version}`, { size: 11.5, anchor: 'end', fill: COLORS.muted, cls: 'version' }));
  out.push('</g>');
  return out.join('\n');
}
