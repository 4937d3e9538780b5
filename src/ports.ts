/** Lists of TCP ports, as the commands take them (8000-8003, 8000,9000) and show them. */

/** Contiguous runs of the sorted, distinct ports: [8002,8000,8001,9000] → [[8000,8002],[9000,9000]]. */
export function portRuns(ports: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push([sorted[i]!, sorted[j]!]);
    i = j;
  }
  return runs;
}

/** Contiguous runs shown as ranges: [8000,8001,8002,9000] → "8000-8002,9000". */
export function formatPorts(ports: readonly number[]): string {
  return portRuns(ports).map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(',');
}

/** "port 8000", "ports 8000-8003" */
export function describePorts(ports: readonly number[]): string {
  return `${ports.length === 1 ? 'port' : 'ports'} ${formatPorts(ports)}`;
}
