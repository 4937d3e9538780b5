/** The plain verdict sentence a user pastes, from the first failing attempt (or the whole run). */
import type { Attempt, Summary } from './types.js';
import { describePorts } from '../ports.js';
import { formatInteger } from '../numbers.js';
import { endpoint } from '../address.js';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatInteger(n)} ${n === 1 ? one : many}`;
}

function spanSeconds(a: Attempt): string {
  const last = a.synSentTimes[a.synSentTimes.length - 1];
  return `${((last?.relMs ?? 0) / 1000).toFixed(1)} s`;
}

function whileOpen(ceiling: number | null): string {
  return ceiling === null ? '' : ` while ${plural(ceiling, 'connection was', 'connections were')} established`;
}

export function describeAttempt(a: Attempt, ceiling: number | null): string {
  const from = endpoint(a.client.src, a.client.srcPort);
  const to = endpoint(a.client.dst, a.client.dstPort);
  const head = `Attempt ${formatInteger(a.index)}`;
  const sent = `${plural(a.synSent, 'SYN transmission')} left ${from}${a.synSent > 1 ? ` over ${spanSeconds(a)}` : ''}`;
  switch (a.verdict) {
    case 'lost-in-path':
      return `${head}: ${sent} and none reached ${to}${whileOpen(ceiling)}. Packets were lost in the network path between the two capture points.`;
    case 'synack-lost':
      return `${head}: ${sent}; the server received ${a.synSeen} and answered with ${plural(a.synAckSent ?? 0, 'SYN-ACK')}, none of which reached the client${whileOpen(ceiling)}. The replies were lost in the network path on the way back.`;
    case 'unanswered-at-server':
      return `${head}: ${sent}; the server's capture shows ${a.synSeen} of them arriving, and the server never answered${whileOpen(ceiling)}. The SYNs were dropped on the server host itself (full listen queue or a host firewall: compare TcpExtListenOverflows and TcpExtListenDrops).`;
    case 'refused':
      if (a.synSeen === 0) {
        return `${head} was refused: a RST came back for ${to}${whileOpen(ceiling)}, but the server's capture never saw the SYN, so something in the path (a firewall or middlebox) rejected it.`;
      }
      return `${head} was refused: ${to} answered the SYN with a RST${whileOpen(ceiling)} (nothing listening on that port, or a firewall rejecting).`;
    case 'no-reply':
      return `${head}: ${sent} and no reply reached the client${whileOpen(ceiling)}. Without a capture on the server, where the SYNs died cannot be told.`;
    case 'outside-capture':
      return `${head}: ${sent} and got no reply${whileOpen(ceiling)}; no verdict is possible: ${a.reason ?? 'outside the captures'}.`;
    case 'established-after-loss':
      return `${head} was established after ${plural(a.synSent, 'SYN transmission')}${a.synSeen !== null ? `, of which the server saw ${a.synSeen}` : ''}.`;
    case 'established':
      return `${head} was established.`;
  }
}

export function summarize(
  attempts: Attempt[],
  summary: Omit<Summary, 'sentence' | 'pathLoss'>,
  firstFailed: Attempt | null,
  hasServerCapture: boolean,
): string {
  if (attempts.length === 0) {
    return `No connection attempt to ${describePorts(summary.ports ?? [summary.port])} was found in the client capture.`;
  }
  if (firstFailed !== null) return describeAttempt(firstFailed, summary.ceiling);
  const after = summary.verdicts['established-after-loss'];
  const all = `All ${plural(summary.attempts, 'attempt')} were established`;
  if (after > 0 && !hasServerCapture) {
    return `${all}, but ${plural(after, 'attempt')} needed retransmitted SYNs (a capture on the server would show where the copies died).`;
  }
  if (after > 0) {
    return `${all}, but ${plural(after, 'attempt')} needed retransmitted SYNs: ${plural(summary.lostSynTransmissions, 'SYN copy', 'SYN copies')} ${summary.lostSynTransmissions === 1 ? 'was' : 'were'} lost between the capture points and retried.`;
  }
  const limit = summary.clientLimit;
  if (limit) {
    const why = limit.code === 'EADDRNOTAVAIL' || limit.code === 'EADDRINUSE' ? 'no free local port' : limit.code === 'EMFILE' || limit.code === 'ENFILE' ? 'no file descriptor left' : 'a limit of the client';
    return `${all} and nothing was lost between the capture points; attempt ${formatInteger(limit.attempt)} sent no SYN: `
      + `the client host refused it (${limit.code}: ${why}) with ${plural(summary.established, 'connection')} open, a limit of the client, not of the path.`;
  }
  return `${all} and nothing was lost between the capture points.`;
}
