import type { AnalysisResult } from '../analyze/types.js';

/** Rows of attempts shown in table and markdown reports before "and N more". */
export const ROW_LIMIT = 50;

export function offsetNote(r: AnalysisResult): string {
  const ms = r.summary.clockOffsetMs;
  if (ms === null) return 'server clock (offset unknown)';
  return `server times moved to the client clock (${ms >= 0 ? '-' : '+'}${Math.abs(ms).toFixed(3)} ms)`;
}
