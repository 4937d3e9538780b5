/**
 * Entry point of the capture readers: checks the path, detects the format by its magic number (never
 * by the file name's extension) and hands the file to the pcap or pcapng reader.
 */
import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { readPcap } from './pcap.js';
import { readPcapng } from './pcapng.js';
import { CaptureFileError, type CaptureFormat, type CaptureSummary, type PacketCallback } from './types.js';

const SNIFF_LENGTH = 16;

/**
 * Reads a pcap or pcapng file, calling `onPacket` synchronously for every packet (with one reused
 * PacketRecord: copy what you keep). Throws CaptureFileError when the file cannot be read as a
 * capture at all; damage further in is reported in the summary's `problem`.
 */
export async function readCapture(file: string, onPacket: PacketCallback): Promise<CaptureSummary> {
  const stats = await statCapture(file);
  if (stats.size === 0) throw new CaptureFileError(file, null, 'EEMPTY', 'empty file');
  const format = detectFormat(file, await readStart(file));
  return format === 'pcap' ? readPcap(file, onPacket) : readPcapng(file, onPacket);
}

/** Stats `file` without opening it (opening a FIFO would block) and accepts regular files only. */
async function statCapture(file: string): Promise<Stats> {
  let stats: Stats;
  try {
    stats = await stat(file);
  } catch (error) {
    throw systemError(file, error);
  }
  if (!stats.isFile()) throw new CaptureFileError(file, null, 'ENOTFILE', `not a regular file: ${describeFileType(stats)}`);
  return stats;
}

function describeFileType(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** A CaptureFileError EIO carrying the OS message, e.g. "ENOENT: no such file or directory". */
function systemError(file: string, error: unknown): CaptureFileError {
  const message = error instanceof Error ? error.message.replace(/, \w+ '.*'$/s, '') : String(error);
  const failure = new CaptureFileError(file, null, 'EIO', message);
  failure.cause = error;
  return failure;
}

async function readStart(file: string): Promise<Buffer> {
  try {
    const handle = await open(file, 'r');
    try {
      const start = Buffer.alloc(SNIFF_LENGTH);
      const { bytesRead } = await handle.read(start, 0, SNIFF_LENGTH, 0);
      return start.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw systemError(file, error);
  }
}

const PCAP_MAGICS = new Set(['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d']);
const PCAPNG_MAGIC = '0a0d0d0a';

interface Lookalike {
  magic: string;
  code: CaptureFileError['code'];
  what: string;
}

/** Files that are often mistaken for captures, by their first bytes (hex). */
const LOOKALIKES: Lookalike[] = [
  { magic: '1f8b', code: 'ENOTCAPTURE', what: 'gzip data: a gzipped capture? decompress it first' },
  { magic: '28b52ffd', code: 'ENOTCAPTURE', what: 'zstd data: a compressed capture? decompress it first' },
  { magic: 'fd377a585a00', code: 'ENOTCAPTURE', what: 'xz data: a compressed capture? decompress it first' },
  { magic: '425a68', code: 'ENOTCAPTURE', what: 'bzip2 data: a compressed capture? decompress it first' },
  { magic: '504b0304', code: 'ENOTCAPTURE', what: 'a zip archive: extract the capture first' },
  { magic: 'a1b2cd34', code: 'EUNSUPPORTED', what: 'a modified (Kuznetzov) pcap file: convert it with editcap first' },
  { magic: '34cdb2a1', code: 'EUNSUPPORTED', what: 'a modified (Kuznetzov) pcap file: convert it with editcap first' },
  { magic: '736e6f6f70000000', code: 'ENOTCAPTURE', what: 'a Solaris snoop file: convert it with editcap first' },
];

/** The format of a file starting with `start`, or a CaptureFileError naming what was found. */
export function detectFormat(file: string, start: Uint8Array): CaptureFormat {
  const hex = Buffer.from(start).toString('hex');
  const magic = hex.slice(0, 8);
  if (PCAP_MAGICS.has(magic)) return 'pcap';
  if (magic === PCAPNG_MAGIC) return 'pcapng';
  const lookalike = LOOKALIKES.find((l) => hex.startsWith(l.magic));
  const found = `not a capture file: ${describeStart(start)}`;
  if (lookalike !== undefined) throw new CaptureFileError(file, null, lookalike.code, `${found}, ${lookalike.what}`);
  const text = looksLikeText(start) ? `, ${describeText(start)}` : '';
  throw new CaptureFileError(file, null, 'ENOTCAPTURE', `${found}${text}`);
}

/** "starts with 3c 21 44 4f ('<!DO')". */
function describeStart(start: Uint8Array): string {
  const head = start.subarray(0, 4);
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const ascii = Array.from(head, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  const size = start.length < 4 ? ` (only ${start.length} byte${start.length === 1 ? '' : 's'})` : '';
  return `starts with ${hex} ('${ascii}')${size}`;
}

function looksLikeText(start: Uint8Array): boolean {
  return start.length > 0 && start.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
}

function describeText(start: Uint8Array): string {
  const text = Buffer.from(start).toString('latin1').trimStart().toLowerCase();
  if (text.startsWith('<!doctype html') || text.startsWith('<html')) return 'an HTML page (a saved error page?)';
  if (text.startsWith('<')) return 'XML or HTML text';
  if (text.startsWith('{') || text.startsWith('[')) return 'JSON text (tshark -T json output?)';
  return 'text (tcpdump or tshark text output?)';
}

const LINK_TYPE_NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'EN10MB',
  6: 'IEEE802_5',
  8: 'SLIP',
  9: 'PPP',
  10: 'FDDI',
  12: 'RAW',
  14: 'RAW',
  50: 'PPP_HDLC',
  51: 'PPP_ETHER',
  101: 'RAW',
  104: 'C_HDLC',
  105: 'IEEE802_11',
  108: 'LOOP',
  113: 'LINUX_SLL',
  119: 'PRISM_HEADER',
  127: 'IEEE802_11_RADIOTAP',
  129: 'ARCNET_LINUX',
  192: 'PPI',
  195: 'IEEE802_15_4_WITHFCS',
  220: 'USB_LINUX_MMAPPED',
  228: 'IPV4',
  229: 'IPV6',
  231: 'NETANALYZER',
  239: 'NFLOG',
  242: 'IPOIB',
  249: 'USBPCAP',
  274: 'ETHERNET_MPACKET',
  276: 'LINUX_SLL2',
};

/** The LINKTYPE_ name without its prefix ("EN10MB"), or "LINKTYPE_<n>" for one not listed. */
export function describeLinkType(n: number): string {
  return LINK_TYPE_NAMES[n] ?? `LINKTYPE_${n}`;
}
