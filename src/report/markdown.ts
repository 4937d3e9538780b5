/** `--format markdown`: a forum post or a support ticket. */
import { basename } from 'node:path';
import type { AnalysisResult } from '../analyze/types.js';
import { renderMarkdownTable } from './grid.js';
import { pickLadderAttempt, renderLadder } from './ladder.js';
import { ATTEMPT_HEAD, PAIR_HEAD, attemptRow, captureColumns, notEstablished, pairRows, summaryRows } from './text.js';
import { describePorts, formatPorts } from '../ports.js';
import { offsetNote, ROW_LIMIT } from './common.js';
import { formatInteger } from '../numbers.js';

export interface MarkdownExtras {
  /** Command lines that reproduce the run or the analysis. */
  reproduce?: string[];
  /** Extra sections (e.g. run facts from synprobe capture), already in markdown. */
  sections?: Array<{ title: string; body: string }>;
  /** An image written beside the report, referred to by name. */
  image?: string | null;
}

function fence(text: string): string {
  return '```text\n' + text + '\n```';
}

export function defaultReproduce(r: AnalysisResult): string[] {
  const files = r.captures.map((c) => basename(c.file)).join(' ');
  return [`synprobe analyze ${files} --port ${formatPorts(r.summary.ports ?? [r.summary.port])}${r.summary.peer ? ` --peer ${r.summary.peer}` : ''} --format markdown`];
}

export function renderMarkdown(r: AnalysisResult, extras: MarkdownExtras = {}): string {
  const hasServer = r.captures.length > 1;
  const out: string[] = [
    `## synprobe ${r.tool.version}: TCP connection attempts to ${describePorts(r.summary.ports ?? [r.summary.port])}`,
    '',
    `**Verdict.** ${r.summary.sentence}`,
    '',
    renderMarkdownTable(['', ''], summaryRows(r.summary, hasServer)),
  ];
  const pairs = pairRows(r.summary);
  if (pairs.length > 0) out.push('', `### Per (source address, destination port) pair (${pairs.length})`, '', renderMarkdownTable(PAIR_HEAD, pairs));
  if (extras.image) out.push('', `![synprobe evidence](${extras.image})`);
  const ladder = pickLadderAttempt(r.attempts, r.summary.firstFailedAttempt);
  if (ladder) {
    const title = r.summary.firstFailedAttempt !== null ? 'The first failed attempt' : `Attempt ${ladder.index}`;
    out.push('', `### ${title}`, '', fence(renderLadder(ladder, hasServer, offsetNote(r))));
  }
  const failed = notEstablished(r.attempts);
  if (failed.length > 0) {
    out.push('', `### Attempts that were not established (${formatInteger(failed.length)})`, '');
    out.push(renderMarkdownTable(ATTEMPT_HEAD, failed.slice(0, ROW_LIMIT).map(attemptRow)));
    if (failed.length > ROW_LIMIT) out.push('', `… and ${formatInteger(failed.length - ROW_LIMIT)} more.`);
  }
  out.push('', '### Captures', '');
  const facts = captureColumns(r.captures);
  out.push(renderMarkdownTable(facts.head, facts.rows));
  for (const s of extras.sections ?? []) out.push('', `### ${s.title}`, '', s.body);
  if (r.warnings.length > 0) out.push('', '### Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  out.push('', '### How to reproduce', '', '```sh', ...(extras.reproduce ?? defaultReproduce(r)), '```');
  return out.join('\n') + '\n';
}
