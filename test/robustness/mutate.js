/**
 * Mutations of capture files, shared by the fuzz test in the suite (fuzz.test.ts) and the long
 * mode (`npm run fuzz`, fuzz-long.js). Plain JavaScript so that the long mode runs on node alone.
 *
 * Every case is a pure function of (seed, index): a finding is reproduced from its two numbers
 * alone, and the long mode's supervisor can rebuild the input of a worker that hung or died.
 */

/** mulberry32: small, seedable, fast. Returns floats in [0, 1). */
export function createRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One seed per case, so that case N does not depend on cases before it. */
export function caseSeed(seed, index) {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

const PCAP_MAGICS = new Set(['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d']);
const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** 32-bit values that have broken readers before: limits, off-by-ones, sign bits, block lengths. */
export const INTERESTING_32 = [
  0, 1, 3, 4, 7, 8, 11, 12, 13, 15, 16, 28, 31, 32, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 262143, 262144, 262145,
  (16 << 20) - 4, 16 << 20, (16 << 20) + 4, 0x3fffffff, 0x7ffffffc, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc,
  0xffffffff,
];
export const INTERESTING_16 = [0, 1, 2, 4, 8, 9, 14, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffc, 0xffff];
export const INTERESTING_8 = [0, 1, 0x05, 0x06, 0x09, 0x0f, 0x10, 0x12, 0x14, 0x40, 0x45, 0x60, 0x7f, 0x80, 0x88, 0xbf, 0xff];

/**
 * The layout of a capture: its format, byte order, records (pcap record / pcapng block) with their
 * header fields. Walks as far as lengths allow; a record that runs past the end is the last one.
 */
export function describeLayout(bytes) {
  const magic = Buffer.from(bytes.subarray(0, 4)).toString('hex');
  if (bytes.length >= 24 && PCAP_MAGICS.has(magic)) return pcapLayout(bytes, magic === 'd4c3b2a1' || magic === '4d3cb2a1');
  if (bytes.length >= 12 && magic === '0a0d0d0a') return pcapngLayout(bytes);
  return { format: 'other', littleEndian: true, headerEnd: 0, records: [], fields: [] };
}

function u32(bytes, at, le) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)[le ? 'readUInt32LE' : 'readUInt32BE'](at);
}

function u16(bytes, at, le) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)[le ? 'readUInt16LE' : 'readUInt16BE'](at);
}

function pcapLayout(bytes, le) {
  const fields = [
    { at: 0, size: 4, name: 'magic', le },
    { at: 4, size: 2, name: 'version major', le },
    { at: 6, size: 2, name: 'version minor', le },
    { at: 8, size: 4, name: 'thiszone', le },
    { at: 12, size: 4, name: 'sigfigs', le },
    { at: 16, size: 4, name: 'snaplen', le },
    { at: 20, size: 4, name: 'link type', le },
  ];
  const records = [];
  let at = 24;
  while (at + 16 <= bytes.length) {
    const caplen = u32(bytes, at + 8, le);
    const end = at + 16 + caplen;
    records.push({ start: at, end: Math.min(end, bytes.length), dataStart: at + 16, type: 'record', whole: end <= bytes.length });
    fields.push(
      { at, size: 4, name: `record@${at} ts seconds`, le },
      { at: at + 4, size: 4, name: `record@${at} ts fraction`, le },
      { at: at + 8, size: 4, name: `record@${at} caplen`, le },
      { at: at + 12, size: 4, name: `record@${at} len`, le },
    );
    if (end > bytes.length) break;
    at = end;
  }
  if (at < bytes.length && (records.length === 0 || records[records.length - 1].whole)) {
    records.push({ start: at, end: bytes.length, dataStart: bytes.length, type: 'partial', whole: false });
  }
  return { format: 'pcap', littleEndian: le, headerEnd: 24, records, fields };
}

const BLOCK_NAMES = { 1: 'IDB', 2: 'PB', 3: 'SPB', 4: 'NRB', 5: 'ISB', 6: 'EPB', 0x0a0d0d0a: 'SHB' };

function pcapngLayout(bytes) {
  const records = [];
  const fields = [];
  let le = true;
  let at = 0;
  while (at + 12 <= bytes.length) {
    let type = u32(bytes, at, le);
    if (type === PCAPNG_SHB && at + 12 <= bytes.length) {
      if (u32(bytes, at + 8, true) === BYTE_ORDER_MAGIC) le = true;
      else if (u32(bytes, at + 8, false) === BYTE_ORDER_MAGIC) le = false;
      type = u32(bytes, at, le);
    }
    const length = u32(bytes, at + 4, le);
    const name = BLOCK_NAMES[type] ?? `block ${type}`;
    const fits = length >= 12 && length % 4 === 0 && at + length <= bytes.length;
    const end = fits ? at + length : bytes.length;
    records.push({ start: at, end, dataStart: at + 8, type: name, whole: fits });
    fields.push({ at, size: 4, name: `${name}@${at} type`, le }, { at: at + 4, size: 4, name: `${name}@${at} length`, le });
    if (fits) fields.push({ at: end - 4, size: 4, name: `${name}@${at} trailing length`, le });
    addBlockFields(fields, bytes, name, at, end, le);
    if (!fits) break;
    at = end;
  }
  return { format: 'pcapng', littleEndian: le, headerEnd: records.length > 0 ? records[0].end : 0, records, fields };
}

function addBlockFields(fields, bytes, name, at, end, le) {
  const field = (offset, size, what) => {
    if (at + offset + size <= end) fields.push({ at: at + offset, size, name: `${name}@${at} ${what}`, le });
  };
  let optionsAt = -1;
  switch (name) {
    case 'SHB':
      field(8, 4, 'byte-order magic');
      field(12, 2, 'major');
      field(14, 2, 'minor');
      field(16, 4, 'section length high');
      field(20, 4, 'section length low');
      optionsAt = at + 24;
      break;
    case 'IDB':
      field(8, 2, 'link type');
      field(12, 4, 'snaplen');
      optionsAt = at + 16;
      break;
    case 'EPB':
    case 'PB':
      field(8, name === 'EPB' ? 4 : 2, 'interface id');
      field(12, 4, 'ts high');
      field(16, 4, 'ts low');
      field(20, 4, 'caplen');
      field(24, 4, 'origlen');
      if (at + 24 + 4 <= end) {
        const caplen = u32(bytes, at + 20, le);
        optionsAt = at + 28 + ((caplen + 3) & ~3);
      }
      break;
    case 'SPB':
      field(8, 4, 'origlen');
      break;
    case 'ISB':
      field(8, 4, 'interface id');
      field(12, 4, 'ts high');
      field(16, 4, 'ts low');
      optionsAt = at + 20;
      break;
    default:
      break;
  }
  if (optionsAt < 0) return;
  // Options: code and length of each, as far as they go.
  let o = optionsAt;
  for (let n = 0; n < 64 && o + 4 <= end - 4; n++) {
    const code = u16(bytes, o, le);
    const length = u16(bytes, o + 2, le);
    fields.push({ at: o, size: 2, name: `${name}@${at} option ${code} code`, le });
    fields.push({ at: o + 2, size: 2, name: `${name}@${at} option ${code} length`, le });
    if (code === 0) break;
    if (code === 9 && length >= 1) fields.push({ at: o + 4, size: 1, name: `${name}@${at} if_tsresol`, le });
    if (code === 14 && length === 8) fields.push({ at: o + 4, size: 4, name: `${name}@${at} if_tsoffset`, le });
    o += 4 + ((length + 3) & ~3);
  }
}

// ---------------------------------------------------------------- single mutations

function pick(rand, list) {
  return list[Math.floor(rand() * list.length)];
}

function int(rand, n) {
  return Math.floor(rand() * n);
}

function writeValue(bytes, at, size, value, le) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (size === 1) buf[at] = value & 0xff;
  else if (size === 2) buf[le ? 'writeUInt16LE' : 'writeUInt16BE'](value & 0xffff, at);
  else buf[le ? 'writeUInt32LE' : 'writeUInt32BE'](value >>> 0, at);
}

function interestingFor(rand, size, bytes) {
  if (size === 1) return pick(rand, INTERESTING_8);
  if (size === 2) return pick(rand, INTERESTING_16);
  const r = rand();
  if (r < 0.75) return pick(rand, INTERESTING_32);
  if (r < 0.85) return bytes.length + int(rand, 9) - 4; // lengths near the file size
  return Math.floor(rand() * 4294967296);
}

/** Each mutation takes (bytes, rand, layout) and returns [new bytes, description]. */
const MUTATIONS = {
  /** A header field (file header, record header, block field, option) set to an interesting value. */
  field(bytes, rand, layout) {
    if (layout.fields.length === 0) return MUTATIONS.flip(bytes, rand, layout);
    const f = pick(rand, layout.fields);
    const value = interestingFor(rand, f.size, bytes);
    const le = rand() < 0.9 ? f.le : !f.le;
    const out = Uint8Array.from(bytes);
    writeValue(out, f.at, f.size, value, le);
    return [out, `${f.name} (byte ${f.at}) := 0x${(value >>> 0).toString(16)}${le === f.le ? '' : ' (other byte order)'}`];
  },
  /** A bit flipped in a header field. */
  fieldBit(bytes, rand, layout) {
    if (layout.fields.length === 0) return MUTATIONS.flip(bytes, rand, layout);
    const f = pick(rand, layout.fields);
    const at = f.at + int(rand, f.size);
    const bit = int(rand, 8);
    const out = Uint8Array.from(bytes);
    out[at] ^= 1 << bit;
    return [out, `${f.name}: bit ${bit} of byte ${at} flipped`];
  },
  /** Any bit anywhere. */
  flip(bytes, rand) {
    if (bytes.length === 0) return [bytes, 'nothing to flip'];
    const at = int(rand, bytes.length);
    const bit = int(rand, 8);
    const out = Uint8Array.from(bytes);
    out[at] ^= 1 << bit;
    return [out, `bit ${bit} of byte ${at} flipped`];
  },
  /** A byte inside a packet's first 80 bytes (link, IP, TCP headers) set to an interesting value. */
  packetByte(bytes, rand, layout) {
    const packets = layout.records.filter((r) => r.whole && r.end - r.dataStart > 8);
    if (packets.length === 0) return MUTATIONS.flip(bytes, rand, layout);
    const r = pick(rand, packets);
    const dataStart = layout.format === 'pcapng' ? (r.type === 'EPB' || r.type === 'PB' ? r.start + 28 : r.start + 12) : r.dataStart;
    const span = Math.min(80, r.end - dataStart);
    if (span <= 0) return MUTATIONS.flip(bytes, rand, layout);
    const at = dataStart + int(rand, span);
    const out = Uint8Array.from(bytes);
    out[at] = rand() < 0.7 ? pick(rand, INTERESTING_8) : int(rand, 256);
    return [out, `packet byte ${at} := 0x${out[at].toString(16)}`];
  },
  /** Cut at a record boundary, or a few bytes around one, or anywhere. */
  truncate(bytes, rand, layout) {
    let at;
    const r = rand();
    if (r < 0.5 && layout.records.length > 0) {
      const rec = pick(rand, layout.records);
      at = (rand() < 0.5 ? rec.start : rec.end) + int(rand, 17) - 8;
    } else {
      at = int(rand, bytes.length + 1);
    }
    at = Math.max(0, Math.min(bytes.length, at));
    return [bytes.slice(0, at), `cut at byte ${at} of ${bytes.length}`];
  },
  /** A range removed (records run into each other). */
  remove(bytes, rand) {
    const from = int(rand, bytes.length + 1);
    const count = 1 + int(rand, rand() < 0.7 ? 16 : 512);
    const out = Buffer.concat([bytes.subarray(0, from), bytes.subarray(Math.min(bytes.length, from + count))]);
    return [new Uint8Array(out), `${count} bytes removed at ${from}`];
  },
  /** Random bytes inserted. */
  insert(bytes, rand) {
    const at = int(rand, bytes.length + 1);
    const count = 1 + int(rand, 32);
    const junk = new Uint8Array(count).map(() => int(rand, 256));
    return [new Uint8Array(Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)])), `${count} random bytes inserted at ${at}`];
  },
  /** A whole record copied elsewhere (duplicates, time going backwards). */
  duplicate(bytes, rand, layout) {
    const whole = layout.records.filter((r) => r.whole);
    if (whole.length === 0) return MUTATIONS.insert(bytes, rand, layout);
    const rec = pick(rand, whole);
    const times = 1 + (rand() < 0.1 ? int(rand, 200) : int(rand, 3));
    const target = pick(rand, layout.records).start;
    const copy = bytes.subarray(rec.start, rec.end);
    const copies = Buffer.concat(Array.from({ length: times }, () => copy));
    const out = Buffer.concat([bytes.subarray(0, target), copies, bytes.subarray(target)]);
    return [new Uint8Array(out), `record at ${rec.start} (${rec.type}) copied ${times}x before byte ${target}`];
  },
  /** Two records swapped. */
  swap(bytes, rand, layout) {
    const whole = layout.records.filter((r) => r.whole);
    if (whole.length < 2) return MUTATIONS.flip(bytes, rand, layout);
    let a = pick(rand, whole);
    let b = pick(rand, whole);
    if (a.start > b.start) [a, b] = [b, a];
    if (a === b) return MUTATIONS.flip(bytes, rand, layout);
    const out = Buffer.concat([
      bytes.subarray(0, a.start),
      bytes.subarray(b.start, b.end),
      bytes.subarray(a.end, b.start),
      bytes.subarray(a.start, a.end),
      bytes.subarray(b.end),
    ]);
    return [new Uint8Array(out), `records at ${a.start} and ${b.start} swapped`];
  },
  /** A timestamp field set to an extreme (0, 2^31, 2^32-1) in a record or an ISB. */
  time(bytes, rand, layout) {
    const times = layout.fields.filter((f) => /ts |if_tsresol|if_tsoffset/.test(f.name));
    if (times.length === 0) return MUTATIONS.field(bytes, rand, layout);
    const f = pick(rand, times);
    const value = f.size === 1 ? pick(rand, [0, 1, 3, 6, 9, 15, 16, 0x80, 0x81, 0xa0, 0xb4, 0xff]) : pick(rand, [0, 1, 999999, 1000000, 999999999, 1e9, 0x7fffffff, 0x80000000, 0xffffffff]);
    const out = Uint8Array.from(bytes);
    writeValue(out, f.at, f.size, value, f.le);
    return [out, `${f.name} (byte ${f.at}) := ${value}`];
  },
};

const WEIGHTS = [
  ['field', 30],
  ['fieldBit', 10],
  ['flip', 10],
  ['packetByte', 15],
  ['truncate', 10],
  ['remove', 5],
  ['insert', 4],
  ['duplicate', 6],
  ['swap', 4],
  ['time', 6],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, w]) => sum + w, 0);

function chooseMutation(rand) {
  let r = rand() * TOTAL_WEIGHT;
  for (const [name, w] of WEIGHTS) {
    if ((r -= w) < 0) return name;
  }
  return 'flip';
}

/** Applies 1 to 4 random mutations; returns the bytes and what was done, in order. */
export function mutate(bytes, rand) {
  let current = bytes;
  const steps = [];
  const count = 1 + (rand() < 0.5 ? 0 : rand() < 0.6 ? 1 : int(rand, 3) + 1);
  for (let i = 0; i < count; i++) {
    const name = chooseMutation(rand);
    const [next, what] = MUTATIONS[name](current, rand, describeLayout(current));
    current = next;
    steps.push(what);
  }
  return { bytes: current, steps };
}

/**
 * The input of case `index` of a run seeded `seed` over `sources` ([{name, bytes}], in a fixed
 * order): one mutated capture, sometimes with a second capture (a fixture, itself sometimes
 * mutated) as the server side, one of the three formats, --redact sometimes.
 */
export function makeCase(seed, index, sources) {
  const rand = createRandom(caseSeed(seed, index));
  const client = pick(rand, sources);
  const mutated = mutate(client.bytes, rand);
  const files = [{ name: `${client.name}`, bytes: mutated.bytes }];
  const steps = [`${client.name}: ${mutated.steps.join('; ')}`];
  if (rand() < 0.25) {
    const server = pick(rand, sources);
    if (rand() < 0.5) {
      const m = mutate(server.bytes, rand);
      files.push({ name: server.name, bytes: m.bytes });
      steps.push(`server ${server.name}: ${m.steps.join('; ')}`);
    } else {
      files.push({ name: server.name, bytes: server.bytes });
      steps.push(`server ${server.name} unchanged`);
    }
  }
  const format = pick(rand, ['json', 'json', 'markdown', 'table']);
  const redact = rand() < 0.3;
  return { seed, index, files, format, redact, description: steps.join(' | ') };
}

/**
 * Judges one run of the CLI. `outcome` is {code, stdout, stderr, error, ms}; `paths` the files
 * given. Returns null when it ended as it must, else what went wrong (one line).
 */
export function judgeOutcome(outcome, paths, format) {
  if (outcome.error !== undefined) {
    const e = outcome.error;
    return `threw ${e && e.name ? e.name : typeof e}: ${firstLine(e && e.message ? e.message : String(e))}`;
  }
  const { code, stdout, stderr } = outcome;
  if (/^\s+at /m.test(stderr)) return `stack trace on stderr: ${firstLine(stderr)}`;
  if (code === 0 || code === 1) {
    if (stderr !== '') return `exit ${code} with stderr: ${firstLine(stderr)}`;
    if (stdout === '') return `exit ${code} without a report`;
    if (format === 'json') {
      try {
        JSON.parse(stdout);
      } catch (e) {
        return `exit ${code}, JSON report does not parse: ${e.message}`;
      }
    }
    return null;
  }
  if (code === 2) {
    if (stdout !== '') return `exit 2 with stdout: ${firstLine(stdout)}`;
    const lines = stderr.split('\n');
    if (lines.length !== 2 || lines[1] !== '') return `exit 2 with ${lines.length - 1} stderr lines: ${firstLine(stderr)}`;
    const line = lines[0];
    const named = paths.find((p) => line.startsWith(`synprobe: ${p}: `));
    if (named === undefined) return `error line does not name the file: ${line}`;
    if (!/ \(at byte offset \d+\)$/.test(line)) return `error line without a byte offset: ${line}`;
    if (/internal error|TypeError|RangeError|ReferenceError|undefined|NaN/.test(line)) return `error line looks internal: ${line}`;
    return null;
  }
  return `exit status ${code}`;
}

function firstLine(text) {
  const line = String(text).split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** A sink for the CLI's output, like src/cli/io.ts's, that keeps what was written. */
export function createCapturingIO() {
  const io = {
    out: [],
    err: [],
    stdout: (s) => io.out.push(s),
    stderr: (s) => io.err.push(s),
    isTTY: false,
    exitCode: 0,
  };
  return io;
}

/**
 * Runs `main` (the CLI's, from src or dist) on `paths` in-process and returns the outcome.
 * `timeoutMs` bounds an asynchronous hang (a promise that never settles); a synchronous loop
 * cannot be stopped in-process: the long mode runs cases in workers for that.
 */
export async function runAnalyze(main, paths, format, redact, timeoutMs = 20_000) {
  const io = createCapturingIO();
  const argv = ['node', 'synprobe', 'analyze', ...paths, '--format', format, ...(redact ? ['--redact'] : [])];
  const started = performance.now();
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const code = await Promise.race([main(argv, io), timeout]);
    const ms = performance.now() - started;
    if (code === 'timeout') return { error: { name: 'Timeout', message: `no result after ${timeoutMs} ms` }, ms, stdout: '', stderr: '' };
    return { code, stdout: io.out.join(''), stderr: io.err.join(''), ms };
  } catch (error) {
    return { error, stdout: io.out.join(''), stderr: io.err.join(''), ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}
