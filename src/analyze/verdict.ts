/**
 * The verdict of one attempt from what each capture shows (design.md, "Vocabulary"). Loss is
 * only claimed when both captures covered the attempt and neither reported kernel drops.
 */
import { RST, SYN, SYN_ACK, type FlowTable } from './handshakes.js';
import { VERDICTS, type Verdict } from './types.js';

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

function coverageGap(client: FlowTable, c: number, ctx: VerdictContext): string | null {
  const start = client.start(c, SYN);
  const end = start + client.count(c, SYN);
  for (let i = start; i < end; i++) {
    const t = client.times[i];
    // A SYN sent at t reaches the server no earlier than t (in the client's clock, within the
    // offset's slack), and no later than t plus the path delay.
    if (t - ctx.clockSlackNs < ctx.serverStartC) return 'sent before the server capture started';
    if (t + ctx.clockSlackNs + ctx.pathDelayNs > ctx.serverEndC) return 'sent after the server capture stopped';
  }
  return null;
}

/** The verdicts that need no reason, shared. */
const PLAIN = Object.freeze(Object.fromEntries(VERDICTS.map((v) => [v, Object.freeze({ verdict: v, reason: null })]))) as Readonly<Record<Verdict, VerdictResult>>;

/**
 * The verdict of client flow `c`, seen as server flow `s` of the server capture (-1: no trace of
 * it there, or no server capture). The result may be shared: do not change it.
 */
export function classifyAttempt(client: FlowTable, c: number, server: FlowTable | null, s: number, ctx: VerdictContext): VerdictResult {
  const established = client.count(c, SYN_ACK) > 0;
  const refused = !established && client.count(c, RST) > 0;
  const synSent = client.count(c, SYN);

  if (!ctx.hasServerCapture) {
    if (established) {
      return synSent > 1
        ? { verdict: 'established-after-loss', reason: `${synSent - 1} SYN retransmission(s) before the SYN-ACK; without a server capture the loss cannot be placed` }
        : PLAIN['established'];
    }
    if (refused) return PLAIN['refused'];
    return { verdict: 'no-reply', reason: 'no reply reached the client; without a server capture synprobe cannot say where the SYNs died' };
  }

  if (server !== null && s >= 0) {
    const synLost = server.count(s, SYN) < synSent;
    const synAckLost = server.count(s, SYN_ACK) > client.count(c, SYN_ACK);
    if (established) {
      if (!synLost && !synAckLost) return PLAIN['established'];
      if (ctx.blocker !== null) return { verdict: 'outside-capture', reason: ctx.blocker };
      return PLAIN['established-after-loss'];
    }
    if (refused) return PLAIN['refused'];
    if (ctx.blocker !== null) return { verdict: 'outside-capture', reason: ctx.blocker };
    if (server.count(s, SYN_ACK) > 0 || server.count(s, RST) > 0) return PLAIN['synack-lost'];
    return PLAIN['unanswered-at-server'];
  }

  // No trace at the server: coverage decides.
  if (refused) return PLAIN['refused'];
  if (ctx.offsetNs === null) {
    return established
      ? { verdict: 'established', reason: 'no trace in the server capture, and no clock offset to check its coverage' }
      : { verdict: 'outside-capture', reason: 'no attempt appears in both captures, so the clock offset and the server capture\'s coverage are unknown (pass --clock-offset if the clocks are known to agree)' };
  }
  const gap = coverageGap(client, c, ctx);
  if (gap !== null) return established ? { verdict: 'established', reason: `${gap}: not in the server capture` } : { verdict: 'outside-capture', reason: gap };
  if (established) return { verdict: 'established', reason: 'established, yet the server capture shows no trace of it (another host or interface? a middlebox rewriting sequence numbers?)' };
  if (ctx.blocker !== null) return { verdict: 'outside-capture', reason: ctx.blocker };
  return PLAIN['lost-in-path'];
}
