/** Shared by the picture tests: the fixture scenarios, their analyses, and SVG structure probes. */
import { fileURLToPath } from 'node:url';
import { analyzeCaptures } from '../../src/analyze/index.js';
import type { AnalysisResult, Attempt } from '../../src/analyze/types.js';

export const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Scenario {
  name: string;
  client: string;
  server: string | null;
}

export const scenarios: Scenario[] = [
  { name: 'path-cap', client: 'path-cap-client.pcap', server: 'path-cap-server.pcap' },
  { name: 'synack-lost', client: 'synack-lost-client.pcap', server: 'synack-lost-server.pcap' },
  { name: 'server-drop', client: 'server-drop-client.pcap', server: 'server-drop-server.pcap' },
  { name: 'refused', client: 'refused-client.pcap', server: 'refused-server.pcap' },
  { name: 'lossy', client: 'lossy-client.pcap', server: 'lossy-server.pcap' },
  { name: 'nat', client: 'nat-client.pcap', server: 'nat-server.pcap' },
  { name: 'ipv6', client: 'ipv6-client.pcap', server: 'ipv6-server.pcap' },
  { name: 'sll2-ns', client: 'sll2-ns-client.pcap', server: 'sll2-ns-server.pcapng' },
  { name: 'client capture alone', client: 'path-cap-client.pcap', server: null },
];

const cache = new Map<string, Promise<AnalysisResult>>();

export function analyze(s: Scenario): Promise<AnalysisResult> {
  let p = cache.get(s.name);
  if (!p) {
    p = analyzeCaptures({ clientFile: fixtures + s.client, serverFile: s.server ? fixtures + s.server : null });
    cache.set(s.name, p);
  }
  return p;
}

/** The lines of one `<g class="attempt" data-index="N">` block (rows are one line each). */
export function attemptBlock(svg: string, index: number): string {
  const lines = svg.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`<g class="attempt" data-index="${index}"`));
  if (start < 0) return '';
  const end = lines.indexOf('</g>', start);
  return lines.slice(start, end + 1).join('\n');
}

export function count(text: string, re: RegExp): number {
  return (text.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g')) ?? []).length;
}

/** SYN copies the client sent and SYN / SYN-ACK copies that never reached the other capture point. */
export function expectedMarks(a: Attempt, hasServer: boolean): { synSent: number; lost: number } {
  const lostSyn = hasServer ? a.synSentTimes.filter((t) => t.match === null).length : 0;
  const lostSynAck = a.synAckSentTimes.filter((t) => t.match === null).length;
  return { synSent: a.synSentTimes.length, lost: lostSyn + lostSynAck };
}

/** Every address a result names (4-tuples on both sides, the peer). */
export function addressesOf(r: AnalysisResult): string[] {
  const set = new Set<string>();
  for (const a of r.attempts) {
    set.add(a.client.src);
    set.add(a.client.dst);
    if (a.server) {
      set.add(a.server.src);
      set.add(a.server.dst);
    }
  }
  if (r.summary.peer) set.add(r.summary.peer);
  return [...set];
}
