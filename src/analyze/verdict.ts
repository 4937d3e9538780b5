/**
 * The verdict of one attempt from what each capture shows (design.md, "Vocabulary"). Loss is
 * only claimed when both captures covered the attempt and neither reported kernel drops.
 */
import type { Flow } from './handshakes.js';
import type { Verdict } from './types.js';

export interface VerdictContext {
  hasServerCapture: boolean;
  /** Server clock minus client clock, ns; null when it could not be measured. */
  offsetNs: number | null;
  /** Half-width of the clock-offset uncertainty, ns: applies at both coverage bounds. */
  clockSlackNs: number;
  /** Path delay allowed at the end bound, ns: a SYN sent just before the stop arrives after it. */
  pathDelayNs: number;
  /** Server capture coverage mapped to the client's clock (relative ns). */
  serverStartC: number;
  serverEndC: number;
  /** Why the server capture cannot support a claim of loss, or null (kernel drops, no correlation). */
  blocker: string | null;
}

export interface VerdictResult {
  verdict: Verdict;
  reason: string | null;
}

function coverageGap(times: number[], ctx: VerdictContext): string | null {
  for (const t of times) {
    // A SYN sent at t reaches the server no earlier than t (in the client's clock, within the
    // offset's slack), and no later than t plus the path delay.
    if (t - ctx.clockSlackNs < ctx.serverStartC) return 'sent before the server capture started';
    if (t + ctx.clockSlackNs + ctx.pathDelayNs > ctx.serverEndC) return 'sent after the server capture stopped';
  }
  return null;
}

export function classifyAttempt(client: Flow, server: Flow | undefined, ctx: VerdictContext): VerdictResult {
  const established = client.synAck.times.length > 0;
  const refused = !established && client.rst.times.length > 0;
  const synSent = client.syn.times.length;

  if (!ctx.hasServerCapture) {
    if (established) {
      return synSent > 1
        ? { verdict: 'established-after-loss', reason: `${synSent - 1} SYN retransmission(s) before the SYN-ACK; without a server capture the loss cannot be placed` }
        : { verdict: 'established', reason: null };
    }
    if (refused) return { verdict: 'refused', reason: null };
    return { verdict: 'no-reply', reason: 'no reply reached the client; without a server capture synprobe cannot say where the SYNs died' };
  }

  if (server !== undefined) {
    const synLost = server.syn.times.length < synSent;
    const synAckLost = server.synAck.times.length > client.synAck.times.length;
    if (established) {
      if (!synLost && !synAckLost) return { verdict: 'established', reason: null };
      if (ctx.blocker !== null) return { verdict: 'outside-capture', reason: ctx.blocker };
      return { verdict: 'established-after-loss', reason: null };
    }
    if (refused) return { verdict: 'refused', reason: null };
    if (ctx.blocker !== null) return { verdict: 'outside-capture', reason: ctx.blocker };
    if (server.synAck.times.length > 0 || server.rst.times.length > 0) return { verdict: 'synack-lost', reason: null };
    return { verdict: 'unanswered-at-server', reason: null };
  }

  // No trace at the server: coverage decides.
  if (refused) return { verdict: 'refused', reason: null };
  if (ctx.offsetNs === null) {
    return established
      ? { verdict: 'established', reason: 'no trace in the server capture, and no clock offset to check its coverage' }
      : { verdict: 'outside-capture', reason: 'no attempt appears in both captures, so the clock offset and the server capture\'s coverage are unknown (pass --clock-offset if the clocks are known to agree)' };
  }
  const gap = coverageGap(client.syn.times, ctx);
  if (gap !== null) return established ? { verdict: 'established', reason: `${gap}: not in the server capture` } : { verdict: 'outside-capture', reason: gap };
  if (established) return { verdict: 'established', reason: 'established, yet the server capture shows no trace of it (another host or interface? a middlebox rewriting sequence numbers?)' };
  if (ctx.blocker !== null) return { verdict: 'outside-capture', reason: ctx.blocker };
  return { verdict: 'lost-in-path', reason: null };
}
