/**
 * The evidence picture, rendered for every real fixture: the ladder draws exactly the
 * transmissions the analysis found (one mark per SYN copy sent, one ✕ per copy that never
 * arrived), the chart carries the ceiling and one point per failed attempt, the caption the
 * verdict and the version; the SVG parses in a real renderer (resvg), the PNG decodes to the
 * SVG's size and has text in it, and --redact leaves no address behind.
 */
import { describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';
import { renderPictureSvg, svgToPng, pngSize, PICTURE_WIDTH } from '../../src/report/picture/index.js';
import { pickPictureAttempts } from '../../src/report/picture/events.js';
import { pickLadderAttempt, renderLadder } from '../../src/report/ladder.js';
import { esc } from '../../src/report/picture/svg.js';
import { addressesOf, analyze, attemptBlock, count, expectedMarks, scenarios } from './picture-helpers.js';
import type { AnalysisResult } from '../../src/analyze/types.js';

function svgHeight(svg: string): number {
  return Number(/<svg [^>]*height="(\d+)"/.exec(svg)?.[1]);
}

/** The order of "SYN #n" / "SYN-ACK #n" labels, one per row. */
function labelOrder(rows: string[]): string[] {
  return rows.map((l) => /SYN(?:-ACK)? #\d+/.exec(l)?.[0]).filter((x): x is string => Boolean(x));
}

describe('evidence picture of each fixture', () => {
  it.each(scenarios)('$name', async (s) => {
    const r = await analyze(s);
    const hasServer = s.server !== null;
    const svg = renderPictureSvg(r);

    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain(`width="${PICTURE_WIDTH}"`);
    expect(svg).not.toMatch(/@font-face|url\(|href=/); // nothing fetched at render time

    // Ladder: the attempt the text reports draw, and the last established one before it.
    const focus = pickLadderAttempt(r.attempts, r.summary.firstFailedAttempt);
    expect(focus).not.toBeNull();
    const drawn = pickPictureAttempts(r);
    expect(drawn[drawn.length - 1].attempt).toBe(focus);
    for (const { attempt: a } of drawn) {
      const block = attemptBlock(svg, a.index);
      expect(block, `attempt ${a.index} drawn`).not.toBe('');
      const want = expectedMarks(a, hasServer);
      expect(count(block, /class="row syn syn-sent"/), `SYN copies of attempt ${a.index}`).toBe(a.synSent);
      expect(count(block, /class="row syn syn-sent"/)).toBe(want.synSent);
      expect(count(block, /class="lost"/), `✕ marks of attempt ${a.index}`).toBe(want.lost);
      expect(count(block, /class="row syn-ack synack-sent"/)).toBe(a.synAckSent ?? 0);
      // Same events, same order as the text ladder.
      const text = renderLadder(a, hasServer, '').split('\n').slice(3);
      expect(labelOrder(block.split('\n').filter((l) => l.startsWith('<g class="row')))).toEqual(labelOrder(text));
    }
    if (r.summary.firstFailedAttempt !== null) {
      expect(drawn).toHaveLength(2);
      expect(drawn[0].attempt.established).toBe(true);
      expect(drawn[0].attempt.index).toBeLessThan(focus!.index);
    }

    // Chart: the ceiling, one point per failed attempt.
    const failed = r.attempts.filter((a) => !a.established).length;
    expect(count(svg, /class="failed-point"/)).toBe(failed);
    expect(count(svg, /class="retried-point"/)).toBe(r.summary.verdicts['established-after-loss']);
    if (r.summary.ceiling !== null) {
      expect(svg).toContain(`<g class="ceiling" data-value="${r.summary.ceiling}">`);
      expect(svg).toContain(`ceiling ${r.summary.ceiling} connections`);
    } else {
      expect(svg).not.toContain('class="ceiling"');
      expect(svg).toContain('no ceiling reached');
    }

    // Caption: the verdict sentence, the capture files, the version.
    expect(svg).toContain(`<desc>${esc(r.summary.sentence)}</desc>`);
    for (const c of r.captures) expect(svg).toContain(esc(c.file.split('/').pop()!));
    expect(svg).toContain(`>synprobe ${r.tool.version}</text>`);

    // A real renderer parses it; the PNG is the SVG's size.
    const resvg = new Resvg(svg);
    expect(resvg.width).toBe(PICTURE_WIDTH);
    expect(resvg.height).toBe(svgHeight(svg));
    const png = await svgToPng(svg);
    expect(pngSize(png)).toEqual({ width: PICTURE_WIDTH, height: svgHeight(svg) });
  });

  it('has its text drawn in the PNG: system fonts were found', async () => {
    const svg = renderPictureSvg(await analyze(scenarios[0]));
    const image = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render();
    // The title row (text only) must hold dark pixels; without a usable font resvg draws none.
    const pixels = image.pixels; // a getter that copies the whole image: read it once
    let dark = 0;
    for (let y = 22; y < 46; y++) {
      for (let x = 20; x < 600; x++) {
        const i = (y * image.width + x) * 4;
        if (pixels[i + 3] > 128 && pixels[i] < 100) dark++;
      }
    }
    expect(dark, 'dark pixels in the title: install fonts-dejavu-core').toBeGreaterThan(500);
  });

  it('scales the PNG to a requested width', async () => {
    const svg = renderPictureSvg(await analyze(scenarios[0]));
    const size = pngSize(await svgToPng(svg, { width: 2000 }));
    expect(size?.width).toBe(2000);
    expect(size?.height).toBe(svgHeight(svg) * 2);
  });

  it('is refused by resvg when the XML is broken (the parse check has teeth)', () => {
    expect(() => new Resvg('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>a</svg>')).toThrow();
  });

  it.each(scenarios)('--redact leaves no address: $name', async (s) => {
    const r = await analyze(s);
    const plain = renderPictureSvg(r);
    const svg = renderPictureSvg(r, { redact: true });
    const addresses = addressesOf(r);
    expect(addresses.length).toBeGreaterThan(0);
    for (const addr of addresses) {
      expect(plain).toContain(addr);
      expect(svg).not.toContain(addr);
    }
    expect(svg).not.toMatch(/(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/);
    expect(svg).toContain('client-1');
    expect(svg).toContain('server-1');
    // The structure is untouched.
    expect(count(svg, /class="row syn syn-sent"/)).toBe(count(plain, /class="row syn syn-sent"/));
    expect(count(svg, /class="lost"/)).toBe(count(plain, /class="lost"/));
    new Resvg(svg);
  });

  it('escapes what it draws', async () => {
    // A deep copy through JSON: attempts compute their times and 4-tuples on access, which structuredClone does not copy.
    const r = JSON.parse(JSON.stringify(await analyze(scenarios[0]))) as AnalysisResult;
    r.summary.sentence = 'a <b> & "c" \'d\'';
    r.captures[0].file = '/tmp/<evil>&.pcap';
    const svg = renderPictureSvg(r);
    expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;');
    expect(svg).toContain('&lt;evil&gt;&amp;.pcap');
    expect(svg).not.toContain('<evil>');
    new Resvg(svg);
  });
});

describe('PNG size from the IHDR', () => {
  it('is null for bytes that are not a PNG', () => {
    expect(pngSize(new Uint8Array(30))).toBeNull();
    expect(pngSize(Buffer.from('<svg/>'))).toBeNull();
  });
});
