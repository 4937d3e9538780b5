/** The classic pcap reader (pcap-parser wrapped) on hand-built files. */
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/read/open.js';
import { CaptureFileError } from '../../src/read/types.js';
import { buildPcap, makeTempDir, payload, readAll, type PcapRecordSpec, type PcapSpec } from './build.js';

const temp = makeTempDir();
afterAll(() => temp.remove());
let fileCount = 0;

async function read(spec: PcapSpec | Buffer) {
  const bytes = Buffer.isBuffer(spec) ? spec : buildPcap(spec);
  return { bytes, ...(await readAll(temp.write(`f${fileCount++}.pcap`, bytes))) };
}

async function readError(spec: PcapSpec): Promise<CaptureFileError> {
  const error = await read(spec).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CaptureFileError);
  return error as CaptureFileError;
}

/** File offset of each record of `records`, and of the end. */
function recordOffsets(records: PcapRecordSpec[]): number[] {
  const offsets = [24];
  for (const r of records) offsets.push(offsets[offsets.length - 1] + 16 + r.data.length);
  return offsets;
}

const records: PcapRecordSpec[] = [
  { tsSec: 1_700_000_000, tsFrac: 0, data: payload(60) },
  { tsSec: 1_700_000_000, tsFrac: 999_999, data: payload(54, 1), origLen: 1514 },
  { tsSec: 0xffffffff, tsFrac: 1, data: payload(1, 2) },
  { tsSec: 1, tsFrac: 2, data: payload(0) },
];

describe.each([
  ['LE µs', true, false],
  ['BE µs', false, false],
  ['LE ns', true, true],
  ['BE ns', false, true],
])('pcap %s', (_name, littleEndian, nanosecond) => {
  it('round-trips packets and summary', async () => {
    const { summary, packets, bytes } = await read({ littleEndian, nanosecond, snapLen: 65535, linkTypeField: 113, records });
    const offsets = recordOffsets(records);
    expect(summary).toEqual({
      file: expect.any(String),
      format: 'pcap',
      byteOrder: littleEndian ? 'LE' : 'BE',
      nanosecond,
      version: '2.4',
      linkTypes: [113],
      snapLen: 65535,
      interfaces: [
        {
          section: 0,
          id: 0,
          linkType: 113,
          snapLen: 65535,
          tsUnitsPerSecond: nanosecond ? 1e9 : 1e6,
          tsOffsetSec: 0,
          name: null,
          received: null,
          ifDrops: null,
          osDrops: null,
          startTime: null,
          endTime: null,
        },
      ],
      packets: 4,
      untimedPackets: 0,
      fileSize: bytes.length,
      bytesRead: bytes.length,
      problem: null,
      warnings: [],
    });
    const scale = nanosecond ? 1 : 1000;
    expect(packets).toEqual(
      records.map((r, i) => ({
        tsSec: r.tsSec,
        tsNsec: r.tsFrac * scale,
        hasTimestamp: true,
        linkType: 113,
        interfaceId: 0,
        caplen: r.data.length,
        origLen: r.origLen ?? r.data.length,
        fileOffset: offsets[i],
        index: i + 1,
        data: Buffer.from(r.data),
      })),
    );
  });

  it('keeps an out-of-range fraction as written', async () => {
    const fraction = nanosecond ? 1_000_000_000 : 1_000_000;
    const { packets } = await read({ littleEndian, nanosecond, records: [{ tsSec: 5, tsFrac: fraction, data: payload(4) }] });
    expect(packets[0]).toMatchObject({ tsSec: 5, tsNsec: 1_000_000_000 });
  });

  it('stops at a caplen of 0xFFFFFFFF with a corrupt problem at that record', async () => {
    const bad = { tsSec: 9, tsFrac: 0, data: payload(32), caplen: 0xffffffff };
    const spec = { littleEndian, nanosecond, records: [...records.slice(0, 2), bad, ...records] };
    const started = Date.now();
    const { summary, packets } = await read(spec);
    expect(packets).toHaveLength(2);
    const at = recordOffsets(records)[2];
    expect(summary.problem).toEqual({
      kind: 'corrupt',
      offset: at,
      message: 'record caplen 4294967295 exceeds the maximum of 262144 (header snaplen 262144)',
    });
    expect(summary.bytesRead).toBe(at);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('pcap header', () => {
  it.each([
    [1, 4],
    [3, 0],
    [0, 0],
  ])('rejects version %d.%d with EUNSUPPORTED', async (major, minor) => {
    const error = await readError({ version: [major, minor], records });
    expect(error.code).toBe('EUNSUPPORTED');
    expect(error.message).toContain(`pcap version ${major}.${minor} is not supported (only 2.x)`);
  });

  it('warns about reserved bits in the link-type field and uses the low 16 bits', async () => {
    const { summary, packets } = await read({ linkTypeField: 0x00300001, records });
    expect(summary.linkTypes).toEqual([1]);
    expect(packets[0].linkType).toBe(1);
    expect(summary.warnings).toEqual(['link-type field 0x00300001 has reserved bits set; ignored, link type 1']);
  });

  it('warns about FCS bits in the link-type field', async () => {
    const { summary } = await read({ linkTypeField: 0x40000000, records });
    expect(summary.linkTypes).toEqual([0]);
    expect(summary.warnings).toEqual(['link-type field 0x40000000 has FCS bits set (FCS length without its present bit); link type 0']);
    const withFcs = await read({ linkTypeField: 0x24000001, records });
    expect(withFcs.summary.warnings).toEqual(['link-type field 0x24000001 has FCS bits set (frames end with a 4-byte FCS); link type 1']);
  });

  it('reads version 2.2 files, whose records hold len before caplen', async () => {
    const swapped = [{ tsSec: 1, tsFrac: 0, data: payload(20), caplen: 1514, origLen: 20 }];
    const { summary, packets } = await read({ version: [2, 2], records: [...swapped, ...swapped] });
    expect(summary).toMatchObject({ version: '2.2', packets: 2, problem: null });
    expect(packets[1]).toMatchObject({ caplen: 20, origLen: 1514, data: payload(20) });
  });

  it('reads version 2.3 files, swapping only when caplen > len', async () => {
    const swapped = { tsSec: 1, tsFrac: 0, data: payload(20), caplen: 1514, origLen: 20 };
    const straight = { tsSec: 2, tsFrac: 0, data: payload(30), origLen: 1514 };
    const { packets } = await read({ version: [2, 3], records: [swapped, straight] });
    expect(packets.map((p) => [p.caplen, p.origLen])).toEqual([
      [20, 1514],
      [30, 1514],
    ]);
  });
});

describe('pcap caplen limit', () => {
  it('accepts a caplen above 262144 up to the header snaplen', async () => {
    const big = { tsSec: 1, tsFrac: 0, data: payload(300_000) };
    const { summary, packets } = await read({ snapLen: 300_000, records: [big, ...records] });
    expect(summary.problem).toBeNull();
    expect(packets[0].data.equals(big.data)).toBe(true);
  });

  it('rejects a caplen above 262144 when the snaplen is smaller', async () => {
    const big = { tsSec: 1, tsFrac: 0, data: payload(262_145) };
    const { summary, packets } = await read({ snapLen: 65535, records: [...records, big, ...records] });
    expect(packets).toHaveLength(4);
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: recordOffsets(records)[4] });
  });

  it('does not let a huge header snaplen disable the limit', async () => {
    const bad = { tsSec: 1, tsFrac: 0, data: payload(8), caplen: 0xfffffff0 };
    const { summary } = await read({ snapLen: 0xffffffff, records: [bad, ...records] });
    expect(summary.problem).toMatchObject({ kind: 'corrupt', offset: 24, message: expect.stringContaining(`maximum of ${16 << 20}`) });
  });
});

describe('pcap reading', () => {
  it('reads packets across the 1 MiB stream chunks', async () => {
    const many: PcapRecordSpec[] = Array.from({ length: 3000 }, (_, i) => ({ tsSec: i, tsFrac: i, data: payload(600 + (i % 900), i) }));
    const { summary, packets, bytes } = await read({ records: many });
    expect(bytes.length).toBeGreaterThan(2 << 20);
    expect(summary).toMatchObject({ packets: 3000, problem: null, bytesRead: bytes.length });
    const offsets = recordOffsets(many);
    packets.forEach((p, i) => {
      expect(p.index).toBe(i + 1);
      expect(p.fileOffset).toBe(offsets[i]);
      expect(p.data.equals(many[i].data), `packet ${i + 1}`).toBe(true);
    });
  });

  it('rejects with the callback error, and stops', async () => {
    const file = temp.write('throws.pcap', buildPcap({ records }));
    let calls = 0;
    const failure = new Error('callback failed');
    await expect(
      readCapture(file, () => {
        calls += 1;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });
});
