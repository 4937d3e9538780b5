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

/** The kernel's ephemeral ports: net.ipv4.ip_local_port_range and, within it, ip_local_reserved_ports. */
export interface LocalPortRange { low: number; high: number; reserved?: ReadonlySet<number> }

/**
 * Reads the two sysctl texts ("32768\t60999" and "8000,9000-9010"); reserved ports outside the
 * range are left out. null when the range is not two numbers.
 */
export function parseLocalPortRange(range: string | null | undefined, reserved: string | null | undefined): Required<LocalPortRange> | null {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(range ?? '');
  if (!m) return null;
  const low = Number(m[1]);
  const high = Number(m[2]);
  const set = new Set<number>();
  for (const part of (reserved ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const r = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!r) continue;
    for (let p = Math.max(low, Number(r[1])); p <= Math.min(high, Number(r[2] ?? r[1])); p++) set.add(p);
  }
  return { low, high, reserved: set };
}
