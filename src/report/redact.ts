/**
 * Replaces every IP and MAC address in a result, consistently: the client's addresses become
 * client-N, the peer's server-N, addresses the server saw instead of the client's (NAT) nat-N,
 * anything else host-N / mac-N. Works on every string, so sentences and warnings are covered too.
 */
import { basename } from 'node:path';
import { isIP } from 'node:net';
import type { AnalysisResult } from '../analyze/types.js';

const MAC = /\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\b/g;
const IPV4 = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g;
const IPV6_CANDIDATE = /(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[A-Za-z0-9_.-]+)?(?![0-9A-Za-z:])/g;

export class Redactor {
  private readonly names = new Map<string, string>();
  private readonly counters = new Map<string, number>();

  name(addr: string, role: string): string {
    const known = this.names.get(addr);
    if (known !== undefined) return known;
    const n = (this.counters.get(role) ?? 0) + 1;
    this.counters.set(role, n);
    const label = `${role}-${n}`;
    this.names.set(addr, label);
    return label;
  }

  text(s: string): string {
    return s
      .replace(MAC, (m) => this.name(m.toLowerCase(), 'mac'))
      .replace(IPV6_CANDIDATE, (m) => (isIP(m.split('%')[0]) === 6 ? this.name(m, 'host') : m))
      .replace(IPV4, (m) => (isIP(m) === 4 ? this.name(m, 'host') : m));
  }
}

function mapStrings<T>(value: T, f: (s: string) => string): T {
  if (typeof value === 'string') return f(value) as T;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapStrings(v, f);
    return out as T;
  }
  return value;
}

export function redactResult(result: AnalysisResult, redactor = new Redactor()): AnalysisResult {
  for (const a of result.attempts) {
    redactor.name(a.client.src, 'client');
    redactor.name(a.client.dst, 'server');
    if (a.server) {
      redactor.name(a.server.src, 'nat');
      redactor.name(a.server.dst, 'server');
    }
  }
  if (result.summary.peer) redactor.name(result.summary.peer, 'server');
  const copy = mapStrings(result, (s) => redactor.text(s));
  for (const c of copy.captures) c.file = basename(c.file);
  return copy;
}
