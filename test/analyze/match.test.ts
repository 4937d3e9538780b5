/**
 * matchServerFlows pairs client attempts with server flows by ISN, the 4-tuple deciding among
 * server flows with the same ISN, each server flow used once. Its hash chains must give the plain
 * rule's answer whatever the tables: held here to a direct reading of the rule on random tables
 * (tables built in memory: a capture with chosen ISN collisions would take a packet writer for
 * each case, and the rule is about the tables alone).
 */
import { describe, expect, it } from 'vitest';
import { FlowTable } from '../../src/analyze/handshakes.js';
import { matchServerFlows } from '../../src/analyze/match.js';

interface Flow {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  isn: number;
}

function table(flows: Flow[]): FlowTable {
  const addresses: string[] = [];
  const number = (a: string): number => {
    const i = addresses.indexOf(a);
    return i >= 0 ? i : addresses.push(a) - 1;
  };
  const n = flows.length;
  return new FlowTable(
    n, addresses,
    Int32Array.from(flows, (f) => number(f.src)), Int32Array.from(flows, (f) => number(f.dst)),
    Uint16Array.from(flows, (f) => f.srcPort), Uint16Array.from(flows, (f) => f.dstPort),
    Uint32Array.from(flows, (f) => f.isn), new Float64Array(n).fill(NaN),
    new Int32Array(n * 3), new Int32Array(n * 3), new Float64Array(0), new Float64Array(0), new Int32Array(0), true,
  );
}

/** The rule, read directly: for each attempt in order, of the unused server flows with its ISN, the best score, the first of equals. */
function reference(client: Flow[], attempts: number[], server: Flow[]): number[] {
  const used = new Set<number>();
  const byIsn = new Map<number, number[]>();
  server.forEach((s, i) => byIsn.set(s.isn, [...(byIsn.get(s.isn) ?? []), i]));
  return attempts.map((c) => {
    const a = client[c];
    let best = -1;
    let bestScore = -1;
    for (const i of byIsn.get(a.isn) ?? []) {
      const s = server[i];
      if (used.has(i)) continue;
      const score = (a.dstPort === s.dstPort ? 4 : 0) + (a.srcPort === s.srcPort ? 2 : 0) + (a.src === s.src ? 1 : 0) + (a.dst === s.dst ? 1 : 0);
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    if (best >= 0) used.add(best);
    return best;
  });
}

/** A seeded PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('matchServerFlows', () => {
  it('gives what the rule gives on random tables: ISN collisions, NAT, lost and foreign flows, other orders', () => {
    let collisions = 0;
    let nat = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = random(seed);
      const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
      const n = 1 + Math.floor(rnd() * 60);
      // Few distinct ISNs in some tables: collisions, several server flows per ISN; big ones (unsigned > 2^31) too.
      const isns = rnd() < 0.5 ? [1, 2, 3, 0xfffffff0, 0x80000000] : Array.from({ length: 1000 }, () => Math.floor(rnd() * 2 ** 32));
      const client: Flow[] = Array.from({ length: n }, (_, i) => ({ src: pick(['10.0.0.1', '10.0.0.2']), srcPort: 40000 + i, dst: '10.0.1.1', dstPort: pick([8000, 8001]), isn: pick(isns) }));
      const server: Flow[] = [];
      for (const f of client) {
        if (rnd() < 0.15) continue; // lost: never reached the server
        const natted = rnd() < 0.2;
        if (natted) nat++;
        server.push(natted ? { ...f, src: '192.0.2.9', srcPort: 1024 + Math.floor(rnd() * 1000) } : { ...f });
        if (rnd() < 0.1) server.push({ src: '10.9.9.9', srcPort: 5555, dst: '10.0.1.1', dstPort: 8000, isn: pick(isns) }); // another host's flow
      }
      if (rnd() < 0.3) server.sort(() => rnd() - 0.5); // the server saw them in another order
      collisions += server.length - new Set(server.map((s) => s.isn)).size;
      const attempts = client.map((_, i) => i).filter(() => rnd() < 0.9);
      const got = Array.from(matchServerFlows(table(client), attempts, table(server)));
      expect(got, `seed ${seed}`).toEqual(reference(client, attempts, server));
    }
    expect(collisions).toBeGreaterThan(1000);
    expect(nat).toBeGreaterThan(500);
  });

  it('matches 100,000 attempts seen in order on both sides, and one the server never saw', () => {
    const n = 100_000;
    const rnd = random(7);
    const client: Flow[] = Array.from({ length: n }, (_, i) => ({ src: '10.0.0.1', srcPort: 1024 + (i % 60000), dst: '10.0.1.1', dstPort: 8000, isn: Math.floor(rnd() * 2 ** 32) }));
    const server = client.filter((_, i) => i !== 500);
    const matches = matchServerFlows(table(client), client.map((_, i) => i), table(server));
    expect(matches[500]).toBe(-1);
    expect(matches[499]).toBe(499);
    expect(matches[501]).toBe(500);
    expect(matches[n - 1]).toBe(n - 2);
    expect(Array.from(matches)).toEqual(reference(client, client.map((_, i) => i), server));
  }, 60_000);
});
