/** The benchmark's table, as aligned text for the terminal and as markdown for RESULTS.md. */

const HEAD = ['measurement', 'median', 'ratio', 'target', ''];

function cells(row) {
  const status = row.okText ?? (row.ok === null || row.ok === undefined ? '' : row.ok ? 'met' : 'MISSED');
  return [row.what, row.value ?? '', row.ratioText ?? '', row.target ?? '', status];
}

function context(results) {
  const m = results.machine;
  return [
    `${m.cpus} × ${m.cpuModel ?? 'CPU'}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}; load average ${m.loadAtStart[0].toFixed(1)} at the start, ${m.loadAtEnd[0].toFixed(1)} at the end (a shared machine)`,
    results.tshark ? `${results.tshark}` : `tshark: ${results.tsharkNote}`,
    `${results.date}, ${results.durationSec} s; medians of ${results.options.runs} runs (tshark ${results.options.tsharkRuns}, memory at 1×/2×/4× ${results.options.rssRuns} each, in turn); ratios: medians of the ratios within each run`,
    ...(m.envRemoved?.length > 0
      ? [`timed processes ran without ${m.envRemoved.join(', ')}, set in this environment: node reads and parses that certificate file at every start (synprobe makes no TLS connection, tshark ignores it); the analyze row marked "kept" is timed with it`]
      : []),
  ];
}

export function renderTable(rows, results) {
  const all = [HEAD, ...rows.map(cells)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  ')];
  let section = null;
  for (const row of rows) {
    if (section !== null && row.section !== section) out.push('');
    section = row.section;
    out.push(line(cells(row)));
  }
  return [...out, '', ...context(results)].join('\n');
}

export function renderMarkdown(rows, results) {
  const escape = (s) => s.replace(/\|/g, '\\|');
  const out = [
    '# Benchmark results',
    '',
    'The last run of `npm run bench` (see bench/PERFORMANCE.md for what is measured and how).',
    '',
    `| ${HEAD.slice(0, 4).join(' | ')} | |`,
    '|---|---:|---:|---|---|',
    ...rows.map((row) => `| ${cells(row).map((c, i) => escape(i === 0 ? c.replace(/^ {2}/, '↳ ') : c)).join(' | ')} |`),
    '',
    ...context(results).map((l) => `${l}  `),
    '',
  ];
  return out.join('\n');
}
