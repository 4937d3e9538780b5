/**
 * Classic pcap reader. Two record loops share the header checks and the rules below:
 * - `readPcap` (the default): an own loop over one reusable 1 MiB buffer, like the pcapng reader;
 *   a packet is a view into that buffer, so nothing is allocated per packet;
 * - `readPcapWithParser`: the npm package `pcap-parser`, the project's original choice, kept for the
 *   lead's decision (bench/PERFORMANCE.md: on 2M packets it spends ~4 s where the own loop spends
 *   ~0.15 s, which alone keeps analyze from the target against tshark).
 * Both:
 * - validate the 24-byte file header here (pcap-parser's own version check is wrong);
 * - read nanosecond files (pcap-parser only knows the microsecond magic: it is fed a stream whose
 *   magic is rewritten to the microsecond one, and its `timestampMicroseconds` is read as nanoseconds);
 * - stop at a bogus caplen (pcap-parser would buffer, by repeated copying, up to caplen bytes);
 * - report a record cut short at the end of the file, with its offset;
 * - read the 2.0-2.2 (and sometimes 2.3) files that store caplen and len swapped like libpcap does.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { ChunkReader, CHUNK_SIZE } from './chunk-reader.js';
import { CaptureFileError, failIo, ioFailure, newInterfaceInfo, newPacketRecord, type CaptureSummary, type PacketCallback, type PacketRecord, type ReadProblem } from './types.js';

const HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
/** libpcap's maximum snapshot length for most link types. */
const MAX_SNAPLEN = 262144;
/** A header snaplen above this does not raise the caplen limit further (libpcap's largest, for D-Bus, is 128 MiB). */
const SNAPLEN_CEILING = 16 << 20;
const LINKTYPE_RESERVED_BITS = 0x03ff0000;
const LINKTYPE_FCS_BITS = 0xfc000000;
const LINKTYPE_FCS_PRESENT = 0x04000000;

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;

interface PcapHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  major: number;
  minor: number;
  snapLen: number;
  /** The whole 32-bit field; the link type is its low 16 bits. */
  linkTypeField: number;
  linkType: number;
}

/** The parts of pcap-parser's parser object used here (see node_modules/pcap-parser/lib/pcap-parser.js). */
interface PcapParserRecordHeader {
  timestampSeconds: number;
  timestampMicroseconds: number;
  capturedLength: number;
  originalLength: number;
}

interface PcapParser {
  errored?: boolean;
  on(event: 'packetHeader', listener: (header: PcapParserRecordHeader) => void): this;
  on(event: 'packet', listener: (packet: { header: PcapParserRecordHeader; data: Buffer }) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

/** pcap-parser, loaded when readPcapWithParser first needs it (readPcap does not). */
let pcapParserModule: { parse(input: Readable): PcapParser } | null = null;

function pcapParser(): { parse(input: Readable): PcapParser } {
  pcapParserModule ??= createRequire(import.meta.url)('pcap-parser') as { parse(input: Readable): PcapParser };
  return pcapParserModule;
}

/**
 * Parses and validates a classic pcap file header. Throws CaptureFileError for a header synprobe
 * cannot read: short, bad magic, or a major version other than 2.
 */
function parsePcapHeader(file: string, bytes: Uint8Array): PcapHeader {
  if (bytes.length < HEADER_LENGTH) {
    const message = `pcap file header cut short: ${bytes.length} of ${HEADER_LENGTH} bytes`;
    throw new CaptureFileError(file, null, 'ENOTCAPTURE', message);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LENGTH);
  const littleEndian = detectByteOrder(view);
  if (littleEndian === null) {
    throw new CaptureFileError(file, null, 'ENOTCAPTURE', `bad pcap magic 0x${view.getUint32(0).toString(16).padStart(8, '0')}`);
  }
  const major = view.getUint16(4, littleEndian);
  const minor = view.getUint16(6, littleEndian);
  if (major !== 2) {
    throw new CaptureFileError(file, null, 'EUNSUPPORTED', `pcap version ${major}.${minor} is not supported (only 2.x)`);
  }
  const linkTypeField = view.getUint32(20, littleEndian);
  return {
    littleEndian,
    nanosecond: view.getUint32(0, littleEndian) === MAGIC_NANO,
    major,
    minor,
    snapLen: view.getUint32(16, littleEndian),
    linkTypeField,
    linkType: linkTypeField & 0xffff,
  };
}

function detectByteOrder(view: DataView): boolean | null {
  for (const littleEndian of [true, false]) {
    const magic = view.getUint32(0, littleEndian);
    if (magic === MAGIC_MICRO || magic === MAGIC_NANO) return littleEndian;
  }
  return null;
}

/** Warnings for bits set above the 16-bit link type: reported, not fatal. */
function checkLinkTypeField(header: PcapHeader): string[] {
  const warnings: string[] = [];
  const field = header.linkTypeField;
  const hex = `0x${(field >>> 0).toString(16).padStart(8, '0')}`;
  if (field & LINKTYPE_RESERVED_BITS) {
    warnings.push(`link-type field ${hex} has reserved bits set; ignored, link type ${header.linkType}`);
  }
  if (field & LINKTYPE_FCS_BITS) {
    const words = field >>> 28; // FCS length in 16-bit words, valid when the "present" bit is set
    const fcs = field & LINKTYPE_FCS_PRESENT ? `frames end with a ${2 * words}-byte FCS` : 'FCS length without its present bit';
    warnings.push(`link-type field ${hex} has FCS bits set (${fcs}); link type ${header.linkType}`);
  }
  return warnings;
}

/** The largest caplen accepted before the file is declared corrupt. */
function maxCaplenOf(header: PcapHeader): number {
  return Math.max(MAX_SNAPLEN, Math.min(header.snapLen, SNAPLEN_CEILING));
}

/**
 * Reads a classic pcap file, calling `onPacket` synchronously for each packet. `file` must be a
 * regular file (readCapture checks that before calling here: opening a FIFO would hang).
 */
export async function readPcap(file: string, onPacket: PacketCallback): Promise<CaptureSummary> {
  const { handle, header, summary } = await openPcap(file);
  try {
    await walkRecords(file, handle, header, summary, onPacket);
    return summary;
  } finally {
    await handle.close();
  }
}

/** Like readPcap, with pcap-parser reading the records. */
export async function readPcapWithParser(file: string, onPacket: PacketCallback): Promise<CaptureSummary> {
  const { handle, header, summary } = await openPcap(file);
  return parseRecords(file, handle, header, summary, onPacket);
}

async function openPcap(file: string): Promise<{ handle: FileHandle; header: PcapHeader; summary: CaptureSummary }> {
  const handle = await open(file, 'r').catch((error: unknown) => failIo(file, 'cannot open', error));
  try {
    const fileSize = (await handle.stat()).size;
    const start = Buffer.alloc(HEADER_LENGTH);
    const { bytesRead } = await handle.read(start, 0, HEADER_LENGTH, 0);
    const header = parsePcapHeader(file, start.subarray(0, bytesRead));
    return { handle, header, summary: createSummary(file, header, fileSize) };
  } catch (error) {
    await handle.close();
    throw error instanceof CaptureFileError ? error : ioFailure(file, 'cannot read', error);
  }
}

function createSummary(file: string, header: PcapHeader, fileSize: number): CaptureSummary {
  return {
    file,
    format: 'pcap',
    byteOrder: header.littleEndian ? 'LE' : 'BE',
    nanosecond: header.nanosecond,
    version: `${header.major}.${header.minor}`,
    linkTypes: [header.linkType],
    snapLen: header.snapLen,
    interfaces: [
      newInterfaceInfo(0, 0, header.linkType, header.snapLen, header.nanosecond ? 1e9 : 1e6),
    ],
    packets: 0,
    untimedPackets: 0,
    fileSize,
    bytesRead: HEADER_LENGTH,
    problem: null,
    warnings: checkLinkTypeField(header),
  };
}

function createRecord(header: PcapHeader): PacketRecord {
  return newPacketRecord(header.linkType, true);
}

/** State of one pass of the own loop over the file. */
interface OwnWalk {
  header: PcapHeader;
  summary: CaptureSummary;
  record: PacketRecord;
  reader: ChunkReader;
  maxCaplen: number;
  onPacket: PacketCallback;
  /** File offset of the next record. */
  offset: number;
}

/** The own record loop: whole records from the buffer, more bytes read only when one is incomplete. */
async function walkRecords(file: string, handle: FileHandle, header: PcapHeader, summary: CaptureSummary, onPacket: PacketCallback): Promise<void> {
  const walk: OwnWalk = {
    header,
    summary,
    record: createRecord(header),
    reader: new ChunkReader(handle, file, HEADER_LENGTH),
    maxCaplen: maxCaplenOf(header),
    onPacket,
    offset: HEADER_LENGTH,
  };
  for (;;) {
    const needed = deliverBufferedRecords(walk);
    if (needed === 0) return;
    if (!(await walk.reader.fill(walk.offset, needed))) {
      summary.problem = ownCutShortProblem(walk);
      return;
    }
  }
}

/**
 * Delivers every whole record already in the buffer. Returns how many bytes from `walk.offset`
 * it needs to go on, or 0 when reading has stopped (a caplen beyond belief).
 */
function deliverBufferedRecords(walk: OwnWalk): number {
  const { reader, header, summary, record } = walk;
  const le = header.littleEndian;
  for (;;) {
    const available = reader.available(walk.offset);
    if (available < RECORD_HEADER_LENGTH) return RECORD_HEADER_LENGTH;
    const view = reader.view;
    const at = reader.indexOf(walk.offset);
    let caplen = view.getUint32(at + 8, le);
    let origLen = view.getUint32(at + 12, le);
    if (lengthsSwapped(header, caplen, origLen)) {
      const swapped = caplen;
      caplen = origLen;
      origLen = swapped;
    }
    if (caplen > walk.maxCaplen) {
      summary.problem = oversizedRecordProblemAt(walk.offset, walk.maxCaplen, header, caplen);
      return 0;
    }
    if (caplen === 0 && origLen === 0 && view.getUint32(at, le) === 0 && view.getUint32(at + 4, le) === 0) {
      summary.problem = zeroFilledProblemAt(walk.offset);
      return 0;
    }
    if (available < RECORD_HEADER_LENGTH + caplen) return RECORD_HEADER_LENGTH + caplen;
    record.tsSec = view.getUint32(at, le);
    const fraction = view.getUint32(at + 4, le);
    record.tsNsec = header.nanosecond ? fraction : fraction * 1000;
    record.caplen = caplen;
    record.origLen = origLen;
    record.buf = reader.buf;
    record.offset = at + RECORD_HEADER_LENGTH;
    record.fileOffset = walk.offset;
    record.index = summary.packets + 1;
    walk.onPacket(record);
    summary.packets += 1;
    walk.offset += RECORD_HEADER_LENGTH + caplen;
    summary.bytesRead = walk.offset;
  }
}

/** The file ended inside a record (or exactly after one: null). */
function ownCutShortProblem(walk: OwnWalk): ReadProblem | null {
  const left = walk.reader.available(walk.offset);
  if (left <= 0) return null;
  if (left < RECORD_HEADER_LENGTH) {
    return { kind: 'cut-short', offset: walk.offset, message: `incomplete record header at the end of the file: ${left} of ${RECORD_HEADER_LENGTH} bytes` };
  }
  const at = walk.reader.indexOf(walk.offset);
  const le = walk.header.littleEndian;
  const caplen = walk.reader.view.getUint32(at + 8, le);
  const origLen = walk.reader.view.getUint32(at + 12, le);
  const pending = lengthsSwapped(walk.header, caplen, origLen) ? origLen : caplen;
  return { kind: 'cut-short', offset: walk.offset, message: `incomplete packet at the end of the file: ${left - RECORD_HEADER_LENGTH} of ${pending} bytes` };
}

/** Counts the bytes going through, and gives pcap-parser the microsecond magic of a nanosecond file. */
class MagicRewriter extends Transform {
  bytes = 0;

  constructor(private readonly magic: Uint8Array | null) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.magic !== null && this.bytes < 4) {
      chunk.set(this.magic.subarray(this.bytes, Math.min(4, this.bytes + chunk.length)), 0);
    }
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

function microsecondMagic(header: PcapHeader): Uint8Array | null {
  if (!header.nanosecond) return null;
  const magic = Buffer.alloc(4);
  if (header.littleEndian) magic.writeUInt32LE(MAGIC_MICRO);
  else magic.writeUInt32BE(MAGIC_MICRO);
  return magic;
}

/** State of one pass of pcap-parser over the file. */
interface RecordWalk {
  header: PcapHeader;
  summary: CaptureSummary;
  record: PacketRecord;
  maxCaplen: number;
  /** File offset of the record pcap-parser is reading. */
  recordOffset: number;
  /** Its caplen once its header has been read, else -1. */
  pendingCaplen: number;
}

function createWalk(header: PcapHeader, summary: CaptureSummary): RecordWalk {
  return {
    header,
    summary,
    record: createRecord(header),
    maxCaplen: maxCaplenOf(header),
    recordOffset: HEADER_LENGTH,
    pendingCaplen: -1,
  };
}

/**
 * Runs pcap-parser over the file. Reading ends at the end of the file, at a record whose caplen is
 * beyond belief, at an I/O error or when `onPacket` throws; the promise settles once the file is closed.
 */
function parseRecords(
  file: string,
  handle: FileHandle,
  header: PcapHeader,
  summary: CaptureSummary,
  onPacket: PacketCallback,
): Promise<CaptureSummary> {
  return new Promise((resolve, reject) => {
    const source = handle.createReadStream({ start: 0, highWaterMark: CHUNK_SIZE });
    const rewriter = new MagicRewriter(microsecondMagic(header));
    const parser = pcapParser().parse(source.pipe(rewriter));
    const walk = createWalk(header, summary);
    let settle: (() => void) | null = null;
    let closed = false;

    const finish = (outcome: () => void) => {
      if (settle !== null) return;
      settle = outcome;
      parser.errored = true; // pcap-parser ignores further data
      rewriter.destroy();
      source.destroy();
      if (closed) settle();
    };
    source.on('close', () => {
      closed = true;
      settle?.();
    });
    source.on('error', (error) => finish(() => reject(ioFailure(file, 'cannot read', error))));
    parser.on('error', (error) => finish(() => reject(ioFailure(file, 'cannot read', error))));
    parser.on('packetHeader', (recordHeader) => {
      if (settle === null && !acceptRecordHeader(walk, recordHeader)) finish(() => resolve(summary));
    });
    parser.on('packet', ({ header: recordHeader, data }) => {
      if (settle !== null) return;
      try {
        deliverRecord(walk, recordHeader, data, onPacket);
      } catch (error) {
        finish(() => reject(error));
      }
    });
    parser.on('end', () => {
      summary.problem = cutShortProblem(walk, rewriter.bytes);
      finish(() => resolve(summary));
    });
  });
}

/** Fixes swapped lengths and checks the caplen; false (with the problem noted) when reading must stop. */
function acceptRecordHeader(walk: RecordWalk, recordHeader: PcapParserRecordHeader): boolean {
  unswapLengths(walk.header, recordHeader);
  walk.pendingCaplen = recordHeader.capturedLength;
  if (isZeroFilled(recordHeader)) {
    walk.summary.problem = zeroFilledProblemAt(walk.recordOffset);
    return false;
  }
  if (recordHeader.capturedLength <= walk.maxCaplen) return true;
  walk.summary.problem = oversizedRecordProblem(walk, recordHeader.capturedLength);
  return false;
}

/**
 * A record header of 16 zero bytes (time 0, caplen 0, len 0) is no packet: it is space a file system
 * allocated but never written (a crash, a preallocated file). Each would be read as an empty packet,
 * 16 bytes at a time: gigabytes of them would take minutes.
 */
function isZeroFilled(recordHeader: PcapParserRecordHeader): boolean {
  return recordHeader.capturedLength === 0 && recordHeader.originalLength === 0 && recordHeader.timestampSeconds === 0 && recordHeader.timestampMicroseconds === 0;
}

function zeroFilledProblemAt(offset: number): ReadProblem {
  return { kind: 'corrupt', offset, message: 'record header is all zeros: the file looks zero-filled from here (space allocated but never written)' };
}

function deliverRecord(walk: RecordWalk, recordHeader: PcapParserRecordHeader, data: Buffer, onPacket: PacketCallback): void {
  const { record, summary } = walk;
  fillRecord(record, walk.header, recordHeader, data, walk.recordOffset, summary.packets + 1);
  onPacket(record);
  summary.packets += 1;
  walk.recordOffset += RECORD_HEADER_LENGTH + recordHeader.capturedLength;
  walk.pendingCaplen = -1;
  summary.bytesRead = walk.recordOffset;
}

/**
 * In pcap 2.0-2.2 the record header holds len before caplen; in 2.3 either order was written
 * (caplen > len then means swapped). libpcap and Wireshark swap them back; so does this. pcap-parser
 * reads the caplen from this same header object after the event, so fixing it here is enough.
 */
function unswapLengths(header: PcapHeader, recordHeader: PcapParserRecordHeader): void {
  if (!lengthsSwapped(header, recordHeader.capturedLength, recordHeader.originalLength)) return;
  const caplen = recordHeader.originalLength;
  recordHeader.originalLength = recordHeader.capturedLength;
  recordHeader.capturedLength = caplen;
}

/** Whether a record of this file holds len where caplen belongs (see unswapLengths). */
function lengthsSwapped(header: PcapHeader, caplen: number, origLen: number): boolean {
  if (header.minor > 3) return false;
  return header.minor < 3 || caplen > origLen;
}

function fillRecord(
  record: PacketRecord,
  header: PcapHeader,
  recordHeader: PcapParserRecordHeader,
  data: Buffer,
  fileOffset: number,
  index: number,
): void {
  record.tsSec = recordHeader.timestampSeconds;
  const fraction = recordHeader.timestampMicroseconds;
  record.tsNsec = header.nanosecond ? fraction : fraction * 1000;
  record.caplen = recordHeader.capturedLength;
  record.origLen = recordHeader.originalLength;
  record.buf = data;
  record.offset = 0;
  record.fileOffset = fileOffset;
  record.index = index;
}

function oversizedRecordProblem(walk: RecordWalk, caplen: number): ReadProblem {
  return oversizedRecordProblemAt(walk.recordOffset, walk.maxCaplen, walk.header, caplen);
}

function oversizedRecordProblemAt(offset: number, maxCaplen: number, header: PcapHeader, caplen: number): ReadProblem {
  return {
    kind: 'corrupt',
    offset,
    message: `record caplen ${caplen} exceeds the maximum of ${maxCaplen} (header snaplen ${header.snapLen})`,
  };
}

/** A problem when the file ends inside a record, else null. */
function cutShortProblem(walk: RecordWalk, fileBytes: number): ReadProblem | null {
  const left = fileBytes - walk.recordOffset;
  if (left <= 0) return null;
  const message =
    walk.pendingCaplen < 0
      ? `incomplete record header at the end of the file: ${left} of ${RECORD_HEADER_LENGTH} bytes`
      : `incomplete packet at the end of the file: ${left - RECORD_HEADER_LENGTH} of ${walk.pendingCaplen} bytes`;
  return { kind: 'cut-short', offset: walk.recordOffset, message };
}
