/**
 * Pairs each client attempt with the server's view of it. The ISN survives NAT; addresses and
 * ports may not. Among server flows with the same ISN, the one agreeing on more of the 4-tuple
 * wins, then the one nearest in order; each server flow is used once.
 */
import type { Flow } from './handshakes.js';

function agreement(client: Flow, server: Flow): number {
  return (
    (client.dstPort === server.dstPort ? 4 : 0) +
    (client.srcPort === server.srcPort ? 2 : 0) +
    (client.src === server.src ? 1 : 0) +
    (client.dst === server.dst ? 1 : 0)
  );
}

export function matchServerFlows(attempts: Flow[], serverFlows: Flow[]): Map<Flow, Flow> {
  const byIsn = new Map<number, Flow[]>();
  for (const f of serverFlows) {
    const list = byIsn.get(f.isn);
    if (list === undefined) byIsn.set(f.isn, [f]);
    else list.push(f);
  }
  const used = new Set<Flow>();
  const matches = new Map<Flow, Flow>();
  for (const attempt of attempts) {
    const candidates = byIsn.get(attempt.isn);
    if (candidates === undefined) continue;
    let best: Flow | undefined;
    let bestScore = -1;
    for (const c of candidates) {
      if (used.has(c)) continue;
      const score = agreement(attempt, c);
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
    if (best !== undefined) {
      used.add(best);
      matches.set(attempt, best);
    }
  }
  return matches;
}
