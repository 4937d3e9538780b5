/**
 * SVG → PNG with resvg (@resvg/resvg-js: a Rust renderer whose npm package ships a prebuilt
 * binary per platform; nothing is downloaded at install or run time). Text is drawn with the
 * system's fonts: on Debian, fonts-dejavu-core.
 */

export interface PngOptions {
  /** Output width in pixels (the SVG is scaled); default: the SVG's own width. */
  width?: number;
}

/** Family used for the generic `sans-serif` and when no family of the stack is installed. */
const FALLBACK_FAMILY = 'DejaVu Sans';

export async function svgToPng(svg: string, opts: PngOptions = {}): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: opts.width ? { mode: 'width', value: opts.width } : { mode: 'original' },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: FALLBACK_FAMILY, sansSerifFamily: FALLBACK_FAMILY },
  });
  return resvg.render().asPng();
}

/** Width and height from a PNG's IHDR chunk; null when the bytes are not a PNG. */
export function pngSize(png: Uint8Array): { width: number; height: number } | null {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || sig.some((b, i) => png[i] !== b)) return null;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (String.fromCharCode(png[12], png[13], png[14], png[15]) !== 'IHDR') return null;
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
