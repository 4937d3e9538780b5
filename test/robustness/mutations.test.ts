/**
 * Systematic damage to the fixtures (classic pcap, pcapng, LINUX_SLL2 nanosecond pcap) through the
 * CLI in-process: truncations at and inside every record, at every byte offset for two files,
 * flipped bytes in every header field, absurd lengths, wrong magic. Each ends in a report (exit 0/1)
 * whose read problem names the right record, or in one error line with the file and byte offset.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { describeLayout } from './mutate.js';
import { analyzeInProcess, fixture, judge, makeTempDir, report, type Outcome } from './helpers.js';

const temp = makeTempDir();
afterAll(() => temp.remove());

interface Rec {
  start: number;
  end: number;
  type: string;
  whole: boolean;
}
interface Field {
  at: number;
  size: number;
  name: string;
  le: boolean;
}
interface Layout {
  format: 'pcap' | 'pcapng' | 'other';
  headerEnd: number;
  records: Rec[];
  fields: Field[];
}

const FILES = {
  pcap: 'path-cap-client.pcap',
  pcapng: 'sll2-ns-server.pcapng',
  sll2: 'sll2-ns-client.pcap',
} as const;

function load(name: string): { bytes: Buffer; layout: Layout } {
  const bytes = readFileSync(fixture(name));
  return { bytes, layout: describeLayout(new Uint8Array(bytes)) as Layout };
}

function isPacket(r: Rec): boolean {
  return r.type === 'record' || r.type === 'EPB' || r.type === 'SPB' || r.type === 'PB';
}

async function run(name: string, bytes: Uint8Array, format: 'json' | 'markdown' | 'table' = 'json'): Promise<{ file: string; outcome: Outcome }> {
  const file = temp.write(name, bytes);
  const outcome = await analyzeInProcess([file], format);
  expect(judge(outcome, [file], format), `${name}: ${outcome.stderr}`).toBeNull();
  return { file, outcome };
}

/**
 * A file cut to `length` bytes: within the file header, one error line; past it, a report whose
 * packets are exactly the whole packet records kept, with a cut-short problem at the first record
 * cut (none when the cut falls on a record boundary).
 */
async function checkCut(label: string, bytes: Buffer, layout: Layout, length: number): Promise<void> {
  const name = `${label}-cut-${length}`;
  const { file, outcome } = await run(name, bytes.subarray(0, length));
  if (length === 0) {
    expect(outcome.stderr).toBe(`synprobe: ${file}: empty file (at byte offset 0)\n`);
    return;
  }
  if (length < layout.headerEnd) {
    expect(outcome.code, name).toBe(2);
    expect(outcome.stderr, name).toMatch(/ \(at byte offset 0\)\n$/);
    return;
  }
  expect([0, 1], `${name}: ${outcome.stderr}`).toContain(outcome.code);
  const capture = report(outcome).captures[0];
  const kept = layout.records.filter((r) => r.end <= length);
  expect(capture.packets, name).toBe(kept.filter(isPacket).length);
  const cut = layout.records.find((r) => r.start < length && r.end > length);
  if (cut === undefined) {
    expect(capture.readProblem, name).toBeNull();
  } else {
    expect(capture.readProblem, name).toMatchObject({ kind: 'cut-short', offset: cut.start });
  }
}

describe('truncation at every record boundary and inside each record', () => {
  it.each(Object.entries(FILES))('%s (%s)', async (label, name) => {
    const { bytes, layout } = load(name);
    const points = new Set<number>([0, 1, 4, 8, 12, 23, 24, 25]);
    for (const r of layout.records) {
      for (const p of [r.start - 1, r.start, r.start + 1, r.start + 4, r.start + 8, r.start + 15, r.start + 16, r.start + 17, (r.start + r.end) >> 1, r.end - 4, r.end - 1, r.end]) {
        if (p >= 0 && p <= bytes.length) points.add(p);
      }
    }
    for (const length of [...points].sort((a, b) => a - b)) await checkCut(label, bytes, layout, length);
  }, 120_000);
});

describe('truncation at every byte offset', () => {
  // Two whole files, every prefix: about 14,000 runs of the CLI.
  it.each([['pcap', FILES.pcap], ['pcapng', FILES.pcapng]])('%s (%s)', async (label, name) => {
    const { bytes, layout } = load(name);
    for (let length = 0; length <= bytes.length; length++) await checkCut(`${label}-every`, bytes, layout, length);
  }, 300_000);
});

describe('flipped bytes in every header field', () => {
  /** File header and the fields of the first two and last two records (all blocks but packets for pcapng). */
  function headerFields(layout: Layout): Field[] {
    const records = layout.records;
    const keep = new Set<number>();
    const packets = records.filter(isPacket);
    for (const r of [...packets.slice(0, 2), ...packets.slice(-2)]) keep.add(r.start);
    for (const r of records) if (!isPacket(r)) keep.add(r.start);
    return layout.fields.filter((f) => f.at < layout.headerEnd || records.some((r) => keep.has(r.start) && f.at >= r.start && f.at < r.end));
  }

  it.each(Object.entries(FILES))('%s (%s)', async (label, name) => {
    const { bytes, layout } = load(name);
    const fields = headerFields(layout);
    expect(fields.length).toBeGreaterThan(20);
    let runs = 0;
    for (const f of fields) {
      for (let i = 0; i < f.size; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const copy = Buffer.from(bytes);
          copy[f.at + i] ^= mask;
          const { outcome } = await run(`${label}-flip-${f.at + i}-${mask}`, copy, runs % 3 === 0 ? 'json' : runs % 3 === 1 ? 'markdown' : 'table');
          runs++;
          expect([0, 1, 2]).toContain(outcome.code);
        }
      }
    }
  }, 120_000);
});

describe('absurd lengths', () => {
  function withU32(bytes: Buffer, at: number, value: number, le: boolean): Buffer {
    const copy = Buffer.from(bytes);
    if (le) copy.writeUInt32LE(value >>> 0, at);
    else copy.writeUInt32BE(value >>> 0, at);
    return copy;
  }

  describe.each([['pcap', FILES.pcap], ['sll2', FILES.sll2]])('classic pcap: %s', (label, name) => {
    const { bytes, layout } = load(name);
    const le = bytes.readUInt32LE(0) === 0xa1b2c3d4 || bytes.readUInt32LE(0) === 0xa1b23c4d;
    const picks = [0, 1, Math.floor(layout.records.length / 2), layout.records.length - 1];

    it.each([0xffffffff, 0x80000000, 262145, 16 << 20])('caplen %i in records 1, 2, the middle one and the last: corrupt there', async (caplen) => {
      for (const k of picks) {
        const r = layout.records[k];
        const { outcome } = await run(`${label}-caplen-${caplen}-${k}`, withU32(bytes, r.start + 8, caplen, le));
        expect([0, 1]).toContain(outcome.code);
        const capture = report(outcome).captures[0];
        expect(capture.packets).toBe(k);
        // The header snaplen is 128 (262144 is libpcap's ceiling): a caplen past the end of the file is cut short.
        expect(capture.readProblem).toMatchObject({ kind: r.start + 16 + caplen > bytes.length && caplen <= 262144 ? 'cut-short' : 'corrupt', offset: r.start });
      }
    });

    it.each([0, 0xffffffff, 0x7fffffff])('len %i: read as written', async (len) => {
      for (const k of picks) {
        const { outcome } = await run(`${label}-len-${len}-${k}`, withU32(bytes, layout.records[k].start + 12, len, le));
        expect([0, 1]).toContain(outcome.code);
        expect(report(outcome).captures[0].packets).toBe(layout.records.length);
      }
    });

    it.each([0, 1, 0xffffffff])('header snaplen %i', async (snaplen) => {
      const { outcome } = await run(`${label}-snaplen-${snaplen}`, withU32(bytes, 16, snaplen, le));
      expect([0, 1]).toContain(outcome.code);
    });

    it.each([0, 0xffff, 0xffffffff, 0x00300001])('link type field 0x%s', async (linkType) => {
      const { outcome } = await run(`${label}-linktype-${linkType}`, withU32(bytes, 20, linkType, le));
      expect([0, 1]).toContain(outcome.code);
    });

    it.each([0, 0xffffffff, 0x7fffffff])('timestamps %i in every record', async (value) => {
      const copy = Buffer.from(bytes);
      for (const r of layout.records) {
        if (le) copy.writeUInt32LE(value, r.start);
        else copy.writeUInt32BE(value, r.start);
        if (le) copy.writeUInt32LE(value, r.start + 4);
        else copy.writeUInt32BE(value, r.start + 4);
      }
      const { outcome } = await run(`${label}-ts-${value}`, copy, 'markdown');
      expect([0, 1]).toContain(outcome.code);
    });
  });

  describe('pcapng', () => {
    const { bytes, layout } = load(FILES.pcapng);
    const le = true;
    const epbs = layout.records.filter((r) => r.type === 'EPB');
    const blocks = [
      ['IDB', layout.records.find((r) => r.type === 'IDB')!],
      ['first EPB', epbs[0]],
      ['middle EPB', epbs[Math.floor(epbs.length / 2)]],
      ['ISB', layout.records.find((r) => r.type === 'ISB')!],
    ] as const;

    it.each([0, 7, 13, 0xfffffffc, 0xffffffff, 16])('block total length %i in the IDB, an EPB, the ISB: corrupt there', async (length) => {
      for (const [what, r] of blocks) {
        const { outcome } = await run(`ng-length-${length}-${r.start}`, withU32(bytes, r.start + 4, length, le));
        if (what === 'IDB' && length === 16) continue; // a shorter IDB whose trailer does not match: checked by judge() alone
        expect([0, 1], `${what}: ${outcome.stderr}`).toContain(outcome.code);
        const capture = report(outcome).captures[0];
        expect(capture.packets, what).toBe(layout.records.filter((x) => x.end <= r.start && isPacket(x)).length);
        expect(capture.readProblem, what).toMatchObject({ kind: 'corrupt', offset: r.start });
      }
    });

    it.each([
      [0, 'block total length 0 is below the minimum of 12'],
      [7, 'block total length 7 is below the minimum of 12'],
      [13, 'block total length 13 is not a multiple of 4'],
      [0xfffffffc, 'block total length 4294967292 exceeds the maximum of 16777216'],
    ])('section header block length %i: one error line', async (length, message) => {
      const { file, outcome } = await run(`ng-shb-length-${length}`, withU32(bytes, 4, length, le));
      expect(outcome.code).toBe(2);
      expect(outcome.stderr).toBe(`synprobe: ${file}: unreadable pcapng section header: ${message} (at byte offset 0)\n`);
    });

    it('trailing length differing from the leading one: corrupt at that block', async () => {
      const r = epbs[3];
      const { outcome } = await run('ng-trailer', withU32(bytes, r.end - 4, r.end - r.start + 4, le));
      expect(report(outcome).captures[0].readProblem).toMatchObject({ kind: 'corrupt', offset: r.start });
    });

    it.each([0xffffffff, 0x7fffffff, 1 << 20])('EPB caplen %i: corrupt there', async (caplen) => {
      const r = epbs[2];
      const { outcome } = await run(`ng-caplen-${caplen}`, withU32(bytes, r.start + 20, caplen, le));
      expect(report(outcome).captures[0].readProblem).toMatchObject({ kind: 'corrupt', offset: r.start, message: expect.stringContaining(`caplen ${caplen}`) });
    });

    it.each([0, 1, 0xfffffffe])('EPB interface id %i', async (id) => {
      const r = epbs[2];
      const { outcome } = await run(`ng-ifid-${id}`, withU32(bytes, r.start + 8, id, le));
      const problem = report(outcome).captures[0].readProblem;
      if (id === 0) expect(problem).toBeNull();
      else expect(problem).toMatchObject({ kind: 'corrupt', offset: r.start });
    });

    it.each([0xffffffff, 0x80000000, 0x7ffffffc])('EPB timestamp high word %i: a report (the packet is read as untimed)', async (high) => {
      const copy = Buffer.from(bytes);
      for (const r of epbs.slice(0, 3)) copy.writeUInt32LE(high, r.start + 12);
      for (const format of ['json', 'markdown', 'table'] as const) {
        const { outcome } = await run(`ng-tshigh-${high}-${format}`, copy, format);
        expect([0, 1]).toContain(outcome.code);
      }
    });

    it('every option length of the SHB, IDB and ISB set to 0xffff: corrupt or one error line', async () => {
      // opt_endofopt (code 0) ends the list whatever its length says.
      const options = layout.fields.filter((f) => /(SHB|IDB|ISB)@\d+ option [1-9]\d* length/.test(f.name));
      expect(options.length).toBeGreaterThan(3);
      for (const f of options) {
        const copy = Buffer.from(bytes);
        copy.writeUInt16LE(0xffff, f.at);
        const { outcome } = await run(`ng-optlen-${f.at}`, copy);
        if (f.at < layout.headerEnd) expect(outcome.code, f.name).toBe(2);
        else expect(report(outcome).captures[0].readProblem, f.name).toMatchObject({ kind: 'corrupt' });
      }
    });
  });
});

describe('wrong magic', () => {
  const { bytes } = load(FILES.pcap);
  it.each([
    ['zeros', '00000000', 'not a capture file: starts with 00 00 00 00'],
    ['text', '47455420', "not a capture file: starts with 47 45 54 20 ('GET ')"],
    ['gzip', '1f8b0800', 'gzip data'],
    ['Kuznetzov pcap', '34cdb2a1', 'modified (Kuznetzov) pcap'],
    ['one byte off', 'd4c3b2a0', 'not a capture file: starts with d4 c3 b2 a0'],
    ['pcapng magic on a pcap', '0a0d0d0a', 'unreadable pcapng section header'],
  ])('%s: one error line at byte offset 0', async (label, magic, what) => {
    const copy = Buffer.from(bytes);
    Buffer.from(magic, 'hex').copy(copy, 0);
    const { file, outcome } = await run(`magic-${label}`, copy);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr.startsWith(`synprobe: ${file}: `)).toBe(true);
    expect(outcome.stderr).toContain(what);
    expect(outcome.stderr).toMatch(/ \(at byte offset 0\)\n$/);
  });

  it('a pcapng file whose byte-order magic is damaged', async () => {
    const { bytes: ng } = load(FILES.pcapng);
    const copy = Buffer.from(ng);
    copy.writeUInt32LE(0x1a2b3c4e, 8);
    const { file, outcome } = await run('magic-bom', copy);
    expect(outcome.stderr).toBe(`synprobe: ${file}: unreadable pcapng section header: section header block has a bad byte-order magic 0x4e3c2b1a (at byte offset 0)\n`);
  });
});
