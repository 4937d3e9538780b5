/**
 * What the picture's ladder draws: the attempt the text ladder draws (pickLadderAttempt) and the
 * last attempt before it that was established, each as a list of events in the text ladder's
 * order — one per transmission, lost ones marked.
 */
import type { AnalysisResult, Attempt } from '../../analyze/types.js';
import { pickLadderAttempt } from '../ladder.js';
import { ladderEvents, type LadderEvent } from '../ladder-events.js';

export { ladderEvents, type Fate, type LadderEvent, type LadderEventKind } from '../ladder-events.js';

export interface LadderAttempt {
  attempt: Attempt;
  role: 'focus' | 'before';
  events: LadderEvent[];
}

/** The attempt the reports draw and, when there is one, the last established attempt before it. */
export function pickPictureAttempts(r: AnalysisResult): LadderAttempt[] {
  const hasServer = r.captures.length > 1;
  const focus = pickLadderAttempt(r.attempts, r.summary.firstFailedAttempt);
  if (!focus) return [];
  const at = r.attempts.indexOf(focus);
  let before: Attempt | null = null;
  for (let i = at - 1; i >= 0; i--) {
    if (r.attempts[i].established) {
      before = r.attempts[i];
      break;
    }
  }
  const out: LadderAttempt[] = [];
  if (before) out.push({ attempt: before, role: 'before', events: ladderEvents(before, hasServer) });
  out.push({ attempt: focus, role: 'focus', events: ladderEvents(focus, hasServer) });
  return out;
}
