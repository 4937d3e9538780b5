/** The one place tables are drawn: boxed (cli-table3) for terminals, pipes for markdown. */
import Table from 'cli-table3';

export type Cell = string | number;

export function renderBox(head: string[], rows: Cell[][]): string {
  const table = new Table({ head, style: { head: [], border: [] }, wordWrap: false });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
}

export function renderKeyValues(rows: Array<[string, Cell]>): string {
  const table = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of rows) table.push({ [k]: String(v) });
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
