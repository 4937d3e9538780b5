/** The pcapng reader on hand-built files: round trips, timestamps, block kinds, corruption. */
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/read/open.js';
import { MAX_BLOCK_LENGTH, mulDivRound, readPcapng } from '../../src/read/pcapng.js';
import { CaptureFileError } from '../../src/read/types.js';
import {
  block,
  buildPcapng,
  customBlock,
  epb,
  idb,
  isb,
  makeTempDir,
  nrb,
  opb,
  payload,
  rawBlock,
  readAll,
  spb,
  type BlockWriter,
  type SectionSpec,
} from './build.js';

const temp = makeTempDir();
afterAll(() => temp.remove());
let fileCount = 0;

async function read(sections: SectionSpec[] | Buffer) {
  const bytes = Buffer.isBuffer(sections) ? sections : buildPcapng(sections);
  return { bytes, ...(await readAll(temp.write(`f${fileCount++}.pcapng`, bytes))) };
}

async function readError(bytes: Buffer): Promise<CaptureFileError> {
  const error = await readAll(temp.write(`f${fileCount++}.pcapng`, bytes)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CaptureFileError);
  return error as CaptureFileError;
}

/** Exact reference: seconds and round-half-up nanoseconds of `units` at `perSecond`, plus an offset. */
function referenceTime(units: bigint, perSecond: bigint, offsetSec = 0n): [number, number] {
  let sec = units / perSecond;
  let ns = ((units % perSecond) * 2_000_000_000n + perSecond) / (2n * perSecond);
  if (ns === 1_000_000_000n) {
    sec += 1n;
    ns = 0n;
  }
  return [Number(sec + offsetSec), Number(ns)];
}

/** Byte offsets of each block of a single section: SHB first. */
function blockOffsets(littleEndian: boolean, blocks: BlockWriter[]): number[] {
  const shbLength = buildPcapng([{ littleEndian, blocks: [] }]).length;
  const offsets = [0, shbLength];
  for (const b of blocks) offsets.push(offsets[offsets.length - 1] + b(littleEndian).length);
  return offsets;
}

describe.each([
  ['little-endian', true],
  ['big-endian', false],
])('pcapng %s', (_name, littleEndian) => {
  it('round-trips packets, interfaces and summary', async () => {
    const blocks = [
      idb({ linkType: 1, snapLen: 65535, name: 'eth0' }),
      epb({ ts: 1_700_000_000_123_456n, data: payload(60), origLen: 60 }),
      epb({ ts: 1_700_000_001_000_000n, data: payload(54, 7), origLen: 1514 }),
    ];
    const { summary, packets, bytes } = await read([{ littleEndian, blocks }]);
    const offsets = blockOffsets(littleEndian, blocks);
    expect(summary).toMatchObject({
      format: 'pcapng',
      byteOrder: littleEndian ? 'LE' : 'BE',
      nanosecond: false,
      version: '1.0',
      linkTypes: [1],
      snapLen: 65535,
      packets: 2,
      untimedPackets: 0,
      fileSize: bytes.length,
      bytesRead: bytes.length,
      problem: null,
      warnings: [],
    });
    expect(summary.interfaces).toEqual([
      {
        section: 0,
        id: 0,
        linkType: 1,
        snapLen: 65535,
        tsUnitsPerSecond: 1e6,
        tsOffsetSec: 0,
        name: 'eth0',
        received: null,
        ifDrops: null,
        osDrops: null,
        startTime: null,
        endTime: null,
      },
    ]);
    expect(packets).toEqual([
      {
        tsSec: 1_700_000_000,
        tsNsec: 123_456_000,
        hasTimestamp: true,
        linkType: 1,
        interfaceId: 0,
        caplen: 60,
        origLen: 60,
        fileOffset: offsets[2],
        index: 1,
        data: payload(60),
      },
      {
        tsSec: 1_700_000_001,
        tsNsec: 0,
        hasTimestamp: true,
        linkType: 1,
        interfaceId: 0,
        caplen: 54,
        origLen: 1514,
        fileOffset: offsets[3],
        index: 2,
        data: payload(54, 7),
      },
    ]);
  });

  it.each([
    ['10^-6 (default)', undefined, 1_000_000n],
    ['10^-6', 6, 1_000_000n],
    ['10^-9', 9, 1_000_000_000n],
    ['10^-3', 3, 1000n],
    ['10^0', 0, 1n],
    ['2^-8', 0x88, 256n],
    ['2^-20', 0x80 | 20, 1n << 20n],
    ['2^-30', 0x80 | 30, 1n << 30n],
    ['2^-52', 0x80 | 52, 1n << 52n],
    ['10^-12', 12, 10n ** 12n],
    ['10^-15', 15, 10n ** 15n],
  ])('converts if_tsresol %s exactly', async (_label, tsresol, perSecond) => {
    const samples = timestampSamples(perSecond);
    const blocks = [idb({ tsresol }), ...samples.map((ts) => epb({ ts, data: payload(4) }))];
    const { summary, packets } = await read([{ littleEndian, blocks }]);
    expect(summary.interfaces[0].tsUnitsPerSecond).toBe(Number(perSecond));
    expect(packets.map((p) => [p.tsSec, p.tsNsec])).toEqual(samples.map((ts) => referenceTime(ts, perSecond)));
  });

  it('adds if_tsoffset (positive and negative) to the seconds', async () => {
    const blocks = [
      idb({ tsresol: 9, tsoffset: 1_000_000_000n }),
      idb({ tsresol: 6, tsoffset: -3600n }),
      epb({ interfaceId: 0, ts: 123_456_789_012n, data: payload(4) }),
      epb({ interfaceId: 1, ts: 1_700_000_000_000_001n, data: payload(4) }),
    ];
    const { summary, packets } = await read([{ littleEndian, blocks }]);
    expect(summary.interfaces.map((i) => i.tsOffsetSec)).toEqual([1_000_000_000, -3600]);
    expect(packets.map((p) => [p.tsSec, p.tsNsec])).toEqual([
      [1_000_000_123, 456_789_012],
      [1_699_996_400, 1000],
    ]);
  });

  it('reads several interfaces with different link types and resolutions', async () => {
    const blocks = [
      idb({ linkType: 1, tsresol: 6 }),
      idb({ linkType: 113, tsresol: 9, snapLen: 0 }),
      idb({ linkType: 276, tsresol: 0x88 }),
      epb({ interfaceId: 2, ts: 256n * 10n + 128n, data: payload(20) }),
      epb({ interfaceId: 0, ts: 5_000_001n, data: payload(20) }),
      epb({ interfaceId: 1, ts: 7_000_000_009n, data: payload(20) }),
    ];
    const { summary, packets } = await read([{ littleEndian, blocks }]);
    expect(summary.linkTypes).toEqual([1, 113, 276]);
    expect(summary.snapLen).toBe(0);
    expect(packets.map((p) => [p.interfaceId, p.linkType, p.tsSec, p.tsNsec])).toEqual([
      [2, 276, 10, 500_000_000],
      [0, 1, 5, 1000],
      [1, 113, 7, 9],
    ]);
  });

  it('reads Simple Packet Blocks: no timestamp, caplen = min(room, original length, snaplen)', async () => {
    const blocks = [
      idb({ linkType: 1, snapLen: 64 }),
      spb(payload(40)), // whole packet
      spb(payload(64), 1514), // cut by snaplen: the block holds 64
      spb(payload(41), 41), // padded to 44: the original length bounds it
      spb(payload(100), 1514), // a writer that ignored the snaplen: snaplen bounds it
    ];
    const { summary, packets } = await read([{ littleEndian, blocks }]);
    expect(summary.untimedPackets).toBe(4);
    expect(packets.map((p) => [p.hasTimestamp, p.tsSec, p.tsNsec, p.interfaceId, p.caplen, p.origLen])).toEqual([
      [false, 0, 0, 0, 40, 40],
      [false, 0, 0, 0, 64, 1514],
      [false, 0, 0, 0, 41, 41],
      [false, 0, 0, 0, 64, 1514],
    ]);
    expect(packets[2].data).toEqual(payload(41));
  });

  it('reads the obsolete Packet Block (type 2)', async () => {
    const blocks = [idb(), idb({ linkType: 0 }), opb({ interfaceId: 1, drops: 3, ts: 2_000_000n, data: payload(30) })];
    const { packets } = await read([{ littleEndian, blocks }]);
    expect(packets).toMatchObject([{ interfaceId: 1, linkType: 0, tsSec: 2, tsNsec: 0, caplen: 30, data: payload(30) }]);
  });

  it('reads interface statistics: drops, start and end times', async () => {
    const blocks = [
      idb({ tsresol: 9 }),
      idb({ tsresol: 6 }),
      epb({ ts: 1_500_000_030_000_000_000n, data: payload(4) }),
      isb({ interfaceId: 0, start: 1_500_000_000_000_000_001n, end: 1_500_000_060_999_999_999n, ifRecv: 1234n, ifDrop: 7n, osDrop: 2n ** 40n }),
      isb({ interfaceId: 1, osDrop: 0n }),
      isb({ interfaceId: 9, ifDrop: 1n }),
    ];
    const { summary, packets } = await read([{ littleEndian, blocks }]);
    expect(packets).toHaveLength(1);
    expect(summary.interfaces[0]).toMatchObject({
      startTime: [1_500_000_000, 1],
      endTime: [1_500_000_060, 999_999_999],
      received: 1234,
      ifDrops: 7,
      osDrops: 2 ** 40,
    });
    expect(summary.interfaces[1]).toMatchObject({ startTime: null, endTime: null, ifDrops: null, osDrops: 0 });
    expect(summary.warnings).toEqual(['interface statistics for unknown interface 9 in section 0 ignored']);
  });

  it('reads ISB times written in microseconds despite if_tsresol 9 (dumpcap 4.0), and ignores absurd ones', async () => {
    const blocks = [
      idb({ tsresol: 9 }),
      epb({ ts: 1_500_000_030_000_000_000n, data: payload(4) }),
      // dumpcap 4.0.17 wrote these in µs (see fixtures/sll2-ns-server.pcapng)
      isb({ interfaceId: 0, start: 1_500_000_000_250_000n, end: 7n }),
    ];
    const { summary } = await read([{ littleEndian, blocks }]);
    expect(summary.interfaces[0]).toMatchObject({ startTime: [1_500_000_000, 250_000_000], endTime: null });
    expect(summary.warnings).toEqual([
      'interface 0: isb_starttime is in microseconds although if_tsresol says otherwise (dumpcap 4.0 writes it so); read as microseconds',
      'interface 0: isb_endtime lies more than a day from the packets; ignored',
    ]);
  });

  it('skips name resolution, custom and unknown blocks', async () => {
    const blocks = [
      nrb(),
      idb(),
      customBlock(0xbad, payload(13)),
      epb({ ts: 1n, data: payload(10) }),
      customBlock(0x40000bad, payload(1)),
      block(0x0000000a, (out) => out.raw(payload(33))), // decryption secrets
      block(0x80000001, (out) => out.raw(payload(8))), // local use
      block(0x12345678, () => {}),
      epb({ ts: 2n, data: payload(11) }),
    ];
    const { summary, packets, bytes } = await read([{ littleEndian, blocks }]);
    expect(packets.map((p) => p.data)).toEqual([payload(10), payload(11)]);
    expect(summary).toMatchObject({ problem: null, bytesRead: bytes.length, warnings: [] });
  });
});

/** Timestamps around the awkward places: 0, second boundaries, high-word changes, the 64-bit maximum. */
function timestampSamples(perSecond: bigint): bigint[] {
  const max = (1n << 64n) - 1n;
  const samples = [0n, 1n, perSecond - 1n, perSecond, perSecond + 1n, (1n << 32n) - 1n, 1n << 32n, (5n << 32n) + 17n];
  samples.push(1_700_000_000n * perSecond + perSecond / 2n, 1_700_000_000n * perSecond + perSecond / 2n - 1n);
  samples.push(1_700_000_000n * perSecond + perSecond - 1n, max, max - perSecond / 3n);
  let seed = 0x2545f491n;
  for (let i = 0; i < 40; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & max;
    samples.push(seed % (perSecond * 4_000_000_000n < max ? perSecond * 4_000_000_000n : max));
  }
  return samples.filter((s) => (perSecond === 1n ? s < 1n << 53n : true) && s <= max);
}

describe('pcapng sections', () => {
  it('reads several sections of mixed byte order; interface ids restart per section', async () => {
    const { summary, packets } = await read([
      {
        littleEndian: true,
        blocks: [idb({ linkType: 1 }), idb({ linkType: 0 }), epb({ interfaceId: 1, ts: 1_000_000n, data: payload(8) })],
      },
      { littleEndian: false, blocks: [idb({ linkType: 101, tsresol: 9 }), epb({ interfaceId: 0, ts: 2_000_000_005n, data: payload(9) })] },
      {
        littleEndian: true,
        version: [1, 2],
        blocks: [idb({ linkType: 113 }), spb(payload(10)), epb({ interfaceId: 0, ts: 3_000_000n, data: payload(11) })],
      },
    ]);
    expect(summary).toMatchObject({ byteOrder: 'mixed', version: '1.0', linkTypes: [1, 0, 101, 113], packets: 4, problem: null });
    expect(summary.interfaces.map((i) => [i.section, i.id, i.linkType])).toEqual([
      [0, 0, 1],
      [0, 1, 0],
      [1, 0, 101],
      [2, 0, 113],
    ]);
    expect(packets.map((p) => [p.index, p.interfaceId, p.linkType, p.tsSec, p.tsNsec, p.hasTimestamp])).toEqual([
      [1, 1, 0, 1, 0, true],
      [2, 0, 101, 2, 5, true],
      [3, 0, 113, 0, 0, false],
      [4, 0, 113, 3, 0, true],
    ]);
  });

  it('a later section cannot use an interface of an earlier one', async () => {
    const first = buildPcapng([{ littleEndian: true, blocks: [idb(), idb()] }]);
    const { summary } = await read(
      Buffer.concat([first, buildPcapng([{ littleEndian: true, blocks: [idb(), epb({ interfaceId: 1, ts: 0n, data: payload(4) })] }])]),
    );
    expect(summary.problem).toMatchObject({ kind: 'corrupt', message: 'packet on interface 1, but section 1 describes 1 interfaces' });
  });

  it('stops at a later section of an unsupported version, keeping what came before', async () => {
    const first = buildPcapng([{ littleEndian: true, blocks: [idb(), epb({ ts: 1n, data: payload(4) })] }]);
    const { summary, packets } = await read(
      Buffer.concat([first, buildPcapng([{ littleEndian: false, version: [2, 0], blocks: [idb(), epb({ ts: 1n, data: payload(4) })] }])]),
    );
    expect(packets).toHaveLength(1);
    expect(summary.problem).toEqual({
      kind: 'corrupt',
      offset: first.length,
      message: 'section 1: pcapng version 2.0 is not supported (only 1.x)',
    });
    expect(summary.bytesRead).toBe(first.length);
  });

  it.each([
    [0, 1],
    [2, 0],
  ])('rejects a first section of version %d.%d with EUNSUPPORTED', async (major, minor) => {
    const error = await readError(buildPcapng([{ littleEndian: true, version: [major, minor], blocks: [idb()] }]));
    expect(error.code).toBe('EUNSUPPORTED');
    expect(error.message).toContain(`pcapng version ${major}.${minor} is not supported`);
  });
});

describe('pcapng corruption', () => {
  const le = true;
  const good = [idb(), epb({ ts: 1n, data: payload(16) })];

  /** A file of SHB + good blocks + `bad`, and the offset where `bad` starts. */
  function withBadBlock(bad: BlockWriter, after: BlockWriter[] = []) {
    const offsets = blockOffsets(le, good);
    return { bytes: buildPcapng([{ littleEndian: le, blocks: [...good, bad, ...after] }]), badAt: offsets[offsets.length - 1] };
  }

  it.each([
    ['0', 0, /below the minimum of 12/],
    ['7', 7, /below the minimum of 12/],
    ['13', 13, /not a multiple of 4/],
    ['0xFFFFFFF0', 0xfffffff0, /exceeds the maximum/],
    ['MAX + 4', MAX_BLOCK_LENGTH + 4, /exceeds the maximum/],
  ])('block total length %s is corrupt at its offset', async (_label, length, message) => {
    const { bytes, badAt } = withBadBlock(rawBlock(6, length, payload(24)), [epb({ ts: 2n, data: payload(4) })]);
    const { summary, packets } = await read(bytes);
    expect(packets).toHaveLength(1);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: badAt });
    expect(summary.problem!.message).toMatch(message);
    expect(summary.bytesRead).toBe(badAt);
  });

  it('a trailing length that differs is corrupt', async () => {
    const { bytes, badAt } = withBadBlock(rawBlock(4, 16, payload(4), 20));
    const { summary } = await read(bytes);
    expect(summary.problem).toEqual({ kind: 'corrupt', offset: badAt, message: 'block total length 16 differs from its trailing copy 20' });
  });

  it('an EPB caplen larger than its block is corrupt', async () => {
    const { bytes, badAt } = withBadBlock(epb({ ts: 1n, data: payload(16), caplen: 0xffffffff }));
    const { summary, packets } = await read(bytes);
    expect(packets).toHaveLength(1);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: badAt, message: expect.stringContaining('caplen 4294967295') });
  });

  it.each([
    ['EPB', rawBlock(6, 28, payload(16))],
    ['SPB', rawBlock(3, 12, payload(0))],
    ['IDB', rawBlock(1, 16, payload(4))],
    ['ISB', rawBlock(5, 20, payload(8))],
  ])('an %s too short for its fixed fields is corrupt', async (_label, bad) => {
    const { bytes, badAt } = withBadBlock(bad);
    const { summary } = await read(bytes);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: badAt, message: expect.stringContaining('shorter than') });
  });

  it('an option that does not fit its block is corrupt', async () => {
    const idbBody = Buffer.alloc(8 + 4);
    idbBody.writeUInt16LE(1, 0);
    idbBody.writeUInt32LE(65535, 4);
    idbBody.writeUInt16LE(2, 8); // if_name
    idbBody.writeUInt16LE(12336, 10); // of length 12336
    const { bytes, badAt } = withBadBlock(rawBlock(1, 12 + idbBody.length, idbBody));
    const { summary } = await read(bytes);
    expect(summary.problem).toEqual({
      kind: 'corrupt',
      offset: badAt,
      message: 'interface description block: option 2 of length 12336 does not fit in the block',
    });
  });

  it('a packet on an undescribed interface is corrupt', async () => {
    const { bytes, badAt } = withBadBlock(epb({ interfaceId: 1, ts: 1n, data: payload(4) }));
    const { summary } = await read(bytes);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: badAt });
  });

  it('an SPB before any IDB is corrupt', async () => {
    const { summary } = await read([{ littleEndian: false, blocks: [spb(payload(4))] }]);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', message: 'packet on interface 0, but section 0 describes 0 interfaces' });
  });

  it('an if_tsresol finer than 10^-15 s is corrupt', async () => {
    const { bytes, badAt } = withBadBlock(idb({ tsresol: 16 }));
    const { summary } = await read(bytes);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: badAt, message: expect.stringContaining('if_tsresol 0x10') });
  });

  it('a later section header with a bad byte-order magic is corrupt', async () => {
    const { bytes, badAt } = withBadBlock(rawBlock(0x0a0d0d0a, 28, Buffer.from('1a2b3c4e010000000000000000000000', 'hex')));
    const { summary } = await read(bytes);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: badAt, message: expect.stringContaining('byte-order magic') });
  });

  it('stops quickly at a 4 GB block length, without reading on', async () => {
    const junk = Buffer.alloc(4 << 20, 0xee);
    const { bytes, badAt } = withBadBlock(rawBlock(6, 0xfffffff0, junk));
    const started = Date.now();
    const { summary } = await read(bytes);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: badAt });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a damaged first section header is a CaptureFileError', async () => {
    const shb = buildPcapng([{ littleEndian: true, blocks: [] }]);
    const badTrailer = Buffer.from(shb);
    badTrailer.writeUInt32LE(0x30303030, badTrailer.length - 4);
    expect((await readError(badTrailer)).code).toBe('ENOTCAPTURE');
    const badMagic = Buffer.from(shb);
    badMagic.writeUInt32LE(0x11223344, 8);
    const error = await readError(badMagic);
    expect(error.code).toBe('ENOTCAPTURE');
    expect(error.message).toContain('unreadable pcapng section header: section header block has a bad byte-order magic 0x44332211');
  });
});

describe('readPcapng called directly', () => {
  it('refuses a file that does not start with a section header block', async () => {
    const file = temp.write('not-pcapng.pcapng', Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex'));
    await expect(readPcapng(file, () => {})).rejects.toMatchObject({
      code: 'ENOTCAPTURE',
      message: expect.stringContaining('file does not start with a section header block'),
    });
  });
});

describe('pcapng buffering', () => {
  it('reads packets across chunk boundaries and blocks larger than a chunk', async () => {
    const blocks: BlockWriter[] = [idb({ tsresol: 9 })];
    const expected: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const data = payload(1000 + (i % 517), i);
      expected.push(data);
      blocks.push(epb({ ts: BigInt(i) * 1_000_000_007n, data }));
      if (i === 1500) {
        const big = payload(3 << 20, 99); // a 3 MiB packet: the buffer must grow
        expected.push(big);
        blocks.push(epb({ ts: 1n, data: big }));
      }
    }
    const { summary, packets, bytes } = await read([{ littleEndian: true, blocks }]);
    expect(summary).toMatchObject({ packets: expected.length, problem: null, bytesRead: bytes.length });
    packets.forEach((p, i) => expect(p.data.equals(expected[i]), `packet ${i + 1}`).toBe(true));
    expect(packets.map((p) => p.index)).toEqual(expected.map((_, i) => i + 1));
  });

  it('hands out views into one buffer: no copy per packet', async () => {
    const buffers = new Set<Uint8Array>();
    const packets = Array.from({ length: 50 }, (_, i) => epb({ ts: BigInt(i), data: payload(100, i) }));
    const file = temp.write('views.pcapng', buildPcapng([{ littleEndian: true, blocks: [idb(), ...packets] }]));
    await readCapture(file, (p) => buffers.add(p.buf));
    expect(buffers.size).toBe(1);
  });
});

describe('mulDivRound', () => {
  it('equals round-half-up of a * m / d computed with BigInt', () => {
    let seed = 12345n;
    const next = (limit: bigint) => {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
      return (seed >> 11n) % limit;
    };
    for (let i = 0; i < 2000; i++) {
      const d = 1n + next(1n << BigInt(1 + (i % 52)));
      const a = next(d);
      const expected = (a * 2_000_000_000n + d) / (2n * d);
      expect(mulDivRound(Number(a), 1e9, Number(d)), `${a} * 1e9 / ${d}`).toBe(Number(expected));
    }
    expect(mulDivRound(2 ** 52 - 1, 1e9, 2 ** 52)).toBe(1e9);
    expect(mulDivRound(1, 1e9, 2 ** 52)).toBe(0);
  });
});
