/**
 * Every input that ever broke synprobe (fixtures/regress/, listed in fixtures/README.md under
 * "Regression"): through the CLI alone and as either side of a pair, in every format, with and
 * without --redact. Then what each one must give.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGRESS_DIR, analyzeInProcess, fixture, judge, listCaptures, report, type Format } from './helpers.js';

const regressions = listCaptures(REGRESS_DIR);

describe('regression fixtures', () => {
  it('there are some', () => {
    expect(regressions.length).toBeGreaterThanOrEqual(2);
  });

  it.each(regressions.map((f) => [path.basename(f), f]))('%s: a report or one error line, every way', async (_name, file) => {
    const partner = fixture(/\.pcapng$/.test(file) ? 'sll2-ns-client.pcap' : 'path-cap-server.pcap');
    for (const inputs of [[file], [file, partner], [partner, file]]) {
      for (const format of ['json', 'markdown', 'table'] as Format[]) {
        for (const redact of [false, true]) {
          const outcome = await analyzeInProcess(inputs, format, redact);
          expect(judge(outcome, inputs, format), `${inputs.join(' ')} ${format}${redact ? ' --redact' : ''}: ${outcome.stderr}`).toBeNull();
        }
      }
    }
  });
});

describe('what each regression gives', () => {
  it('tsresol-seconds-server.pcapng: timestamps millions of years away are read as untimed, with warnings (was: RangeError: Invalid time value)', async () => {
    const file = path.join(REGRESS_DIR, 'tsresol-seconds-server.pcapng');
    const outcome = await analyzeInProcess([fixture('sll2-ns-client.pcap'), file]);
    expect([0, 1]).toContain(outcome.code);
    const server = report(outcome).captures[1];
    expect(server.packets).toBe(68);
    expect(server.warnings.some((w) => /timestamp outside the years 1-9999 \(\d+ s\); read as untimed/.test(w))).toBe(true);
    expect(server.warnings.some((w) => /isb_(start|end)time lies outside the years 1-9999/.test(w))).toBe(true);
  });

  it('zero-tail-client.pcap: reading stops at the zero-filled tail (was: each 16 zero bytes read as an empty packet)', async () => {
    const file = path.join(REGRESS_DIR, 'zero-tail-client.pcap');
    const outcome = await analyzeInProcess([file]);
    const capture = report(outcome).captures[0];
    expect(capture.packets).toBe(74);
    expect(capture.readProblem).toEqual({
      kind: 'corrupt',
      offset: 6536,
      message: 'record header is all zeros: the file looks zero-filled from here (space allocated but never written)',
    });
  });
});
