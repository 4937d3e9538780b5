/**
 * The README's pictures (docs/pictures/<scenario>.png) exist for every scenario and match the
 * current layout: same width, same height as a fresh render. Regenerate them with
 *   npm run build && node dist/report/picture/render-docs.js
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pngSize, renderPictureSvg } from '../../src/report/picture/index.js';
import { DOC_SCENARIOS } from '../../src/report/picture/render-docs.js';
import { analyze, repoRoot, scenarios } from './picture-helpers.js';

describe('docs/pictures', () => {
  it.each([...DOC_SCENARIOS])('%s.png is there and current', async (name) => {
    const file = join(repoRoot, 'docs', 'pictures', `${name}.png`);
    const regenerate = 'regenerate: npm run build && node dist/report/picture/render-docs.js';
    expect(existsSync(file), `${file} missing; ${regenerate}`).toBe(true);
    const scenario = scenarios.find((s) => s.name === name)!;
    const svg = renderPictureSvg(await analyze(scenario));
    const height = Number(/<svg [^>]*height="(\d+)"/.exec(svg)![1]);
    expect(pngSize(readFileSync(file)), `${file} is stale; ${regenerate}`).toEqual({ width: 1000, height });
  });
});
