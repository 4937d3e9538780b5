/**
 * `--format json`: JSON.stringify(result, null, 2) and a newline, written in pieces: the attempts
 * one at a time, so that neither the whole text nor every attempt's computed fields (see
 * analyze/attempts.ts) are in memory at once. The text is the same as JSON.stringify's.
 */
import type { AnalysisResult } from '../analyze/types.js';

/** Pieces are handed to `write` once they hold about this many characters. */
const PIECE = 1 << 16;

/** JSON.stringify with an indent of 2, for a value `depth` levels down. */
function nested(value: unknown, depth: number): string {
  const text = JSON.stringify(value, null, 2) ?? 'null';
  return depth === 0 ? text : text.replace(/\n/g, `\n${'  '.repeat(depth)}`);
}

export function writeJson(result: AnalysisResult, write: (text: string) => void): void {
  let out = '{';
  let first = true;
  for (const [key, value] of Object.entries(result)) {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    out += `${first ? '' : ','}\n  ${JSON.stringify(key)}: `;
    first = false;
    if (key === 'attempts' && Array.isArray(value) && value.length > 0) {
      out += '[';
      for (let i = 0; i < value.length; i++) {
        out += `${i === 0 ? '' : ','}\n    ${nested(value[i], 2)}`;
        if (out.length >= PIECE) {
          write(out);
          out = '';
        }
      }
      out += '\n  ]';
    } else {
      out += nested(value, 1);
    }
  }
  out += first ? '}\n' : '\n}\n';
  write(out);
}
