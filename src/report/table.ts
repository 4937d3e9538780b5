/** `--format table`: for a terminal. */
import type { AnalysisResult } from '../analyze/types.js';
import { renderBox, renderColumns, renderKeyValues } from './grid.js';
import { pickLadderAttempt, renderLadder } from './ladder.js';
import { ATTEMPT_HEAD, PAIR_HEAD, attemptRow, captureColumns, notEstablished, pairRows, summaryRows } from './text.js';
import { offsetNote, ROW_LIMIT } from './common.js';
import { formatInteger } from '../numbers.js';

export function renderTable(r: AnalysisResult): string {
  const hasServer = r.captures.length > 1;
  const out: string[] = [r.summary.sentence, '', renderKeyValues(summaryRows(r.summary, hasServer))];
  const pairs = pairRows(r.summary);
  if (pairs.length > 0) out.push('', `Per (source address, destination port) pair (${pairs.length}):`, renderBox(PAIR_HEAD, pairs));
  const ladder = pickLadderAttempt(r.attempts, r.summary.firstFailedAttempt);
  if (ladder) out.push('', renderLadder(ladder, hasServer, offsetNote(r)));
  const failed = notEstablished(r.attempts);
  if (failed.length > 0) {
    out.push('', `Attempts that did not end established (${formatInteger(failed.length)}):`);
    out.push(renderBox(ATTEMPT_HEAD, failed.slice(0, ROW_LIMIT).map(attemptRow)));
    if (failed.length > ROW_LIMIT) out.push(`… and ${formatInteger(failed.length - ROW_LIMIT)} more (--format json lists them all)`);
  }
  const facts = captureColumns(r.captures);
  out.push('', renderColumns(facts.head, facts.rows));
  if (r.warnings.length > 0) out.push('', ...r.warnings.map((w) => `warning: ${w}`));
  return out.join('\n') + '\n';
}
