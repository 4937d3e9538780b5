/**
 * Every prefix of a small pcap and a small pcapng: a summary whose packets are exactly the whole
 * records in the prefix (and a cut-short problem at the first incomplete one), or, while the file
 * header itself is incomplete, a CaptureFileError. Never another exception, never a hang.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureFileError } from '../../src/read/types.js';
import { buildPcap, buildPcapng, customBlock, epb, idb, isb, makeTempDir, nrb, payload, readAll, spb, type BlockWriter } from './build.js';

const temp = makeTempDir();
afterAll(() => temp.remove());

interface Layout {
  bytes: Buffer;
  /** Where the file header (pcap header, first SHB) ends. */
  headerEnd: number;
  /** [start, end) of each record; `packet` when it holds one. */
  records: { start: number; end: number; packet: boolean }[];
}

function pcapLayout(): Layout {
  const specs = [60, 0, 1, 77].map((length, i) => ({ tsSec: 1000 + i, tsFrac: i, data: payload(length, i) }));
  const bytes = buildPcap({ littleEndian: false, nanosecond: true, records: specs });
  const records = [];
  let at = 24;
  for (const s of specs) {
    records.push({ start: at, end: at + 16 + s.data.length, packet: true });
    at += 16 + s.data.length;
  }
  return { bytes, headerEnd: 24, records };
}

function pcapngLayout(): Layout {
  const le = true;
  const blocks: [BlockWriter, boolean][] = [
    [idb({ tsresol: 9, name: 'any' }), false],
    [epb({ ts: 1n, data: payload(61) }), true],
    [nrb(), false],
    [spb(payload(13)), true],
    [customBlock(0xbad, payload(5)), false],
    [idb({ linkType: 276 }), false],
    [epb({ interfaceId: 1, ts: 2n, data: payload(1) }), true],
    [isb({ interfaceId: 0, ifDrop: 3n }), false],
  ];
  const sections = [
    { littleEndian: le, blocks: blocks.map(([b]) => b) },
    { littleEndian: !le, blocks: [idb(), epb({ ts: 3n, data: payload(7) })] },
  ];
  const bytes = buildPcapng(sections);
  const headerEnd = buildPcapng([{ littleEndian: le, blocks: [] }]).length;
  const records = [];
  let at = headerEnd;
  for (const [b, packet] of blocks) {
    const length = b(le).length;
    records.push({ start: at, end: at + length, packet });
    at += length;
  }
  const secondShb = buildPcapng([{ littleEndian: !le, blocks: [] }]).length;
  records.push({ start: at, end: at + secondShb, packet: false });
  at += secondShb;
  for (const [b, packet] of [[idb(), false], [epb({ ts: 3n, data: payload(7) }), true]] as [BlockWriter, boolean][]) {
    const length = b(!le).length;
    records.push({ start: at, end: at + length, packet });
    at += length;
  }
  expect(at).toBe(bytes.length);
  return { bytes, headerEnd, records };
}

async function checkEveryPrefix(name: string, layout: Layout): Promise<void> {
  const { bytes, headerEnd, records } = layout;
  const full = await readAll(temp.write(`${name}-full`, bytes));
  for (let length = 0; length <= bytes.length; length++) {
    const file = temp.write(`${name}-${length}`, bytes.subarray(0, length));
    const outcome = await readAll(file).catch((error: unknown) => error);
    if (length < headerEnd) {
      expect(outcome, `prefix ${length}`).toBeInstanceOf(CaptureFileError);
      expect((outcome as CaptureFileError).code).toBe(length === 0 ? 'EEMPTY' : 'ENOTCAPTURE');
      continue;
    }
    if (outcome instanceof Error) throw outcome;
    const { summary, packets } = outcome as Awaited<ReturnType<typeof readAll>>;
    const whole = records.filter((r) => r.end <= length);
    const cut = records.find((r) => r.start < length && r.end > length);
    expect(packets, `prefix ${length}`).toEqual(full.packets.slice(0, whole.filter((r) => r.packet).length));
    const boundary = whole.length > 0 ? whole[whole.length - 1].end : headerEnd;
    expect(summary.bytesRead, `prefix ${length}`).toBe(boundary);
    if (cut === undefined) {
      expect(summary.problem, `prefix ${length}`).toBeNull();
    } else {
      expect(summary.problem, `prefix ${length}`).toMatchObject({ kind: 'cut-short', offset: cut.start });
    }
  }
}

describe('every prefix of a file', () => {
  it('pcap (big-endian, nanosecond)', async () => {
    await checkEveryPrefix('pcap', pcapLayout());
  });

  it('pcapng (two sections, both byte orders, all block kinds)', async () => {
    await checkEveryPrefix('pcapng', pcapngLayout());
  });
});
