/**
 * What a capture-file reader hands out. One PacketRecord object is reused for every packet of a
 * file: a callback must copy what it keeps (the bytes live in `buf` only until it returns).
 */
export type CaptureFormat = 'pcap' | 'pcapng';

export interface PacketRecord {
  /** Whole seconds since the Unix epoch (if_tsoffset already added). */
  tsSec: number;
  /**
   * Nanoseconds within the second. Normally 0..999,999,999; a broken file may hold 1e9 or more,
   * which is kept as written (tshark and tcpdump print it that way too).
   */
  tsNsec: number;
  /**
   * false for pcapng Simple Packet Blocks, which carry no timestamp (tsSec/tsNsec are 0), and for a
   * pcapng packet whose timestamp lies outside the years 1-9999 (a damaged block: tsSec/tsNsec keep
   * the value read, and the summary has a warning).
   */
  hasTimestamp: boolean;
  /** LINKTYPE_ value (low 16 bits of the header field). */
  linkType: number;
  /** pcapng interface index within its section; 0 for classic pcap. */
  interfaceId: number;
  /** Bytes captured (what is in buf). */
  caplen: number;
  /** Length of the packet on the wire. */
  origLen: number;
  /** The packet bytes are buf[offset, offset + caplen). A view into the reader's buffer. */
  buf: Uint8Array;
  offset: number;
  /** Byte offset in the file of the record (pcap record header / pcapng block) holding it. */
  fileOffset: number;
  /** 1-based packet number within the file. */
  index: number;
}

export interface InterfaceInfo {
  /** pcapng section number (0-based); 0 for pcap. */
  section: number;
  id: number;
  linkType: number;
  snapLen: number;
  /** Units per second of the timestamps, e.g. 1e6 or 1e9 (2^n for binary if_tsresol). */
  tsUnitsPerSecond: number;
  tsOffsetSec: number;
  name: string | null;
  /** From ISB isb_ifrecv (packets received by the interface) when present. */
  received: number | null;
  /** From ISB isb_ifdrop (option 5: dropped by the interface/kernel) when present. */
  ifDrops: number | null;
  /** From ISB isb_osdrop (option 7: dropped by the OS / capture buffer) when present. */
  osDrops: number | null;
  /** From ISB isb_starttime / isb_endtime, as [seconds, nanoseconds] since the epoch. */
  startTime: [number, number] | null;
  endTime: [number, number] | null;
}

/** The one PacketRecord a reader reuses for every packet of a file. */
export function newPacketRecord(linkType: number, hasTimestamp: boolean): PacketRecord {
  return {
    tsSec: 0,
    tsNsec: 0,
    hasTimestamp,
    linkType,
    interfaceId: 0,
    caplen: 0,
    origLen: 0,
    buf: new Uint8Array(0),
    offset: 0,
    fileOffset: 0,
    index: 0,
  };
}

/** An interface with nothing known beyond its link type, snap length and timestamp units. */
export function newInterfaceInfo(section: number, id: number, linkType: number, snapLen: number, tsUnitsPerSecond: number): InterfaceInfo {
  return {
    section,
    id,
    linkType,
    snapLen,
    tsUnitsPerSecond,
    tsOffsetSec: 0,
    name: null,
    received: null,
    ifDrops: null,
    osDrops: null,
    startTime: null,
    endTime: null,
  };
}

export type ReadProblemKind = 'cut-short' | 'corrupt';

/** A problem that ended reading early; the packets before it were delivered. */
export interface ReadProblem {
  kind: ReadProblemKind;
  /** Byte offset in the file where the bad or incomplete record starts. */
  offset: number;
  message: string;
}

export interface CaptureSummary {
  file: string;
  format: CaptureFormat;
  /** 'LE' | 'BE', or 'mixed' for a pcapng whose sections differ. */
  byteOrder: 'LE' | 'BE' | 'mixed';
  /** true when timestamps are nanoseconds (pcap magic a1b23c4d, or if_tsresol 9 everywhere). */
  nanosecond: boolean;
  /** pcap: major.minor; pcapng: the first SHB's major.minor. */
  version: string;
  linkTypes: number[];
  /** pcap header snaplen, or the largest IDB snaplen (0 = unlimited in pcapng). */
  snapLen: number;
  interfaces: InterfaceInfo[];
  packets: number;
  /** Packets without a timestamp (pcapng SPB), or with one outside the years 1-9999. */
  untimedPackets: number;
  fileSize: number;
  /** Bytes of the file that were read as whole records. */
  bytesRead: number;
  /** Set when reading stopped before the end of the file. */
  problem: ReadProblem | null;
  /** Non-fatal oddities, each one line (e.g. "reserved bits set in link-type field"). */
  warnings: string[];
}

/** The file cannot be read as a capture at all (not a capture, a directory, unreadable). */
export class CaptureFileError extends Error {
  readonly file: string;
  readonly offset: number | null;
  readonly code: 'ENOTCAPTURE' | 'EUNSUPPORTED' | 'EIO' | 'ENOTFILE' | 'EEMPTY';

  constructor(file: string, offset: number | null, code: CaptureFileError['code'], message: string) {
    super(offset === null ? `${file}: ${message}` : `${file}: ${message} (at byte offset ${offset})`);
    this.name = 'CaptureFileError';
    this.file = file;
    this.offset = offset;
    this.code = code;
  }
}

/** A CaptureFileError EIO for an I/O call on `file` that failed: "WHAT: the system's message", `error` its cause. */
export function ioFailure(file: string, what: string, error: unknown): CaptureFileError {
  const failure = new CaptureFileError(file, null, 'EIO', `${what}: ${(error as Error).message}`);
  failure.cause = error;
  return failure;
}

/** Throws ioFailure's error (for a promise's catch). */
export function failIo(file: string, what: string, error: unknown): never {
  throw ioFailure(file, what, error);
}

export type PacketCallback = (packet: PacketRecord) => void;
