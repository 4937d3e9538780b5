/**
 * One SVG with the evidence a forum post needs: the ladder of the attempt the reports draw and the
 * last established one before it, the connections-open chart with the ceiling, and a caption.
 * Hand-written SVG strings; `--redact` goes through the same Redactor as the text reports.
 */
import type { AnalysisResult } from '../../analyze/types.js';
import { formatCount } from '../text.js';
import { endpoint } from '../../address.js';
import { describePorts } from '../../ports.js';
import { Redactor, redactResult } from '../redact.js';
import { captionHeight, renderCaption } from './caption.js';
import { chartHeightMin, renderChart } from './chart.js';
import { pickPictureAttempts } from './events.js';
import { ladderHeight, renderLadderPanel } from './ladder-svg.js';
import { COLORS, esc, FONT_STACK, text } from './svg.js';

export const PICTURE_WIDTH = 1000;
const MARGIN = 20;
const TITLE_H = 46;
const GAP = 28;
const LADDER_W = 452;

export interface PictureOptions {
  /** Replace addresses as `--redact` does in the text reports. */
  redact?: boolean;
}

function title(r: AnalysisResult): string {
  const a = r.attempts[0];
  const peer = r.summary.peer ?? a?.client.dst ?? null;
  const ports = r.summary.ports ?? [r.summary.port];
  const target = ports.length > 1 ? `${peer ? `${peer} ` : ''}${describePorts(ports)}` : peer ? endpoint(peer, r.summary.port) : `port ${r.summary.port}`;
  return `synprobe: ${formatCount(r.summary.attempts)} TCP connection attempts to ${target}`;
}

function build(r: AnalysisResult): string {
  const inner = PICTURE_WIDTH - 2 * MARGIN;
  const list = pickPictureAttempts(r);
  const panelsY = MARGIN + TITLE_H;
  const ladderH = list.length ? ladderHeight(list) : 0;
  const panelsH = Math.max(ladderH, chartHeightMin());
  const captionY = panelsY + panelsH + 14;
  const height = Math.ceil(captionY + captionHeight(r, inner) + MARGIN);
  const chartX = MARGIN + (list.length ? LADDER_W + GAP : 0);

  const body: string[] = [];
  body.push(`<rect width="${PICTURE_WIDTH}" height="${height}" fill="white"/>`);
  body.push(text(MARGIN, MARGIN + 20, title(r), { size: 19, weight: 'bold' }));
  const failed = r.summary.ceiling !== null
    ? `ceiling ${formatCount(r.summary.ceiling)} connections`
    : 'no attempt failed';
  body.push(text(PICTURE_WIDTH - MARGIN, MARGIN + 20, failed, { size: 16, weight: 'bold', anchor: 'end', fill: r.summary.ceiling !== null ? COLORS.lost : COLORS.synAck, cls: 'headline' }));
  body.push(`<line x1="${MARGIN}" y1="${MARGIN + 32}" x2="${PICTURE_WIDTH - MARGIN}" y2="${MARGIN + 32}" stroke="${COLORS.faint}"/>`);
  if (list.length) body.push(renderLadderPanel(r, list, { x: MARGIN, y: panelsY, w: LADDER_W }));
  body.push(renderChart(r, { x: chartX, y: panelsY, w: PICTURE_WIDTH - MARGIN - chartX, h: panelsH }));
  body.push(`<line x1="${MARGIN}" y1="${captionY}" x2="${PICTURE_WIDTH - MARGIN}" y2="${captionY}" stroke="${COLORS.faint}"/>`);
  body.push(renderCaption(r, { x: MARGIN, y: captionY, w: inner }));

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PICTURE_WIDTH}" height="${height}" viewBox="0 0 ${PICTURE_WIDTH} ${height}" font-family="${FONT_STACK.replace(/"/g, '&quot;')}" font-size="13" fill="${COLORS.ink}">`,
    `<title>${esc(title(r))}</title>`,
    `<desc>${esc(r.summary.sentence)}</desc>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** The picture as an SVG document (about 1000 px wide, system fonts only, no external resources). */
export function renderPictureSvg(result: AnalysisResult, opts: PictureOptions = {}): string {
  const redactor = opts.redact ? new Redactor() : null;
  const r = redactor ? redactResult(result, redactor) : result;
  const svg = build(r);
  return redactor ? redactor.text(svg) : svg;
}
