/**
 * Classic pcap reader: the npm package `pcap-parser` parses the records, wrapped so that
 * - the 24-byte file header is validated here (its own version check is wrong);
 * - nanosecond files are read too: it only knows the microsecond magic, so it is fed a stream whose
 *   magic is rewritten to the microsecond one, and its `timestampMicroseconds` is read as nanoseconds;
 * - a bogus caplen stops reading (it would buffer, by repeated copying, up to caplen bytes);
 * - a record cut short at the end of the file is reported, with its offset;
 * - the 2.0-2.2 (and sometimes 2.3) files that store caplen and len swapped are read like libpcap does.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { CaptureFileError, type CaptureSummary, type PacketCallback, type PacketRecord, type ReadProblem } from './types.js';

const HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
const STREAM_CHUNK = 1 << 20;
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

const pcapParser = createRequire(import.meta.url)('pcap-parser') as { parse(input: Readable): PcapParser };

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
  const handle = await open(file, 'r').catch((error: unknown) => failIo(file, 'cannot open', error));
  let header: PcapHeader;
  let fileSize: number;
  try {
    fileSize = (await handle.stat()).size;
    const start = Buffer.alloc(HEADER_LENGTH);
    const { bytesRead } = await handle.read(start, 0, HEADER_LENGTH, 0);
    header = parsePcapHeader(file, start.subarray(0, bytesRead));
  } catch (error) {
    await handle.close();
    throw error instanceof CaptureFileError ? error : ioError(file, 'cannot read', error);
  }
  return parseRecords(file, handle, header, createSummary(file, header, fileSize), onPacket);
}

function failIo(file: string, what: string, error: unknown): never {
  throw ioError(file, what, error);
}

function ioError(file: string, what: string, error: unknown): CaptureFileError {
  const failure = new CaptureFileError(file, null, 'EIO', `${what}: ${(error as Error).message}`);
  failure.cause = error;
  return failure;
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
      {
        section: 0,
        id: 0,
        linkType: header.linkType,
        snapLen: header.snapLen,
        tsUnitsPerSecond: header.nanosecond ? 1e9 : 1e6,
        tsOffsetSec: 0,
        name: null,
        received: null,
        ifDrops: null,
        osDrops: null,
        startTime: null,
        endTime: null,
      },
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
  return {
    tsSec: 0,
    tsNsec: 0,
    hasTimestamp: true,
    linkType: header.linkType,
    interfaceId: 0,
    caplen: 0,
    origLen: 0,
    buf: new Uint8Array(0),
    offset: 0,
    fileOffset: 0,
    index: 0,
  };
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
    const source = handle.createReadStream({ start: 0, highWaterMark: STREAM_CHUNK });
    const rewriter = new MagicRewriter(microsecondMagic(header));
    const parser = pcapParser.parse(source.pipe(rewriter));
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
    source.on('error', (error) => finish(() => reject(ioError(file, 'cannot read', error))));
    parser.on('error', (error) => finish(() => reject(ioError(file, 'cannot read', error))));
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
  if (recordHeader.capturedLength <= walk.maxCaplen) return true;
  walk.summary.problem = oversizedRecordProblem(walk, recordHeader.capturedLength);
  return false;
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
  if (header.minor > 3) return;
  if (header.minor === 3 && recordHeader.capturedLength <= recordHeader.originalLength) return;
  const caplen = recordHeader.originalLength;
  recordHeader.originalLength = recordHeader.capturedLength;
  recordHeader.capturedLength = caplen;
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
  return {
    kind: 'corrupt',
    offset: walk.recordOffset,
    message: `record caplen ${caplen} exceeds the maximum of ${walk.maxCaplen} (header snaplen ${walk.header.snapLen})`,
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
