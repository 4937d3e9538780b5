/**
 * pcapng reader (no dependency). The file is read in big chunks into one reusable buffer; a packet's
 * bytes are handed out as a view into that buffer, so nothing is allocated per packet.
 *
 * Lengths read from the file are never trusted: a block total length must be >= 12, a multiple of 4,
 * at most MAX_BLOCK_LENGTH and equal to its trailing copy; options and packet data must fit their
 * block. A bad block ends reading with a `corrupt` problem, an incomplete one at the end of the file
 * with `cut-short`; the packets before it have been delivered. Only a file whose first section header
 * cannot be read raises a CaptureFileError.
 */
import { open } from 'node:fs/promises';
import {
  CaptureFileError,
  failIo,
  newInterfaceInfo,
  newPacketRecord,
  type CaptureSummary,
  type InterfaceInfo,
  type PacketCallback,
  type PacketRecord,
  type ReadProblem,
} from './types.js';
import { ChunkReader } from './chunk-reader.js';

/** Larger blocks are treated as corrupt: no real packet or metadata block comes near 16 MiB. */
export const MAX_BLOCK_LENGTH = 16 << 20;
const MIN_BLOCK_LENGTH = 12;
const MAX_WARNINGS = 100;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_IDB = 1;
const BLOCK_OPB = 2;
const BLOCK_SPB = 3;
const BLOCK_ISB = 5;
const BLOCK_EPB = 6;

const OPT_END = 0;
const OPT_IF_NAME = 2;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const OPT_ISB_STARTTIME = 2;
const OPT_ISB_ENDTIME = 3;
const OPT_ISB_IFRECV = 4;
const OPT_ISB_IFDROP = 5;
const OPT_ISB_OSDROP = 7;

/** Resolutions finer than this cannot be converted exactly with doubles (10^-15 s and 2^-52 s are the limits). */
const MAX_UNITS_PER_SECOND = 2 ** 52;
const TWO_32 = 2 ** 32;

interface Interface {
  info: InterfaceInfo;
  unitsPerSecond: number;
  unitsBig: bigint;
  /** 1e9 / unitsPerSecond when that is a whole number, else 0 (then convert with rounding). */
  nsPerUnit: number;
  /** `high` word of the last timestamp, and high * 2^32 units split into seconds (with if_tsoffset) + units. */
  cachedHigh: number;
  highSec: number;
  highUnits: number;
}

interface Section {
  index: number;
  littleEndian: boolean;
  interfaces: Interface[];
}

interface Timestamp {
  tsSec: number;
  tsNsec: number;
}

interface ReadState {
  file: string;
  reader: ChunkReader;
  onPacket: PacketCallback;
  record: PacketRecord;
  summary: CaptureSummary;
  section: Section | null;
  sectionCount: number;
  /** File offset of the next block. */
  offset: number;
  suppressedWarnings: number;
}

/**
 * Reads a pcapng file, calling `onPacket` synchronously for each packet. `file` must be a regular
 * file (readCapture checks that before calling here: opening a FIFO would hang).
 */
export async function readPcapng(file: string, onPacket: PacketCallback): Promise<CaptureSummary> {
  const handle = await open(file, 'r').catch((error: unknown) => failIo(file, 'cannot open', error));
  try {
    const { size } = await handle.stat().catch((error: unknown) => failIo(file, 'cannot stat', error));
    const state = createState(file, size, new ChunkReader(handle, file), onPacket);
    await readBlocks(state);
    return finishSummary(state);
  } finally {
    await handle.close();
  }
}

function createState(file: string, fileSize: number, reader: ChunkReader, onPacket: PacketCallback): ReadState {
  return {
    file,
    reader,
    onPacket,
    record: createRecord(),
    summary: createSummary(file, fileSize),
    section: null,
    sectionCount: 0,
    offset: 0,
    suppressedWarnings: 0,
  };
}

function createRecord(): PacketRecord {
  return newPacketRecord(0, false);
}

function createSummary(file: string, fileSize: number): CaptureSummary {
  return {
    file,
    format: 'pcapng',
    byteOrder: 'LE',
    nanosecond: false,
    version: '',
    linkTypes: [],
    snapLen: 0,
    interfaces: [],
    packets: 0,
    untimedPackets: 0,
    fileSize,
    bytesRead: 0,
    problem: null,
    warnings: [],
  };
}

function finishSummary(state: ReadState): CaptureSummary {
  const { summary } = state;
  summary.nanosecond = summary.interfaces.length > 0 && summary.interfaces.every((i) => i.tsUnitsPerSecond === 1e9);
  summary.snapLen = largestSnapLen(summary.interfaces);
  if (state.suppressedWarnings > 0) summary.warnings.push(`... and ${state.suppressedWarnings} more warnings`);
  return summary;
}

/** The largest IDB snaplen, where 0 (no limit) counts as the largest. */
function largestSnapLen(interfaces: InterfaceInfo[]): number {
  if (interfaces.some((i) => i.snapLen === 0)) return 0;
  return interfaces.reduce((max, i) => Math.max(max, i.snapLen), 0);
}

async function readBlocks(state: ReadState): Promise<void> {
  for (;;) {
    const needed = readBufferedBlocks(state);
    if (needed === 0) return;
    if (!(await state.reader.fill(state.offset, needed))) {
      endAtFileEnd(state, needed);
      return;
    }
  }
}

function endAtFileEnd(state: ReadState, needed: number): void {
  const left = state.reader.available(state.offset);
  if (left === 0 && state.sectionCount > 0) return;
  const size = needed === MIN_BLOCK_LENGTH ? 'at least 12' : String(needed);
  const message = `incomplete block at the end of the file: ${left} bytes, the block needs ${size}`;
  stopReading(state, problemAt(state, 'cut-short', message));
}

/**
 * Handles every whole block already in the buffer. Returns how many bytes from `state.offset` it
 * needs to go on, or 0 when reading has stopped.
 */
function readBufferedBlocks(state: ReadState): number {
  const { reader } = state;
  for (;;) {
    const available = reader.available(state.offset);
    if (available < MIN_BLOCK_LENGTH) return MIN_BLOCK_LENGTH;
    const at = reader.indexOf(state.offset);
    if (state.section !== null && readPlainEnhancedPacket(state, state.section, at, available)) continue;
    const type = readBlockType(state, at);
    const littleEndian = blockByteOrder(state, at, type);
    if (littleEndian === null) return stopReading(state, problemAt(state, 'corrupt', describeBadByteOrder(state, at, type)));
    const length = reader.view.getUint32(at + 4, littleEndian);
    const lengthError = checkBlockLength(length);
    if (lengthError !== null) return stopReading(state, problemAt(state, 'corrupt', lengthError));
    if (available < length) return length;
    const trailing = reader.view.getUint32(at + length - 4, littleEndian);
    if (trailing !== length) {
      const message = `block total length ${length} differs from its trailing copy ${trailing}`;
      return stopReading(state, problemAt(state, 'corrupt', message));
    }
    const problem = readBlock(state, type, at, length);
    if (problem !== null) return stopReading(state, problem);
    state.offset += length;
    state.summary.bytesRead = state.offset;
  }
}

function readBlockType(state: ReadState, at: number): number {
  const littleEndian = state.section?.littleEndian ?? true;
  return state.reader.view.getUint32(at, littleEndian);
}

/** The byte order of the block at `at`: the section's, or for a section header its own. Null if unknown. */
function blockByteOrder(state: ReadState, at: number, type: number): boolean | null {
  if (type !== BLOCK_SHB) return state.section?.littleEndian ?? null;
  const { view } = state.reader;
  if (view.getUint32(at + 8, true) === BYTE_ORDER_MAGIC) return true;
  if (view.getUint32(at + 8, false) === BYTE_ORDER_MAGIC) return false;
  return null;
}

function describeBadByteOrder(state: ReadState, at: number, type: number): string {
  if (type !== BLOCK_SHB) return 'file does not start with a section header block';
  const magic = state.reader.view.getUint32(at + 8, false);
  return `section header block has a bad byte-order magic 0x${hex32(magic)}`;
}

function checkBlockLength(length: number): string | null {
  if (length < MIN_BLOCK_LENGTH) return `block total length ${length} is below the minimum of ${MIN_BLOCK_LENGTH}`;
  if (length % 4 !== 0) return `block total length ${length} is not a multiple of 4`;
  if (length > MAX_BLOCK_LENGTH) return `block total length ${length} exceeds the maximum of ${MAX_BLOCK_LENGTH}`;
  return null;
}

/** Ends reading. Without a readable first section header the file cannot be read at all: that throws. */
function stopReading(state: ReadState, problem: ReadProblem): 0 {
  if (state.sectionCount === 0) {
    throw new CaptureFileError(state.file, null, 'ENOTCAPTURE', `unreadable pcapng section header: ${problem.message}`);
  }
  state.summary.problem = problem;
  return 0;
}

function problemAt(state: ReadState, kind: ReadProblem['kind'], message: string): ReadProblem {
  return { kind, offset: state.offset, message };
}

function readBlock(state: ReadState, type: number, at: number, length: number): ReadProblem | null {
  if (type === BLOCK_SHB) return readSectionHeader(state, at, length);
  const section = state.section as Section;
  switch (type) {
    case BLOCK_IDB:
      return readInterfaceDescription(state, section, at, length);
    case BLOCK_EPB:
      return readEnhancedPacket(state, section, at, length);
    case BLOCK_OPB:
      return readObsoletePacket(state, section, at, length);
    case BLOCK_SPB:
      return readSimplePacket(state, section, at, length);
    case BLOCK_ISB:
      return readInterfaceStatistics(state, section, at, length);
    default:
      return null; // NRB, custom blocks (0x00000BAD, 0x40000BAD), DSB and unknown types: skipped by length
  }
}

function readSectionHeader(state: ReadState, at: number, length: number): ReadProblem | null {
  const { view } = state.reader;
  const littleEndian = view.getUint32(at + 8, true) === BYTE_ORDER_MAGIC;
  if (length < 28) return problemAt(state, 'corrupt', `section header block of ${length} bytes is shorter than 28`);
  const major = view.getUint16(at + 12, littleEndian);
  const minor = view.getUint16(at + 14, littleEndian);
  if (major !== 1) return rejectSectionVersion(state, major, minor);
  const optionError = walkOptions(view, littleEndian, at + 24, at + length - 4, ignoreOption);
  if (optionError !== null) return problemAt(state, 'corrupt', `section header block: ${optionError}`);
  startSection(state, littleEndian, `${major}.${minor}`);
  return null;
}

function rejectSectionVersion(state: ReadState, major: number, minor: number): ReadProblem {
  const message = `pcapng version ${major}.${minor} is not supported (only 1.x)`;
  if (state.sectionCount === 0) throw new CaptureFileError(state.file, null, 'EUNSUPPORTED', message);
  return problemAt(state, 'corrupt', `section ${state.sectionCount}: ${message}`);
}

function startSection(state: ReadState, littleEndian: boolean, version: string): void {
  const { summary } = state;
  const byteOrder = littleEndian ? 'LE' : 'BE';
  if (state.sectionCount === 0) {
    summary.version = version;
    summary.byteOrder = byteOrder;
  } else if (summary.byteOrder !== byteOrder) {
    summary.byteOrder = 'mixed';
  }
  state.section = { index: state.sectionCount, littleEndian, interfaces: [] };
  state.sectionCount += 1;
}

function ignoreOption(): void {}

type OptionVisitor = (code: number, start: number, length: number) => void;

/** Calls `visit` for each option in [start, end). Returns an error message when an option does not fit. */
function walkOptions(view: DataView, littleEndian: boolean, start: number, end: number, visit: OptionVisitor): string | null {
  let at = start;
  while (at + 4 <= end) {
    const code = view.getUint16(at, littleEndian);
    const length = view.getUint16(at + 2, littleEndian);
    if (code === OPT_END) return null;
    if (at + 4 + length > end) return `option ${code} of length ${length} does not fit in the block`;
    visit(code, at + 4, length);
    at += 4 + pad4(length);
  }
  return null;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function readInterfaceDescription(state: ReadState, section: Section, at: number, length: number): ReadProblem | null {
  if (length < 20) return problemAt(state, 'corrupt', `interface description block of ${length} bytes is shorter than 20`);
  const { view, buf } = state.reader;
  const le = section.littleEndian;
  const info = createInterfaceInfo(section, view.getUint16(at + 8, le), view.getUint32(at + 12, le));
  let resolution = 6;
  const warn = (message: string) => addWarning(state, `section ${section.index} interface ${info.id}: ${message}`);
  const optionError = walkOptions(view, le, at + 16, at + length - 4, (code, start, size) => {
    if (code === OPT_IF_NAME) info.name = buf.toString('utf8', start, start + size).replace(/\0+$/, '');
    else if (code === OPT_IF_TSRESOL && size >= 1) resolution = view.getUint8(start);
    else if (code === OPT_IF_TSOFFSET && size === 8) info.tsOffsetSec = readInt64(view, start, le);
    else if (code === OPT_IF_TSRESOL || code === OPT_IF_TSOFFSET) warn(`option ${code} of length ${size} ignored`);
  });
  if (optionError !== null) return problemAt(state, 'corrupt', `interface description block: ${optionError}`);
  const unitsBig = unitsPerSecondOf(resolution);
  if (unitsBig === null) {
    const value = `0x${resolution.toString(16)}`;
    return problemAt(state, 'corrupt', `interface description block: if_tsresol ${value} is finer than 10^-15 s or 2^-52 s`);
  }
  addInterface(state, section, info, unitsBig);
  return null;
}

function createInterfaceInfo(section: Section, linkType: number, snapLen: number): InterfaceInfo {
  return newInterfaceInfo(section.index, section.interfaces.length, linkType, snapLen, 1e6);
}

/** if_tsresol: bit 7 clear → 10^-n s, set → 2^-n s. Null when too fine to convert exactly. */
function unitsPerSecondOf(resolution: number): bigint | null {
  const exponent = BigInt(resolution & 0x7f);
  const units = resolution & 0x80 ? 1n << exponent : 10n ** exponent;
  return units <= BigInt(MAX_UNITS_PER_SECOND) ? units : null;
}

function addInterface(state: ReadState, section: Section, info: InterfaceInfo, unitsBig: bigint): void {
  const unitsPerSecond = Number(unitsBig);
  info.tsUnitsPerSecond = unitsPerSecond;
  const nsPerUnit = 1e9 / unitsPerSecond;
  section.interfaces.push({
    info,
    unitsPerSecond,
    unitsBig,
    nsPerUnit: Number.isInteger(nsPerUnit) ? nsPerUnit : 0,
    cachedHigh: -1,
    highSec: 0,
    highUnits: 0,
  });
  state.summary.interfaces.push(info);
  if (!state.summary.linkTypes.includes(info.linkType)) state.summary.linkTypes.push(info.linkType);
}

function readEnhancedPacket(state: ReadState, section: Section, at: number, length: number): ReadProblem | null {
  if (length < 32) return problemAt(state, 'corrupt', `enhanced packet block of ${length} bytes is shorter than 32`);
  const { view } = state.reader;
  return readTimedPacket(state, section, view.getUint32(at + 8, section.littleEndian), at, length);
}

/**
 * The common block in one step: an enhanced packet block, whole in the buffer, sound, on a known
 * interface, with a datable timestamp. Delivers it and returns true, as readBufferedBlocks and
 * readEnhancedPacket would; returns false, having changed nothing, for any other block, which
 * then takes the general path (and its problems and warnings).
 */
function readPlainEnhancedPacket(state: ReadState, section: Section, at: number, available: number): boolean {
  const { view } = state.reader;
  const le = section.littleEndian;
  if (view.getUint32(at, le) !== BLOCK_EPB) return false;
  const length = view.getUint32(at + 4, le);
  if (length < 32 || length > available || length > MAX_BLOCK_LENGTH || (length & 3) !== 0) return false;
  if (view.getUint32(at + length - 4, le) !== length) return false;
  const interfaceId = view.getUint32(at + 8, le);
  const iface = section.interfaces[interfaceId];
  if (iface === undefined) return false;
  const caplen = view.getUint32(at + 20, le);
  if (caplen > length - 32) return false;
  const { record } = state;
  convertTimestamp(iface, view.getUint32(at + 12, le), view.getUint32(at + 16, le), record);
  if (!isDatable(record.tsSec)) return false;
  record.hasTimestamp = true;
  deliverPacket(state, iface, interfaceId, caplen, view.getUint32(at + 24, le), at + 28);
  state.offset += length;
  state.summary.bytesRead = state.offset;
  return true;
}

/** The obsolete Packet Block (type 2): like an EPB with a 16-bit interface id and a drop counter. */
function readObsoletePacket(state: ReadState, section: Section, at: number, length: number): ReadProblem | null {
  if (length < 32) return problemAt(state, 'corrupt', `packet block of ${length} bytes is shorter than 32`);
  const { view } = state.reader;
  return readTimedPacket(state, section, view.getUint16(at + 8, section.littleEndian), at, length);
}

/** EPB and obsolete Packet Block share this layout from byte 12: ts high, ts low, caplen, origlen, data. */
function readTimedPacket(
  state: ReadState,
  section: Section,
  interfaceId: number,
  at: number,
  length: number,
): ReadProblem | null {
  const { view } = state.reader;
  const le = section.littleEndian;
  const iface = section.interfaces[interfaceId];
  if (iface === undefined) return unknownInterfaceProblem(state, section, interfaceId);
  const caplen = view.getUint32(at + 20, le);
  if (caplen > length - 32) {
    return problemAt(state, 'corrupt', `packet caplen ${caplen} does not fit in a block of ${length} bytes`);
  }
  const { record } = state;
  convertTimestamp(iface, view.getUint32(at + 12, le), view.getUint32(at + 16, le), record);
  record.hasTimestamp = isDatable(record.tsSec);
  if (!record.hasTimestamp) {
    state.summary.untimedPackets += 1;
    const where = `section ${section.index} interface ${interfaceId}`;
    addWarning(state, `${where}: packet ${state.summary.packets + 1} (at byte offset ${state.offset}) has a timestamp outside the years 1-9999 (${record.tsSec} s); read as untimed`);
  }
  deliverPacket(state, iface, interfaceId, caplen, view.getUint32(at + 24, le), at + 28);
  return null;
}

/** Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the times ISO 8601 writes with four-digit years. */
const FIRST_DATABLE_SEC = -62_135_596_800;
const LAST_DATABLE_SEC = 253_402_300_799;

/**
 * False for a time no date can show: a damaged 64-bit timestamp or if_tsoffset can put a packet
 * millions of years away (JavaScript dates end at year 275760 and throw beyond).
 */
function isDatable(tsSec: number): boolean {
  return tsSec >= FIRST_DATABLE_SEC && tsSec <= LAST_DATABLE_SEC;
}

function readSimplePacket(state: ReadState, section: Section, at: number, length: number): ReadProblem | null {
  if (length < 16) return problemAt(state, 'corrupt', `simple packet block of ${length} bytes is shorter than 16`);
  const iface = section.interfaces[0];
  if (iface === undefined) return unknownInterfaceProblem(state, section, 0);
  const origLen = state.reader.view.getUint32(at + 8, section.littleEndian);
  const snapLen = iface.info.snapLen === 0 ? Infinity : iface.info.snapLen;
  const caplen = Math.min(length - 16, origLen, snapLen);
  const { record } = state;
  record.tsSec = 0;
  record.tsNsec = 0;
  record.hasTimestamp = false;
  state.summary.untimedPackets += 1;
  deliverPacket(state, iface, 0, caplen, origLen, at + 12);
  return null;
}

function unknownInterfaceProblem(state: ReadState, section: Section, interfaceId: number): ReadProblem {
  const count = section.interfaces.length;
  const message = `packet on interface ${interfaceId}, but section ${section.index} describes ${count} interfaces`;
  return problemAt(state, 'corrupt', message);
}

function deliverPacket(
  state: ReadState,
  iface: Interface,
  interfaceId: number,
  caplen: number,
  origLen: number,
  dataAt: number,
): void {
  const { record, summary } = state;
  summary.packets += 1;
  record.linkType = iface.info.linkType;
  record.interfaceId = interfaceId;
  record.caplen = caplen;
  record.origLen = origLen;
  record.buf = state.reader.buf;
  record.offset = dataAt;
  record.fileOffset = state.offset;
  record.index = summary.packets;
  state.onPacket(record);
}

function readInterfaceStatistics(state: ReadState, section: Section, at: number, length: number): ReadProblem | null {
  if (length < 24) return problemAt(state, 'corrupt', `interface statistics block of ${length} bytes is shorter than 24`);
  const { view } = state.reader;
  const le = section.littleEndian;
  const interfaceId = view.getUint32(at + 8, le);
  const iface = section.interfaces[interfaceId];
  if (iface === undefined) {
    addWarning(state, `interface statistics for unknown interface ${interfaceId} in section ${section.index} ignored`);
    return null;
  }
  const { info } = iface;
  const optionError = walkOptions(view, le, at + 20, at + length - 4, (code, start, size) => {
    if (size !== 8) return;
    if (code === OPT_ISB_STARTTIME) info.startTime = readStatisticsTime(state, iface, view, start, le, 'isb_starttime');
    else if (code === OPT_ISB_ENDTIME) info.endTime = readStatisticsTime(state, iface, view, start, le, 'isb_endtime');
    else if (code === OPT_ISB_IFRECV) info.received = readUint64(view, start, le);
    else if (code === OPT_ISB_IFDROP) info.ifDrops = readUint64(view, start, le);
    else if (code === OPT_ISB_OSDROP) info.osDrops = readUint64(view, start, le);
  });
  if (optionError !== null) return problemAt(state, 'corrupt', `interface statistics block: ${optionError}`);
  return null;
}

const DAY_SECONDS = 86_400;

/**
 * An ISB start or end time, checked against the packets. dumpcap 4.0 writes these in
 * microseconds whatever if_tsresol says (seen in the project's fixtures: if_tsresol 9, times in
 * µs, which read as 1970). A time more than a day from the last packet is read as microseconds
 * when that lands within a day of it, and ignored otherwise; either way the file gets a warning.
 */
function readStatisticsTime(state: ReadState, iface: Interface, view: DataView, at: number, le: boolean, name: string): [number, number] | null {
  const time = readTime(iface, view, at, le);
  if (!isDatable(time[0])) {
    addWarning(state, `interface ${iface.info.id}: ${name} lies outside the years 1-9999 (${time[0]} s); ignored`);
    return null;
  }
  const { record } = state;
  if (state.summary.packets === 0 || !record.hasTimestamp) return time;
  const reference = record.tsSec;
  if (Math.abs(time[0] - reference) <= DAY_SECONDS) return time;
  const units = (BigInt(view.getUint32(at, le)) << 32n) | BigInt(view.getUint32(at + 4, le));
  const asMicro: [number, number] = [Number(units / 1_000_000n), Number(units % 1_000_000n) * 1000];
  if (iface.unitsPerSecond !== 1e6 && Math.abs(asMicro[0] - reference) <= DAY_SECONDS) {
    addWarning(state, `interface ${iface.info.id}: ${name} is in microseconds although if_tsresol says otherwise (dumpcap 4.0 writes it so); read as microseconds`);
    return asMicro;
  }
  addWarning(state, `interface ${iface.info.id}: ${name} lies more than a day from the packets; ignored`);
  return null;
}

function readTime(iface: Interface, view: DataView, at: number, le: boolean): [number, number] {
  const time: Timestamp = { tsSec: 0, tsNsec: 0 };
  convertTimestamp(iface, view.getUint32(at, le), view.getUint32(at + 4, le), time);
  return [time.tsSec, time.tsNsec];
}

/**
 * Converts `high * 2^32 + low` interface units into whole seconds (plus if_tsoffset) and nanoseconds,
 * exactly and without allocating: high * 2^32 is split into seconds + leftover units with BigInt only
 * when `high` changes (about every 71 minutes at microsecond resolution); the leftover plus `low`
 * stays below 2^53.
 */
function convertTimestamp(iface: Interface, high: number, low: number, target: Timestamp): void {
  if (high !== iface.cachedHigh) splitHighWord(iface, high);
  const perSecond = iface.unitsPerSecond;
  let units = iface.highUnits + low;
  let seconds = Math.floor(units / perSecond);
  units -= seconds * perSecond;
  while (units < 0) {
    seconds -= 1;
    units += perSecond;
  }
  while (units >= perSecond) {
    seconds += 1;
    units -= perSecond;
  }
  let nanos = iface.nsPerUnit !== 0 ? units * iface.nsPerUnit : mulDivRound(units, 1e9, perSecond);
  if (nanos === 1e9) {
    seconds += 1;
    nanos = 0;
  }
  target.tsSec = iface.highSec + seconds;
  target.tsNsec = nanos;
}

function splitHighWord(iface: Interface, high: number): void {
  const units = BigInt(high) << 32n;
  iface.highSec = Number(units / iface.unitsBig) + iface.info.tsOffsetSec;
  iface.highUnits = Number(units % iface.unitsBig);
  iface.cachedHigh = high;
}

/**
 * round(a * m / d) exactly, for 0 <= a < d <= 2^52 and 0 <= m < 2^31: binary long multiplication of
 * a by m, keeping the running product as q * d + r with r < d so nothing exceeds 2^53.
 */
export function mulDivRound(a: number, m: number, d: number): number {
  let q = 0;
  let r = 0;
  for (let bit = 30; bit >= 0; bit--) {
    q *= 2;
    r *= 2;
    if (r >= d) {
      r -= d;
      q += 1;
    }
    if ((m >>> bit) & 1) {
      r += a;
      if (r >= d) {
        r -= d;
        q += 1;
      }
    }
  }
  return 2 * r >= d ? q + 1 : q;
}

function readUint64(view: DataView, at: number, le: boolean): number {
  const high = view.getUint32(le ? at + 4 : at, le);
  const low = view.getUint32(le ? at : at + 4, le);
  return high * TWO_32 + low;
}

function readInt64(view: DataView, at: number, le: boolean): number {
  const high = view.getInt32(le ? at + 4 : at, le);
  const low = view.getUint32(le ? at : at + 4, le);
  return high * TWO_32 + low;
}

function addWarning(state: ReadState, message: string): void {
  if (state.summary.warnings.length < MAX_WARNINGS) state.summary.warnings.push(message);
  else state.suppressedWarnings += 1;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
