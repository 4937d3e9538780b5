/**
 * The attempts of an analysis as records over the handshake tables. A record is the position of
 * its attempt in columns shared by all (client flow, server flow, verdict, reason): every field is
 * a getter that reads the tables, its times (closedAt and the four transmission lists, with their
 * ISO-8601 text) included, computed each time they are read and never stored. 105,000 attempts cost
 * about 5 MB instead of 170 MB as plain objects, and reports that show a few attempts format only
 * those.
 *
 * A record reads like the plain Attempt it stands for: property access and JSON.stringify (through
 * toJSON: the same keys in the same order). Its fields are getters, which structuredClone, spread
 * and Object.entries do not copy: use JSON (or toJSON()) for a deep copy.
 */
import { RST, SYN, SYN_ACK, type CopyKind, type FlowTable } from './handshakes.js';
import { pairCopies } from './clock.js';
import { classifyAttempt, type VerdictContext } from './verdict.js';
import { VERDICTS, type Attempt, type FourTuple, type Transmission, type Verdict } from './types.js';
import type { TimeBase } from './time.js';

/** What the records of one analysis read their times from. */
interface AttemptSource {
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

/**
 * What the records of one analysis share: the tables they read, and per attempt its client flow,
 * its server flow and its verdict, in columns. A record is the position of its attempt here.
 */
interface AttemptColumns extends AttemptSource {
  /** The client flow of each attempt. */
  flows: ArrayLike<number>;
  /** The server flow of each attempt (-1: none); null until settled with a server capture. */
  matches: Int32Array | null;
  /** Each attempt's verdict, as its position in VERDICTS. */
  verdicts: Uint8Array;
  /** The reasons given, by attempt position (most attempts have none). */
  reasons: Map<number, string>;
}

const VERDICT_CODES = Object.fromEntries(VERDICTS.map((v, code) => [v, code])) as Record<Verdict, number>;
const NO_REPLY = VERDICT_CODES['no-reply'];

export class AttemptRecord implements Attempt {
  readonly #set: AttemptColumns;
  /** The attempt's position in the set (its index - 1). */
  readonly #i: number;

  /** Attempt `i` of `set`: what the client capture says until settleAttempts adds the rest. */
  constructor(set: AttemptColumns, i: number) {
    this.#set = set;
    this.#i = i;
  }

  get index(): number {
    return this.#i + 1;
  }

  get isn(): number {
    return this.#set.client.isn[this.#c];
  }

  get verdict(): Verdict {
    return VERDICTS[this.#set.verdicts[this.#i]];
  }

  get reason(): string | null {
    return this.#set.reasons.get(this.#i) ?? null;
  }

  get synSent(): number {
    return this.#set.client.count(this.#c, SYN);
  }

  /** null without a server capture. */
  get synSeen(): number | null {
    const { server } = this.#set;
    return server === null ? null : this.#s >= 0 ? server.count(this.#s, SYN) : 0;
  }

  get synAckSent(): number | null {
    const { server } = this.#set;
    return server === null ? null : this.#s >= 0 ? server.count(this.#s, SYN_ACK) : 0;
  }

  get synAckSeen(): number {
    return this.#set.client.count(this.#c, SYN_ACK);
  }

  get rstSeen(): number {
    return this.#set.client.count(this.#c, RST);
  }

  get established(): boolean {
    return this.#set.client.established(this.#c);
  }

  /** The client flow. */
  get #c(): number {
    return this.#set.flows[this.#i];
  }

  /** The server flow, -1 when none (or no server capture). */
  get #s(): number {
    const { matches } = this.#set;
    return matches === null ? -1 : matches[this.#i];
  }

  get client(): FourTuple {
    return tuple(this.#set.client, this.#c);
  }

  /** The same attempt as the server saw it (may differ behind NAT); null when the server capture has no trace of it. */
  get server(): FourTuple | null {
    const { server } = this.#set;
    return server !== null && this.#s >= 0 ? tuple(server, this.#s) : null;
  }

  /** FIN or RST seen on the connection after it was established (ISO, client clock), or null. */
  get closedAt(): string | null {
    const ns = this.#set.client.closedNs[this.#c];
    return Number.isNaN(ns) ? null : this.#set.time.iso(ns);
  }

  get synSentTimes(): Transmission[] {
    const { client, server, time } = this.#set;
    const c = this.#c;
    const s = this.#s;
    const toServer = server !== null && s >= 0 ? pairsOf(client, c, SYN, server, s, SYN) : null;
    return transmissions(client, c, SYN, time, client.firstTime(c, SYN), 0, toServer);
  }

  get synSeenTimes(): Transmission[] {
    const { client, server, time, offsetNs } = this.#set;
    const c = this.#c;
    const s = this.#s;
    if (server === null || s < 0) return [];
    const toClient = inverse(pairsOf(client, c, SYN, server, s, SYN), server.count(s, SYN));
    return transmissions(server, s, SYN, time, client.firstTime(c, SYN), offsetNs, toClient);
  }

  get synAckSentTimes(): Transmission[] {
    const { client, server, time, offsetNs } = this.#set;
    const c = this.#c;
    const s = this.#s;
    if (server === null || s < 0) return [];
    return transmissions(server, s, SYN_ACK, time, client.firstTime(c, SYN), offsetNs, pairsOf(server, s, SYN_ACK, client, c, SYN_ACK));
  }

  get synAckSeenTimes(): Transmission[] {
    const { client, server, time } = this.#set;
    const c = this.#c;
    const s = this.#s;
    const toServer = server !== null && s >= 0 ? inverse(pairsOf(server, s, SYN_ACK, client, c, SYN_ACK), client.count(c, SYN_ACK)) : null;
    return transmissions(client, c, SYN_ACK, time, client.firstTime(c, SYN), 0, toServer);
  }

  /** The same attempt with other 4-tuples and reason (redaction); the times are shared. */
  renamed(client: FourTuple, server: FourTuple | null, reason: string | null): AttemptRecord {
    return new RenamedAttempt(this.#set, this.#i, client, server, reason);
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

/** An attempt whose 4-tuples and reason were replaced (redaction). */
class RenamedAttempt extends AttemptRecord {
  readonly #client: FourTuple;
  readonly #server: FourTuple | null;
  readonly #reason: string | null;

  constructor(set: AttemptColumns, i: number, client: FourTuple, server: FourTuple | null, reason: string | null) {
    super(set, i);
    this.#client = client;
    this.#server = server;
    this.#reason = reason;
  }

  override get client(): FourTuple {
    return this.#client;
  }

  override get server(): FourTuple | null {
    return this.#server;
  }

  override get reason(): string | null {
    return this.#reason;
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
  set: AttemptColumns;
  records: AttemptRecord[];
}

/**
 * One record per attempt, `flows` being client flows in first-SYN order, with what the client
 * capture says: made while the server capture may still be read. A record is two fields (the
 * shared columns and its position): 105,000 of them are ~4 MB that the garbage collector moves.
 */
export function prepareAttempts(client: FlowTable, time: TimeBase, flows: ArrayLike<number>): PreparedAttempts {
  const set: AttemptColumns = {
    client,
    server: null,
    time,
    offsetNs: 0,
    flows,
    matches: null,
    verdicts: new Uint8Array(flows.length).fill(NO_REPLY),
    reasons: new Map(),
  };
  const records = new Array<AttemptRecord>(flows.length);
  for (let i = 0; i < flows.length; i++) records[i] = new AttemptRecord(set, i);
  return { set, records };
}

/**
 * Verdicts and the server's view for prepared records: `server` is the server capture's table
 * (null: none), `offsetNs` the clock offset to place its times (0 when unknown), `matches[i]` the
 * server flow of flows[i] (-1: none; null without a server capture).
 */
export function settleAttempts(prepared: PreparedAttempts, server: FlowTable | null, offsetNs: number, matches: Int32Array | null, ctx: VerdictContext): BuiltAttempts {
  const { set, records } = prepared;
  set.server = server;
  set.offsetNs = offsetNs;
  set.matches = server === null ? null : matches;
  const { client, flows } = set;
  const counts = new Array<number>(VERDICTS.length).fill(0);
  let lostSyn = 0;
  let lostSynAck = 0;
  for (let i = 0; i < flows.length; i++) {
    const c = flows[i];
    const s = matches === null ? -1 : matches[i];
    const { verdict, reason } = classifyAttempt(client, c, server, s, ctx);
    const code = VERDICT_CODES[verdict];
    set.verdicts[i] = code;
    counts[code]++;
    if (reason !== null) set.reasons.set(i, reason);
    // A refused SYN was answered (by the server or by a middlebox): it is not counted as lost.
    if (server !== null && verdict !== 'outside-capture' && verdict !== 'refused') {
      lostSyn += Math.max(0, client.count(c, SYN) - (s >= 0 ? server.count(s, SYN) : 0));
      if (s >= 0) lostSynAck += Math.max(0, server.count(s, SYN_ACK) - client.count(c, SYN_ACK));
    }
  }
  const verdicts = Object.fromEntries(VERDICTS.map((v, code) => [v, counts[code]])) as Record<Verdict, number>;
  return { attempts: records, verdicts, lostSyn, lostSynAck };
}
