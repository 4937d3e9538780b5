/**
 * Replaces every IP and MAC address in a result, consistently: the client's addresses become
 * client-N, the peer's server-N, addresses the server saw instead of the client's (NAT) nat-N,
 * anything else host-N / mac-N. Works on every string, so sentences and warnings are covered too.
 */
import { basename } from 'node:path';
import { isIP } from 'node:net';
import type { AnalysisResult } from '../analyze/types.js';
import { AttemptRecord } from '../analyze/attempts.js';

/** aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff. */
const MAC = /\b[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}\b/g;
/**
 * A dotted quad not inside a longer run of dotted numbers (a version 1.2.3.4.5), but followed by
 * anything else: a sentence's full stop, ".pcap" in a file name, ":port".
 */
const IPV4 = /(?<!\d)(?<!\d\.)\d{1,3}(?:\.\d{1,3}){3}(?!\d)(?!\.\d)/g;
/** Groups of hex digits with 2-7 colons, ending in a group or a dotted quad (::ffff:192.0.2.1), with a zone. */
const IPV6_CANDIDATE =
  /(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)|[0-9A-Fa-f]{0,4})(?:%[A-Za-z0-9_.-]+)?(?![0-9A-Za-z:])/g;

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

  /**
   * IPv6 goes first: a MAC pattern matches the first six groups of fe:80:1:2:3:4:5:6, and an IPv4
   * one the tail of ::ffff:192.0.2.1.
   */
  text(s: string): string {
    return s
      .replace(IPV6_CANDIDATE, (m) => (isIP(m.split('%')[0]) === 6 ? this.name(m.toLowerCase(), 'host') : m))
      .replace(MAC, (m) => this.name(m.toLowerCase().replaceAll('-', ':'), 'mac'))
      .replace(IPV4, (m) => (isIP(m) === 4 ? this.name(m, 'host') : m));
  }
}

function mapStrings<T>(value: T, f: (s: string) => string): T {
  if (typeof value === 'string') return f(value) as T;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f)) as T;
  if (value instanceof AttemptRecord) {
    // Its other strings are the verdict and ISO times, which hold no address: a record over the
    // same times, with the 4-tuples and reason replaced, instead of a copy of every field.
    const server = value.server;
    return value.renamed(mapStrings(value.client, f), server === null ? null : mapStrings(server, f), value.reason === null ? null : f(value.reason)) as T;
  }
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
