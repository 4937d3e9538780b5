import type { AnalysisResult } from '../analyze/types.js';

/** Rows of attempts shown in table and markdown reports before "and N more". */
export const ROW_LIMIT = 50;

export function offsetNote(r: AnalysisResult): string {
  const ms = r.summary.clockOffsetMs;
  return ms === null ? 'server clock (offset unknown)' : `server clock shifted by ${(-ms / 1000).toFixed(3)} s`;
}
