/** Renders an analysis in one of the output formats, and the exit status that goes with it. */
import type { AnalysisResult } from '../analyze/types.js';
import { PATH_LOSS_VERDICTS } from '../analyze/types.js';
import { renderTable } from './table.js';
import { renderMarkdown, type MarkdownExtras } from './markdown.js';
import { Redactor, redactResult } from './redact.js';
import { writeJson } from './json.js';

export const FORMATS = ['table', 'markdown', 'json'] as const;
export type Format = (typeof FORMATS)[number];

export interface RenderOptions extends MarkdownExtras {
  redact?: boolean;
}

export function renderReport(result: AnalysisResult, format: Format, opts: RenderOptions = {}): string {
  const redactor = opts.redact ? new Redactor() : null;
  const r = redactor ? redactResult(result, redactor) : result;
  let text: string;
  switch (format) {
    case 'json': {
      const pieces: string[] = [];
      writeJson(r, (piece) => pieces.push(piece));
      return pieces.join('');
    }
    case 'markdown':
      text = renderMarkdown(r, opts);
      break;
    case 'table':
      text = renderTable(r);
      break;
  }
  // Extras (run facts, commands) come from outside the result: scrub the finished text as well.
  return redactor ? redactor.text(text) : text;
}

/**
 * renderReport's text handed to `write` in pieces: JSON is written one attempt at a time, never
 * whole in memory (100,000 attempts are about 140 MB of it); the other formats in one piece.
 */
export function writeReport(result: AnalysisResult, format: Format, opts: RenderOptions, write: (text: string) => void): void {
  if (format !== 'json') {
    write(renderReport(result, format, opts));
    return;
  }
  writeJson(opts.redact ? redactResult(result, new Redactor()) : result, write);
}

/**
 * As diff does it: 0 when nothing was lost between the capture points, 1 when something was.
 * With only a client capture, attempts that got no reply count as loss: the user asked which SYNs
 * were never answered. Refusals and drops on the server host are reported but are not path loss.
 */
export function exitStatusFor(result: AnalysisResult): 0 | 1 {
  if (result.attempts.some((a) => PATH_LOSS_VERDICTS.has(a.verdict))) return 1;
  if (result.captures.length === 1 && result.summary.verdicts['no-reply'] > 0) return 1;
  return 0;
}

export { redactResult } from './redact.js';
