/** The one place tables are drawn: boxed (cli-table3) for terminals, pipes for markdown. */
import { createRequire } from 'node:module';
import type CliTable3 from 'cli-table3';

/** cli-table3, loaded when a boxed table is first drawn (markdown and JSON do without it). */
let tableModule: typeof CliTable3 | null = null;

function tableClass(): typeof CliTable3 {
  tableModule ??= createRequire(import.meta.url)('cli-table3') as typeof CliTable3;
  return tableModule;
}

export type Cell = string | number;

export function renderBox(head: string[], rows: Cell[][]): string {
  const table = new (tableClass())({ head, style: { head: [], border: [] }, wordWrap: false });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
}

/** Rows of label and value, values wrapped at word boundaries to keep the table within ~96 columns. */
export function renderKeyValues(rows: Array<[string, Cell]>, valueWidth = 72): string {
  const table = new (tableClass())({ style: { head: [], border: [] }, colWidths: [22, valueWidth], wordWrap: true });
  for (const [k, v] of rows) table.push({ [k]: String(v) });
  return table.toString();
}

/** A label column and one column per capture, wrapped to fit a terminal. */
export function renderColumns(head: string[], rows: Cell[][], valueWidth = 37): string {
  const table = new (tableClass())({
    head,
    style: { head: [], border: [] },
    colWidths: [20, ...head.slice(1).map(() => valueWidth)],
    wordWrap: true,
  });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
}

function escapeMarkdownCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdownTable(head: string[], rows: Cell[][]): string {
  const lines = [
    `| ${head.map((h) => escapeMarkdownCell(h)).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map((c) => escapeMarkdownCell(String(c))).join(' | ')} |`),
  ];
  return lines.join('\n');
}
