/**
 * Every file of the public corpus (/work/shared/corpus, beside the repository) against what TShark
 * reported for it: packet counts, SYN frame timestamps, and the 9 files tshark could not read fully.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureFileError, type CaptureSummary } from '../../src/read/types.js';
import { CORPUS_DIR, formatEpoch, readAll, type CopiedPacket } from './build.js';

if (!existsSync(path.join(CORPUS_DIR, 'oracle', 'SUMMARY.tsv'))) {
  throw new Error(`public corpus not found at ${CORPUS_DIR}: the repository expects shared/corpus beside it`);
}

const FILES_DIR = path.join(CORPUS_DIR, 'files');
const ORACLE_DIR = path.join(CORPUS_DIR, 'oracle');

interface OracleRow {
  file: string;
  readStatus: string;
  totalPackets: number;
  capinfosPackets: number | null;
}

function loadSummary(): Map<string, OracleRow> {
  const [head, ...lines] = readFileSync(path.join(ORACLE_DIR, 'SUMMARY.tsv'), 'utf8').trimEnd().split('\n');
  const columns = head.split('\t');
  const at = (name: string) => columns.indexOf(name);
  const rows = new Map<string, OracleRow>();
  for (const line of lines) {
    const cells = line.split('\t');
    const capinfos = cells[at('capinfos_packets')];
    rows.set(cells[at('file')], {
      file: cells[at('file')],
      readStatus: cells[at('read_status')],
      totalPackets: Number(cells[at('total_packets')]),
      capinfosPackets: capinfos === 'NA' ? null : Number(capinfos),
    });
  }
  return rows;
}

/** frame.number -> frame.time_epoch of the SYN frames tshark listed. */
function loadSynTimes(file: string): Map<number, string> {
  const text = readFileSync(path.join(ORACLE_DIR, `${file}.tsv`), 'utf8');
  const times = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [frame, epoch] = line.split('\t');
    times.set(Number(frame), epoch);
  }
  return times;
}

interface ManifestRow {
  format: string;
  variant: string;
  linkTypes: number[];
}

function loadManifest(): Map<string, ManifestRow> {
  const [head, ...lines] = readFileSync(path.join(FILES_DIR, 'MANIFEST.tsv'), 'utf8').trimEnd().split('\n');
  const columns = head.split('\t');
  const at = (name: string) => columns.indexOf(name);
  const rows = new Map<string, ManifestRow>();
  for (const line of lines) {
    const cells = line.split('\t');
    rows.set(cells[at('filename')], {
      format: cells[at('format')],
      variant: cells[at('variant')],
      linkTypes: cells[at('linktypes')].split(',').map(Number),
    });
  }
  return rows;
}

const oracle = loadSummary();
const manifest = loadManifest();
const captureFiles = readdirSync(FILES_DIR).filter((f) => f !== 'MANIFEST.tsv').sort();

/** tshark counts the 3 pcapng Custom Blocks of this file as frames; they are not packets (capinfos: 8). */
const COUNT_OVERRIDES: Record<string, number> = { 'gopacket__be__test202.pcapng': 8 };

type Expectation =
  | { error: CaptureFileError['code']; message: RegExp }
  | { packets: number; problem: { kind: 'cut-short' | 'corrupt'; offset: number; message: RegExp } | null; warning?: RegExp };

/** What synprobe does with the 9 files tshark could not read fully. */
const BROKEN: Record<string, Expectation> = {
  // 2nd SHB has version 2.0: keep the 1st section's packet, stop there.
  'gopacket__le__test901.pcapng': { packets: 1, problem: { kind: 'corrupt', offset: 480, message: /section 1: pcapng version 2\.0/ } },
  // Reserved bits in the link-type field: a warning, not a failure (the file has a header only).
  'libpcap__linktype-reserved-field-not-zero.pcap': { packets: 0, problem: null, warning: /reserved bits/ },
  'libpcap__pcap-invalid-version-1.pcap': { error: 'EUNSUPPORTED', message: /pcap version 1\.4/ },
  'libpcap__pcapng-invalid-vers-1.pcapng': { error: 'EUNSUPPORTED', message: /pcapng version 0\.1/ },
  // The first section header itself is damaged: nothing of the file can be trusted.
  'libpcap__shb-option-too-long.pcapng': { error: 'ENOTCAPTURE', message: /unreadable pcapng section header/ },
  // Version 2.0 stores len before caplen (swapped like libpcap does); FCS bits warned; cut short.
  'nDPI__fuzz-2021-10-13.pcap': {
    packets: 1,
    problem: { kind: 'cut-short', offset: 237, message: /incomplete record header/ },
    warning: /FCS/,
  },
  'suricata-verify__bug-1450-04__tls_DER-incomplete-header.pcap': {
    packets: 6,
    problem: { kind: 'corrupt', offset: -1, message: /caplen 4325376 exceeds/ },
  },
  // libpcap (tcpdump) reads 1 packet, then finds caplen 1409179648 in the record at 228. tshark's 2nd
  // "packet" (caplen 1, time -1409179648 s) comes from its guess that this is a modified pcap variant.
  'suricata-verify__bug-6875-01__fuzz.pcap': {
    packets: 1,
    problem: { kind: 'corrupt', offset: 228, message: /caplen 1409179648 exceeds/ },
  },
  'suricata-verify__pgsql__pgsql-5000-query-results__input.pcap': {
    packets: 785,
    problem: { kind: 'cut-short', offset: -1, message: /incomplete/ },
  },
};

async function readOrError(file: string): Promise<{ summary: CaptureSummary; packets: CopiedPacket[] } | CaptureFileError> {
  try {
    return await readAll(path.join(FILES_DIR, file));
  } catch (error) {
    if (error instanceof CaptureFileError) return error;
    throw error;
  }
}

/** Offset just past the last delivered record: where a problem after it must be. */
function endOfRecords(result: { summary: CaptureSummary }): number {
  return result.summary.bytesRead;
}

/** Format, byte order, resolution and link types agree with MANIFEST.tsv. */
function checkHeaderFacts(summary: CaptureSummary, row: ManifestRow): void {
  expect(summary.format).toBe(row.format);
  const byteOrder: Record<string, string> = {
    'pcap-le-us': 'LE',
    'pcap-be-us': 'BE',
    'pcap-le-ns': 'LE',
    'pcapng-le': 'LE',
    'pcapng-be': 'BE',
    'pcapng-mixed': 'mixed',
  };
  expect(summary.byteOrder).toBe(byteOrder[row.variant]);
  if (row.format === 'pcap') expect(summary.nanosecond).toBe(row.variant === 'pcap-le-ns');
  expect([...summary.linkTypes].sort((a, b) => a - b)).toEqual(row.linkTypes);
}

describe('public corpus', () => {
  it('has the 80 files the README describes, each with an oracle row', () => {
    expect(captureFiles).toHaveLength(80);
    for (const f of captureFiles) expect(oracle.has(f), f).toBe(true);
  });

  it.each(captureFiles)('%s', async (file) => {
    const row = oracle.get(file)!;
    const result = await readOrError(file);
    const broken = BROKEN[file];
    if (broken === undefined) {
      expect(row.readStatus).toBe('ok');
      if (result instanceof CaptureFileError) throw result;
      expect(result.summary.problem).toBeNull();
      expect(result.summary.packets).toBe(COUNT_OVERRIDES[file] ?? row.totalPackets);
      expect(result.packets).toHaveLength(result.summary.packets);
      expect(result.summary.bytesRead).toBe(result.summary.fileSize);
    } else if ('error' in broken) {
      expect(result).toBeInstanceOf(CaptureFileError);
      expect((result as CaptureFileError).code).toBe(broken.error);
      expect((result as CaptureFileError).message).toMatch(broken.message);
    } else {
      if (result instanceof CaptureFileError) throw result;
      expect(result.summary.packets).toBe(broken.packets);
      if (broken.problem === null) {
        expect(result.summary.problem).toBeNull();
      } else {
        const expectedOffset = broken.problem.offset >= 0 ? broken.problem.offset : endOfRecords(result);
        expect(result.summary.problem).toMatchObject({ kind: broken.problem.kind, offset: expectedOffset });
        expect(result.summary.problem!.message).toMatch(broken.problem.message);
        expect(result.summary.bytesRead).toBe(expectedOffset);
      }
      if (broken.warning) expect(result.summary.warnings.join('\n')).toMatch(broken.warning);
    }
    if (result instanceof CaptureFileError) return;
    checkHeaderFacts(result.summary, manifest.get(file)!);
    const synTimes = loadSynTimes(file);
    const frameOf = file === 'gopacket__be__test202.pcapng' ? null : (p: CopiedPacket) => p.index;
    if (frameOf === null) {
      expect(synTimes.size).toBe(0);
      return;
    }
    let checked = 0;
    for (const p of result.packets) {
      const expected = synTimes.get(frameOf(p));
      if (expected === undefined) continue;
      expect(formatEpoch(p), `frame ${p.index}`).toBe(expected);
      checked++;
    }
    expect(checked).toBe(synTimes.size);
  });
});

/** Values checked by hand against `tshark -T fields -e frame.time_epoch -e frame.interface_id -e frame.cap_len`. */
describe('public corpus: pcapng details', () => {
  const read = async (file: string) => {
    const result = await readOrError(file);
    if (result instanceof CaptureFileError) throw result;
    return result;
  };

  it('gopacket__be__test902.pcapng: if_tsresol 2^-8 s', async () => {
    const { summary, packets } = await read('gopacket__be__test902.pcapng');
    expect(summary.interfaces[0].tsUnitsPerSecond).toBe(256);
    expect(packets.map(formatEpoch)).toEqual(['1519128000.195312500']);
  });

  it('gopacket__be__test008.pcapng: big-endian, two nanosecond interfaces', async () => {
    const { summary, packets } = await read('gopacket__be__test008.pcapng');
    expect(summary.nanosecond).toBe(true);
    expect(packets.map((p) => [formatEpoch(p), p.interfaceId])).toEqual([
      ['1340954.905298858', 0],
      ['1340954.905299858', 1],
      ['1340954.905300858', 0],
      ['1340954.905301858', 1],
    ]);
  });

  it('gopacket__be__test202.pcapng: 3 sections BE/LE/BE, SPBs, custom blocks skipped', async () => {
    const { summary, packets } = await read('gopacket__be__test202.pcapng');
    expect(summary.byteOrder).toBe('mixed');
    expect(summary.untimedPackets).toBe(2);
    // Its first ISB: isb_filteraccept (6) = 42, isb_ifdrop (5) = 10 (read off the bytes).
    expect(summary.interfaces[2]).toMatchObject({ startTime: [1340954905, 298858000], endTime: [1340954905, 299858000], ifDrops: 10 });
    // Its ISB: isb_ifrecv (4) = 100, isb_ifdrop (5) = 1, isb_osdrop (7) = 42 (read off the bytes).
    expect(summary.interfaces[3]).toMatchObject({ name: 'eth0', received: 100, ifDrops: 1, osDrops: 42 });
    expect(summary.interfaces.map((i) => [i.section, i.id, i.linkType])).toEqual([
      [0, 0, 1],
      [0, 1, 0],
      [1, 0, 1],
      [2, 0, 1],
      [2, 1, 0],
    ]);
    const untimed = (p: CopiedPacket) => (p.hasTimestamp ? formatEpoch(p) : null);
    expect(packets.map((p) => [untimed(p), p.interfaceId, p.linkType, p.origLen, p.caplen])).toEqual([
      ['1340954905.298858000', 0, 1, 314, 96],
      ['1340954905.298858000', 0, 1, 342, 96],
      ['1340954905.301858000', 1, 0, 168, 168],
      [null, 0, 1, 314, 128],
      ['1340954905.298858000', 0, 1, 342, 128],
      [null, 0, 1, 314, 128],
      ['1340954905.298858000', 0, 1, 342, 128],
      ['1340954905.301858000', 1, 0, 168, 168],
    ]);
  });

  it('zeek__pcapng-multi-interface.pcapng: one ns and one µs interface', async () => {
    const { summary, packets } = await read('zeek__pcapng-multi-interface.pcapng');
    expect(summary.interfaces.map((i) => i.tsUnitsPerSecond)).toEqual([1e9, 1e6]);
    expect(summary.nanosecond).toBe(false);
    expect(packets.map((p) => [formatEpoch(p), p.interfaceId])).toEqual([
      ['1767663089.500330493', 0],
      ['1767663089.514291940', 0],
      ['1767663437.111897000', 1],
      ['1767663437.126460000', 1],
      ['1767663437.128303000', 1],
      ['1767663437.140942000', 1],
    ]);
  });

  it('zeek__ldap__gap-data-missing.pcapng: 126 interfaces, every packet on interface 48', async () => {
    const { summary, packets } = await read('zeek__ldap__gap-data-missing.pcapng');
    expect(summary.interfaces).toHaveLength(126);
    expect(new Set(packets.map((p) => p.interfaceId))).toEqual(new Set([48]));
    expect(new Set(packets.map((p) => p.linkType))).toEqual(new Set([1]));
  });

  it('nDPI__tcp_scan.pcapng is a classic pcap despite its name', async () => {
    const { summary } = await read('nDPI__tcp_scan.pcapng');
    expect(summary.format).toBe('pcap');
  });
});
