/**
 * The fuzz test in CI: a fixed seed and a fixed number of mutated captures (fixtures and the small
 * files of the public corpus, see mutate.js) through the CLI in-process, a few seconds. The long
 * mode, `npm run fuzz`, runs the same generator for 100,000 cases and more (fuzz-long.js).
 * A case is named seed:index; `npm run fuzz -- --replay seed:index` reruns one.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { judgeOutcome, makeCase, mutate, createRandom } from './mutate.js';
import { CORPUS_FILES_DIR, FIXTURES_DIR, analyzeInProcess, listCaptures, makeTempDir, requireCorpus } from './helpers.js';

requireCorpus();

/** Must match fuzz-long.js: fixtures, then corpus files up to 120,000 bytes, each sorted by name. */
const CORPUS_MAX_BYTES = 120_000;
const SEED = 20261129;
const CASES = 600;

const sources = [
  ...listCaptures(FIXTURES_DIR),
  ...listCaptures(CORPUS_FILES_DIR).filter((f) => statSync(f).size <= CORPUS_MAX_BYTES),
].map((f) => ({ name: path.basename(f), bytes: new Uint8Array(readFileSync(f)) }));

const temp = makeTempDir('synprobe-fuzz-ci-');
afterAll(() => temp.remove());

describe('seeded fuzz', () => {
  it('the generator is a function of (seed, index)', () => {
    const a = makeCase(SEED, 17, sources);
    const b = makeCase(SEED, 17, sources);
    expect(b.description).toBe(a.description);
    expect(Buffer.from(b.files[0].bytes).equals(Buffer.from(a.files[0].bytes))).toBe(true);
    expect(makeCase(SEED, 18, sources).description).not.toBe(a.description);
    const m1 = mutate(sources[0].bytes, createRandom(5));
    const m2 = mutate(sources[0].bytes, createRandom(5));
    expect(m1.steps).toEqual(m2.steps);
  });

  it(`${CASES} mutated captures through synprobe analyze: a report or one error line, each`, async () => {
    const problems: string[] = [];
    const codes = [0, 0, 0];
    for (let index = 0; index < CASES; index++) {
      const c = makeCase(SEED, index, sources);
      const paths = c.files.map((f: { name: string; bytes: Uint8Array }, i: number) => temp.write(`${index}-${i === 0 ? 'client' : 'server'}-${f.name}`, f.bytes));
      const outcome = await analyzeInProcess(paths, c.format, c.redact, 20_000);
      const problem = judgeOutcome(outcome, paths, c.format);
      if (problem) problems.push(`${SEED}:${index} ${problem}\n    ${c.description}`);
      if (outcome.code !== undefined) codes[outcome.code]++;
    }
    expect(problems).toEqual([]);
    // The mutations reach every ending: reports with and without loss, and unreadable files.
    expect(codes[0]).toBeGreaterThan(CASES / 10);
    expect(codes[1]).toBeGreaterThan(CASES / 20);
    expect(codes[2]).toBeGreaterThan(CASES / 50);
  }, 120_000);
});
