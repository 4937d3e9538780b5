/**
 * The attempts of an analysis as records over the handshake tables. A record holds its counts,
 * verdict and 4-tuples; its times (closedAt and the four transmission lists, with their ISO-8601
 * text) are computed from the tables each time they are read, and never stored: 100,000 attempts
 * cost about 25 MB instead of 170 MB, and reports that show a few attempts format only those.
 *
 * A record reads like the plain Attempt it stands for: property access and JSON.stringify (through
 * toJSON: the same keys in the same order). Its own data properties are the counts, index, ISN,
 * verdict and reason; the 4-tuples and the times are getters, which structuredClone, spread and
 * Object.entries do not copy: use JSON (or toJSON()) for a deep copy.
 */
import { RST, SYN, SYN_ACK, type CopyKind, type FlowTable } from './handshakes.js';
import { pairCopies } from './clock.js';
import { classifyAttempt, type VerdictContext } from './verdict.js';
import { VERDICTS, type Attempt, type FourTuple, type Transmission, type Verdict } from './types.js';
import type { TimeBase } from './time.js';

/** What the records of one analysis read their times from. */
export interface AttemptSource {
  client: FlowTable;
  server: FlowTable | null;
  time: TimeBase;
  /** Server clock minus client clock (ns), to place server times in the client's clock; 0 when unknown. */
  offsetNs: number;
}

function tuple(t: FlowTable, f: number): FourTuple {
  return { src: t.src(f), srcPort: t.srcPort[f], dst: t.dst(f), dstPort: t.dstPort[f] };
}

/** For each copy of flow `fa`'s kind `ka` in `a`: the position of the same transmission among `fb`'s copies of kind `kb` in `b`, or -1. */
function pairsOf(a: FlowTable, fa: number, ka: CopyKind, b: FlowTable, fb: number, kb: CopyKind): Int32Array {
  const aToB = new Int32Array(a.count(fa, ka));
  pairCopies(a, a.start(fa, ka), aToB.length, b, b.start(fb, kb), b.count(fb, kb), aToB);
  return aToB;
}

/** The other direction of pairsOf's answer, for `length` copies. */
function inverse(aToB: Int32Array, length: number): Int32Array {
  const bToA = new Int32Array(length).fill(-1);
  for (let i = 0; i < aToB.length; i++) if (aToB[i] >= 0) bToA[aToB[i]] = i;
  return bToA;
}

/**
 * Flow `f`'s copies of kind `k` as transmissions: `origin` is the attempt's first SYN (client
 * clock), `shiftNs` moves this capture's times to the client's clock, `match` gives each copy's
 * position in the other capture's list (null: no match known).
 */
function transmissions(t: FlowTable, f: number, k: CopyKind, time: TimeBase, origin: number, shiftNs: number, match: Int32Array | null): Transmission[] {
  const start = t.start(f, k);
  const count = t.count(f, k);
  const list: Transmission[] = [];
  for (let i = 0; i < count; i++) {
    const ns = t.times[start + i];
    const tsVal = t.tsVals[start + i];
    const ipId = t.ipIds[start + i];
    const m = match === null ? -1 : match[i];
    list.push({
      at: time.iso(ns),
      relMs: Math.round((ns - shiftNs - origin) / 1e3) / 1e3,
      tsVal: tsVal >= 0 ? tsVal : null,
      ipId: ipId >= 0 ? ipId : null,
      match: m >= 0 ? m : null,
    });
  }
  return list;
}

export class AttemptRecord implements Attempt {
  index: number;
  isn: number;
  verdict: Verdict;
  reason: string | null;
  synSent: number;
  synSeen: number | null;
  synAckSent: number | null;
  synAckSeen: number;
  rstSeen: number;
  established: boolean;
  readonly #source: AttemptSource;
  /** The client flow, and the server flow (-1: none). */
  readonly #c: number;
  #s = -1;

  /**
   * What the client capture says of flow `c`; the rest (verdict, the server's counts) comes with
   * settle(), once the server capture is read: records can be made while it still is.
   */
  constructor(source: AttemptSource, index: number, c: number) {
    const { client } = source;
    this.index = index;
    this.isn = client.isn[c];
    this.verdict = 'no-reply';
    this.reason = null;
    this.synSent = client.count(c, SYN);
    this.synSeen = null;
    this.synAckSent = null;
    this.synAckSeen = client.count(c, SYN_ACK);
    this.rstSeen = client.count(c, RST);
    this.established = this.synAckSeen > 0;
    this.#source = source;
    this.#c = c;
  }

  /** The verdict, and the server flow `s` (-1: none) of `source.server` (null: no server capture). */
  settle(verdict: Verdict, reason: string | null, s: number): this {
    const { server } = this.#source;
    this.verdict = verdict;
    this.reason = reason;
    this.synSeen = server === null ? null : s >= 0 ? server.count(s, SYN) : 0;
    this.synAckSent = server === null ? null : s >= 0 ? server.count(s, SYN_ACK) : 0;
    this.#s = s;
    return this;
  }

  get client(): FourTuple {
    return tuple(this.#source.client, this.#c);
  }

  /** The same attempt as the server saw it (may differ behind NAT); null when the server capture has no trace of it. */
  get server(): FourTuple | null {
    const { server } = this.#source;
    return server !== null && this.#s >= 0 ? tuple(server, this.#s) : null;
  }

  /** FIN or RST seen on the connection after it was established (ISO, client clock), or null. */
  get closedAt(): string | null {
    const ns = this.#source.client.closedNs[this.#c];
    return Number.isNaN(ns) ? null : this.#source.time.iso(ns);
  }

  get synSentTimes(): Transmission[] {
    const { client, server, time } = this.#source;
    const c = this.#c;
    const toServer = server !== null && this.#s >= 0 ? pairsOf(client, c, SYN, server, this.#s, SYN) : null;
    return transmissions(client, c, SYN, time, client.firstTime(c, SYN), 0, toServer);
  }

  get synSeenTimes(): Transmission[] {
    const { client, server, time, offsetNs } = this.#source;
    const c = this.#c;
    const s = this.#s;
    if (server === null || s < 0) return [];
    const toClient = inverse(pairsOf(client, c, SYN, server, s, SYN), server.count(s, SYN));
    return transmissions(server, s, SYN, time, client.firstTime(c, SYN), offsetNs, toClient);
  }

  get synAckSentTimes(): Transmission[] {
    const { client, server, time, offsetNs } = this.#source;
    const c = this.#c;
    const s = this.#s;
    if (server === null || s < 0) return [];
    return transmissions(server, s, SYN_ACK, time, client.firstTime(c, SYN), offsetNs, pairsOf(server, s, SYN_ACK, client, c, SYN_ACK));
  }

  get synAckSeenTimes(): Transmission[] {
    const { client, server, time } = this.#source;
    const c = this.#c;
    const s = this.#s;
    const toServer = server !== null && s >= 0 ? inverse(pairsOf(server, s, SYN_ACK, client, c, SYN_ACK), client.count(c, SYN_ACK)) : null;
    return transmissions(client, c, SYN_ACK, time, client.firstTime(c, SYN), 0, toServer);
  }

  /** The same attempt with other 4-tuples and reason (redaction); the times are shared. */
  renamed(client: FourTuple, server: FourTuple | null, reason: string | null): AttemptRecord {
    return new RenamedAttempt(this.#source, this.index, this.#c, client, server).settle(this.verdict, reason, this.#s);
  }

  /** The plain Attempt, every field computed, in the order of the Attempt interface. */
  toJSON(): Attempt {
    return {
      index: this.index,
      isn: this.isn,
      client: this.client,
      server: this.server,
      verdict: this.verdict,
      reason: this.reason,
      synSent: this.synSent,
      synSeen: this.synSeen,
      synAckSent: this.synAckSent,
      synAckSeen: this.synAckSeen,
      rstSeen: this.rstSeen,
      established: this.established,
      closedAt: this.closedAt,
      synSentTimes: this.synSentTimes,
      synSeenTimes: this.synSeenTimes,
      synAckSentTimes: this.synAckSentTimes,
      synAckSeenTimes: this.synAckSeenTimes,
    };
  }
}

/** An attempt whose 4-tuples were replaced (redaction). */
class RenamedAttempt extends AttemptRecord {
  readonly #client: FourTuple;
  readonly #server: FourTuple | null;

  constructor(source: AttemptSource, index: number, c: number, client: FourTuple, server: FourTuple | null) {
    super(source, index, c);
    this.#client = client;
    this.#server = server;
  }

  override get client(): FourTuple {
    return this.#client;
  }

  override get server(): FourTuple | null {
    return this.#server;
  }
}

export interface BuiltAttempts {
  attempts: AttemptRecord[];
  verdicts: Record<Verdict, number>;
  /** SYN copies the server capture never shows, and SYN-ACK copies the client capture never shows (covered attempts only). */
  lostSyn: number;
  lostSynAck: number;
}

/** Records made from the client's table alone (prepareAttempts), to be settled (settleAttempts). */
export interface PreparedAttempts {
  source: AttemptSource;
  flows: ArrayLike<number>;
  records: AttemptRecord[];
}

/**
 * One record per attempt, `flows` being client flows in first-SYN order, with what the client
 * capture says: made while the server capture is still being read (the allocation and its garbage
 * collection are most of the cost of the records).
 */
export function prepareAttempts(client: FlowTable, time: TimeBase, flows: ArrayLike<number>): PreparedAttempts {
  const source: AttemptSource = { client, server: null, time, offsetNs: 0 };
  const records: AttemptRecord[] = [];
  for (let i = 0; i < flows.length; i++) records.push(new AttemptRecord(source, i + 1, flows[i]));
  return { source, flows, records };
}

/**
 * Verdicts and the server's view for prepared records: `server` is the server capture's table
 * (null: none), `offsetNs` the clock offset to place its times (0 when unknown), `matches[i]` the
 * server flow of flows[i] (-1: none; null without a server capture).
 */
export function settleAttempts(prepared: PreparedAttempts, server: FlowTable | null, offsetNs: number, matches: Int32Array | null, ctx: VerdictContext): BuiltAttempts {
  const { source, flows, records } = prepared;
  source.server = server;
  source.offsetNs = offsetNs;
  const client = source.client;
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  let lostSyn = 0;
  let lostSynAck = 0;
  for (let i = 0; i < flows.length; i++) {
    const c = flows[i];
    const s = matches === null ? -1 : matches[i];
    const { verdict, reason } = classifyAttempt(client, c, server, s, ctx);
    verdicts[verdict]++;
    const r = records[i].settle(verdict, reason, s);
    // A refused SYN was answered (by the server or by a middlebox): it is not counted as lost.
    if (server !== null && verdict !== 'outside-capture' && verdict !== 'refused') {
      lostSyn += Math.max(0, r.synSent - r.synSeen!);
      if (s >= 0) lostSynAck += Math.max(0, r.synAckSent! - r.synAckSeen);
    }
  }
  return { attempts: records, verdicts, lostSyn, lostSynAck };
}

/** prepareAttempts and settleAttempts in one. */
export function buildAttempts(source: AttemptSource, flows: ArrayLike<number>, matches: Int32Array | null, ctx: VerdictContext): BuiltAttempts {
  return settleAttempts(prepareAttempts(source.client, source.time, flows), source.server, source.offsetNs, matches, ctx);
}
