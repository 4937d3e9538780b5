/** Small formatting helpers shared by every report format. */
import type { Attempt, CaptureFacts, FourTuple, Summary, Verdict } from '../analyze/types.js';
import { describePorts } from '../ports.js';
import { formatInteger } from '../numbers.js';
import { endpoint } from '../address.js';


export function formatTuple(t: FourTuple | null): string {
  if (t === null) return '—';
  return `${endpoint(t.src, t.srcPort)} → ${endpoint(t.dst, t.dstPort)}`;
}

export function formatCount(n: number | null): string {
  return n === null ? '—' : formatInteger(n);
}

export function formatMs(ms: number | null, digits = 3): string {
  if (ms === null) return '—';
  const sign = ms < 0 ? '-' : '+';
  return `${sign}${(Math.abs(ms) / 1000).toFixed(digits)} s`;
}

export function formatOffset(s: Summary): string {
  if (s.clockOffsetMs === null) return 'unknown (no attempt seen in both captures)';
  const unc = s.clockOffsetUncertaintyMs ? ` ± ${s.clockOffsetUncertaintyMs.toFixed(3)} ms` : '';
  const how = s.clockOffsetMethod === 'round-trip' ? 'from SYN and SYN-ACK round trips'
    : s.clockOffsetMethod === 'one-way' ? 'from SYNs only: includes the one-way delay'
    : s.clockOffsetMethod === 'option' ? 'given on the command line' : '';
  return `server clock ${s.clockOffsetMs >= 0 ? 'ahead by' : 'behind by'} ${Math.abs(s.clockOffsetMs).toFixed(3)} ms${unc} (${how})`;
}

export function verdictCounts(s: Summary): string {
  return (Object.entries(s.verdicts) as Array<[Verdict, number]>)
    .filter(([, n]) => n > 0)
    .map(([v, n]) => `${v} ${formatInteger(n)}`)
    .join(', ') || 'none';
}

export function summaryRows(s: Summary, hasServer: boolean): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['Attempts', `${formatCount(s.attempts)} to ${describePorts(s.ports ?? [s.port])}${s.portChosen === 'most-syns' ? ' (the port with the most SYNs; --port to choose)' : ''}`],
    ['Established', formatCount(s.established)],
    ['Ceiling', s.ceiling === null ? 'none: no attempt failed' : `${formatCount(s.ceiling)} connections open when attempt ${formatCount(s.firstFailedAttempt)} was sent`],
    ['Verdicts', verdictCounts(s)],
  ];
  if (hasServer) {
    rows.push(['SYN copies lost', `${formatCount(s.lostSynTransmissions)} sent by the client and never seen at the server`]);
    if (s.lostSynAckTransmissions > 0) rows.push(['SYN-ACK copies lost', `${formatCount(s.lostSynAckTransmissions)} sent by the server and never seen at the client`]);
    rows.push(['Clock offset', formatOffset(s)]);
    rows.push(['Both captures cover', s.commonSpan
      ? `${s.commonSpan.start} … ${s.commonSpan.end} (${(s.commonSpan.durationMs / 1000).toFixed(3)} s, client clock)${s.commonSpan.endAssumed ? ', server stop assumed' : ''}`
      : 'no common span']);
  }
  return rows;
}

export const PAIR_HEAD = ['source', 'port', 'attempts', 'established', 'open at the first failure'];

/** One row per (client source address, destination port) pair; [] with a single pair. */
export function pairRows(s: Summary): string[][] {
  return (s.pairs ?? []).map((p) => [
    p.source,
    String(p.port),
    formatCount(p.attempts),
    formatCount(p.established),
    p.ceiling === null ? '—' : `${formatCount(p.ceiling)}${p.failedHere ? ' (the first failure was here)' : ''}`,
  ]);
}

export function decodeProblems(c: CaptureFacts): string {
  const d = c.decode;
  const parts = [
    d.truncated ? `${d.truncated} truncated` : '',
    d.malformed ? `${d.malformed} malformed` : '',
    d.unsupportedLink ? `${d.unsupportedLink} unsupported link` : '',
    d.optionsTruncated ? `${d.optionsTruncated} with TCP options cut by the snap length` : '',
    d.untimed ? `${d.untimed} without timestamp` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

export function captureRows(c: CaptureFacts): Array<[string, string]> {
  const format = `${c.format}${c.format === 'pcap' ? (c.nanosecond ? ' (ns)' : ' (µs)') : ''}, ${c.byteOrder}`;
  return [
    ['File', c.file],
    ['Format', format],
    ['Link type', c.linkTypes.join(', ') || '—'],
    ['Snap length', c.snapLen ? String(c.snapLen) : 'unlimited'],
    ['Packets', `${formatCount(c.packets)} (${formatCount(c.synPackets)} SYN, ${formatCount(c.synAckPackets)} SYN-ACK)`],
    ['Decode problems', decodeProblems(c)],
    ['First packet', c.firstPacketAt ?? '—'],
    ['Last packet', c.lastPacketAt ?? '—'],
    ['Covers from', `${c.coverStart ?? '—'} (${c.coverStartSource ?? '—'})`],
    ['Covers to', `${c.coverEnd ?? '—'} (${c.coverEndSource ?? '—'})`],
    ['Kernel drops', c.kernelDrops === null ? 'unknown' : `${c.kernelDrops} (${c.kernelDropsSource})`],
    ['Read', c.readProblem ? `${c.readProblem.kind} at byte offset ${c.readProblem.offset}: ${c.readProblem.message}` : 'complete'],
  ];
}

/** One row per fact, one column per capture. */
export function captureColumns(captures: CaptureFacts[]): { head: string[]; rows: string[][] } {
  const per = captures.map(captureRows);
  return {
    head: ['', ...captures.map((c) => `${c.role} capture`)],
    rows: per[0].map(([label], i) => [label, ...per.map((rows) => rows[i][1])]),
  };
}

export function notEstablished(attempts: Attempt[]): Attempt[] {
  return attempts.filter((a) => a.verdict !== 'established');
}

export function attemptRow(a: Attempt): string[] {
  return [
    String(a.index),
    formatTuple(a.client),
    formatTuple(a.server),
    String(a.isn),
    `${a.synSent} / ${a.synSeen ?? '—'}`,
    `${a.synAckSent ?? '—'} / ${a.synAckSeen}`,
    a.verdict,
  ];
}

export const ATTEMPT_HEAD = ['#', 'client 4-tuple', 'server 4-tuple', 'ISN', 'SYN sent/seen', 'SYN-ACK sent/seen', 'verdict'];
