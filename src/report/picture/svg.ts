/**
 * The few SVG helpers the picture needs, as plain strings: escaping, text, lines, the lost-packet
 * mark, and a width estimate for wrapping text without a layout engine.
 */

/** System fonts only, no @font-face: Verdana-width families first, so the width estimate holds. */
export const FONT_STACK = "'DejaVu Sans', Verdana, 'Bitstream Vera Sans', 'Segoe UI', Helvetica, Arial, sans-serif";

export const COLORS = {
  ink: '#1b1f24',
  muted: '#57606a',
  faint: '#d0d7de',
  panel: '#f6f8fa',
  syn: '#0550ae',
  synAck: '#1a7f37',
  lost: '#cf222e',
  rst: '#8250df',
  open: '#0969da',
  openFill: '#ddf4ff',
  retried: '#bc4c00',
} as const;

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Coordinates with at most one decimal keep the file small. */
export function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

export type Anchor = 'start' | 'middle' | 'end';

export interface TextStyle {
  size?: number;
  anchor?: Anchor;
  weight?: 'bold' | 'normal';
  fill?: string;
  cls?: string;
}

export function text(x: number, y: number, content: string, style: TextStyle = {}): string {
  const attrs = [`x="${n(x)}"`, `y="${n(y)}"`];
  if (style.cls) attrs.unshift(`class="${style.cls}"`);
  if (style.size && style.size !== 13) attrs.push(`font-size="${style.size}"`);
  if (style.anchor && style.anchor !== 'start') attrs.push(`text-anchor="${style.anchor}"`);
  if (style.weight === 'bold') attrs.push('font-weight="bold"');
  if (style.fill) attrs.push(`fill="${style.fill}"`);
  return `<text ${attrs.join(' ')}>${esc(content)}</text>`;
}

export function line(x1: number, y1: number, x2: number, y2: number, stroke: string, extra = ''): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}"${extra ? ' ' + extra : ''}/>`;
}

/** The ✕ that ends a lost packet, drawn as two strokes so it shows whatever fonts there are. */
export function lostMark(x: number, y: number, cls: string, size = 6): string {
  const d = `M${n(x - size)} ${n(y - size)}L${n(x + size)} ${n(y + size)}M${n(x - size)} ${n(y + size)}L${n(x + size)} ${n(y - size)}`;
  return `<path class="${cls}" d="${d}" stroke="${COLORS.lost}" stroke-width="3" stroke-linecap="round"><title>✕ lost</title></path>`;
}

/** Width of text in this font stack, overestimated a little (DejaVu Sans / Verdana are wide). */
export function textWidth(content: string, size = 13, bold = false): number {
  let em = 0;
  for (const ch of content) {
    if (/[il.,:;'|!]/.test(ch)) em += 0.32;
    else if (/[ ]/.test(ch)) em += 0.33;
    else if (/[A-Z@#%&mwMW—✕]/.test(ch)) em += 0.8;
    else em += 0.62;
  }
  return em * size * (bold ? 1.07 : 1);
}

/** Greedy word wrap to a pixel width; a word longer than the width stays whole on its own line. */
export function wrap(content: string, width: number, size = 13, bold = false): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of content.split(/\s+/).filter(Boolean)) {
    const next = current ? `${current} ${word}` : word;
    if (current && textWidth(next, size, bold) > width) {
      lines.push(current);
      current = word;
    } else {
      current = next;
    }
  }
  if (current) lines.push(current);
  return lines;
}

/** Cuts text to a pixel width with an ellipsis. */
export function clip(content: string, width: number, size = 13): string {
  if (textWidth(content, size) <= width) return content;
  let out = content;
  while (out.length > 1 && textWidth(out + '…', size) > width) out = out.slice(0, -1);
  return out + '…';
}
