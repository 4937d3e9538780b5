/**
 * Pairs each client attempt with the server's view of it. The ISN survives NAT; addresses and
 * ports may not. Among server flows with the same ISN, the one agreeing on more of the 4-tuple
 * wins, then the one nearest in order; each server flow is used once.
 */
import type { FlowTable } from './handshakes.js';

/** A 32-bit mix of an ISN (murmur3's finalizer). */
function hashIsn(isn: number): number {
  let h = Math.imul(isn, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/** For each address number of `server`, the number of the same address in `client`, or -1. */
function addressMap(client: FlowTable, server: FlowTable): Int32Array {
  const numbers = new Map<string, number>();
  client.addresses.forEach((a, i) => numbers.set(a, i));
  return Int32Array.from(server.addresses, (a) => numbers.get(a) ?? -1);
}

/**
 * For each attempt (client flow numbers, in order), the server flow that is the same attempt, or
 * -1: an array parallel to `attempts`. Server flows are chained by ISN in hash buckets (typed
 * arrays, no object per flow), each chain in flow order.
 */
export function matchServerFlows(client: FlowTable, attempts: ArrayLike<number>, server: FlowTable): Int32Array {
  const n = server.length;
  let buckets = 1;
  while (buckets < 2 * n) buckets *= 2;
  const mask = buckets - 1;
  const head = new Int32Array(buckets).fill(-1);
  const next = new Int32Array(n);
  // ISNs compared and hashed as signed 32-bit numbers (the same bits): small integers for V8.
  const sIsn = new Int32Array(server.isn.buffer, server.isn.byteOffset, n);
  // Pushed from the last flow to the first: each chain then runs in flow order.
  for (let s = n - 1; s >= 0; s--) {
    const b = hashIsn(sIsn[s]) & mask;
    next[s] = head[b];
    head[b] = s;
  }
  // Addresses compared by number: the server's numbered as the client's.
  const toClient = addressMap(client, server);
  const { srcAddr: cSrc, dstAddr: cDst, srcPort: cSrcPort, dstPort: cDstPort } = client;
  const cIsn = new Int32Array(client.isn.buffer, client.isn.byteOffset, client.length);
  const { srcAddr: sSrc, dstAddr: sDst, srcPort: sSrcPort, dstPort: sDstPort } = server;
  const used = new Uint8Array(n);
  const matches = new Int32Array(attempts.length).fill(-1);
  for (let i = 0; i < attempts.length; i++) {
    const c = attempts[i];
    const isn = cIsn[c];
    let best = -1;
    let bestScore = -1;
    for (let s = head[hashIsn(isn) & mask]; s >= 0; s = next[s]) {
      if (sIsn[s] !== isn || used[s] !== 0) continue;
      const score =
        (cDstPort[c] === sDstPort[s] ? 4 : 0) +
        (cSrcPort[c] === sSrcPort[s] ? 2 : 0) +
        (cSrc[c] === toClient[sSrc[s]] ? 1 : 0) +
        (cDst[c] === toClient[sDst[s]] ? 1 : 0);
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    if (best >= 0) {
      used[best] = 1;
      matches[i] = best;
    }
  }
  return matches;
}
