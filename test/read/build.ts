/**
 * Test helpers: writers of small pcap and pcapng files (both byte orders, any resolution), and a
 * reader that copies every packet out of the reused PacketRecord.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../../src/read/open.js';
import type { CaptureSummary, PacketRecord } from '../../src/read/types.js';

// ---------------------------------------------------------------- byte writing

/** Little helper to write integers in one byte order. */
export class Bytes {
  private readonly parts: Buffer[] = [];
  constructor(readonly littleEndian: boolean) {}

  u8(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }
  u16(n: number): this {
    const b = Buffer.alloc(2);
    if (this.littleEndian) b.writeUInt16LE(n);
    else b.writeUInt16BE(n);
    this.parts.push(b);
    return this;
  }
  u32(n: number): this {
    const b = Buffer.alloc(4);
    if (this.littleEndian) b.writeUInt32LE(n >>> 0);
    else b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(n: bigint): this {
    const b = Buffer.alloc(8);
    if (this.littleEndian) b.writeBigUInt64LE(BigInt.asUintN(64, n));
    else b.writeBigUInt64BE(BigInt.asUintN(64, n));
    this.parts.push(b);
    return this;
  }
  /** A 64-bit timestamp written as high word then low word (pcapng's layout). */
  ts(units: bigint): this {
    return this.u32(Number(units >> 32n)).u32(Number(units & 0xffffffffn));
  }
  raw(data: Uint8Array): this {
    this.parts.push(Buffer.from(data));
    return this;
  }
  pad4(): this {
    const length = this.length();
    if (length % 4 !== 0) this.parts.push(Buffer.alloc(4 - (length % 4)));
    return this;
  }
  length(): number {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Bytes 0, 1, 2, ... (mod 256) with `seed` added: easy to tell packets apart. */
export function payload(length: number, seed = 0): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i + seed) & 0xff;
  return b;
}

// ---------------------------------------------------------------- classic pcap

export interface PcapRecordSpec {
  tsSec: number;
  /** Microseconds, or nanoseconds in a nanosecond file. */
  tsFrac: number;
  data: Uint8Array;
  /** Defaults to data.length. */
  caplen?: number;
  origLen?: number;
}

export interface PcapSpec {
  littleEndian?: boolean;
  nanosecond?: boolean;
  version?: [number, number];
  snapLen?: number;
  /** The whole 32-bit link-type field. */
  linkTypeField?: number;
  records: PcapRecordSpec[];
}

export function buildPcap(spec: PcapSpec): Buffer {
  const out = new Bytes(spec.littleEndian ?? true);
  const [major, minor] = spec.version ?? [2, 4];
  out.u32(spec.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4).u16(major).u16(minor).u32(0).u32(0);
  out.u32(spec.snapLen ?? 262144).u32(spec.linkTypeField ?? 1);
  for (const r of spec.records) {
    out.u32(r.tsSec).u32(r.tsFrac).u32(r.caplen ?? r.data.length).u32(r.origLen ?? r.data.length).raw(r.data);
  }
  return out.toBuffer();
}

// ---------------------------------------------------------------- pcapng

/** A block writer: given the section's byte order, the whole block. */
export type BlockWriter = (littleEndian: boolean) => Buffer;

export interface Option {
  code: number;
  value: Uint8Array;
}

function writeOptions(out: Bytes, options: Option[]): void {
  if (options.length === 0) return;
  for (const o of options) out.u16(o.code).u16(o.value.length).raw(o.value).pad4();
  out.u16(0).u16(0);
}

/** Wraps a body into type, total length, body (padded) and trailing length. */
export function block(type: number, body: (out: Bytes) => void): BlockWriter {
  return (littleEndian) => {
    const inner = new Bytes(littleEndian);
    body(inner);
    inner.pad4();
    const length = inner.length() + 12;
    return new Bytes(littleEndian).u32(type).u32(length).raw(inner.toBuffer()).u32(length).toBuffer();
  };
}

/** A block with a hand-written total length and trailer, for corruption tests. */
export function rawBlock(type: number, totalLength: number, body: Uint8Array, trailer = totalLength): BlockWriter {
  return (littleEndian) => new Bytes(littleEndian).u32(type).u32(totalLength).raw(body).u32(trailer).toBuffer();
}

export function u8Option(code: number, value: number): Option {
  return { code, value: Uint8Array.of(value) };
}

export function u64Option(code: number, value: bigint, littleEndian: boolean): Option {
  return { code, value: new Bytes(littleEndian).u64(value).toBuffer() };
}

export function tsOption(code: number, units: bigint, littleEndian: boolean): Option {
  return { code, value: new Bytes(littleEndian).ts(units).toBuffer() };
}

export function stringOption(code: number, value: string): Option {
  return { code, value: Buffer.from(value, 'utf8') };
}

export interface SectionSpec {
  littleEndian: boolean;
  version?: [number, number];
  options?: Option[];
  blocks: BlockWriter[];
}

export function buildPcapng(sections: SectionSpec[]): Buffer {
  return Buffer.concat(sections.map(buildSection));
}

function buildSection(spec: SectionSpec): Buffer {
  const [major, minor] = spec.version ?? [1, 0];
  const shb = block(0x0a0d0d0a, (out) => {
    out.u32(0x1a2b3c4d).u16(major).u16(minor).u64(-1n);
    writeOptions(out, spec.options ?? []);
  });
  return Buffer.concat([shb(spec.littleEndian), ...spec.blocks.map((b) => b(spec.littleEndian))]);
}

export interface IdbSpec {
  linkType?: number;
  snapLen?: number;
  /** Raw if_tsresol byte (6 = µs, 9 = ns, 0x88 = 2^-8 s); omitted when undefined. */
  tsresol?: number;
  tsoffset?: bigint;
  name?: string;
}

export function idb(spec: IdbSpec = {}): BlockWriter {
  return (littleEndian) => {
    const options: Option[] = [];
    if (spec.name !== undefined) options.push(stringOption(2, spec.name));
    if (spec.tsresol !== undefined) options.push(u8Option(9, spec.tsresol));
    if (spec.tsoffset !== undefined) options.push(u64Option(14, spec.tsoffset, littleEndian));
    return block(1, (out) => {
      out.u16(spec.linkType ?? 1).u16(0).u32(spec.snapLen ?? 262144);
      writeOptions(out, options);
    })(littleEndian);
  };
}

export interface EpbSpec {
  interfaceId?: number;
  /** Timestamp in interface units. */
  ts: bigint;
  data: Uint8Array;
  origLen?: number;
  /** Overrides the caplen field (corruption tests). */
  caplen?: number;
}

export function epb(spec: EpbSpec): BlockWriter {
  return block(6, (out) => {
    out.u32(spec.interfaceId ?? 0).ts(spec.ts).u32(spec.caplen ?? spec.data.length);
    out.u32(spec.origLen ?? spec.data.length).raw(spec.data).pad4();
    writeOptions(out, [{ code: 2, value: Uint8Array.of(0, 0, 0, 1) }]); // epb_flags: inbound
  });
}

/** The obsolete Packet Block (type 2). */
export function opb(spec: EpbSpec & { drops?: number }): BlockWriter {
  return block(2, (out) => {
    out.u16(spec.interfaceId ?? 0).u16(spec.drops ?? 0).ts(spec.ts).u32(spec.caplen ?? spec.data.length);
    out.u32(spec.origLen ?? spec.data.length).raw(spec.data);
  });
}

export function spb(data: Uint8Array, origLen = data.length): BlockWriter {
  return block(3, (out) => out.u32(origLen).raw(data));
}

export interface IsbSpec {
  interfaceId?: number;
  ts?: bigint;
  start?: bigint;
  end?: bigint;
  ifRecv?: bigint;
  ifDrop?: bigint;
  osDrop?: bigint;
}

export function isb(spec: IsbSpec): BlockWriter {
  return (littleEndian) => {
    const options: Option[] = [];
    if (spec.start !== undefined) options.push(tsOption(2, spec.start, littleEndian));
    if (spec.end !== undefined) options.push(tsOption(3, spec.end, littleEndian));
    if (spec.ifRecv !== undefined) options.push(u64Option(4, spec.ifRecv, littleEndian)); // isb_ifrecv
    if (spec.ifDrop !== undefined) options.push(u64Option(5, spec.ifDrop, littleEndian)); // isb_ifdrop
    if (spec.osDrop !== undefined) options.push(u64Option(7, spec.osDrop, littleEndian));
    return block(5, (out) => {
      out.u32(spec.interfaceId ?? 0).ts(spec.ts ?? 0n);
      writeOptions(out, options);
    })(littleEndian);
  };
}

/** A Name Resolution Block with one IPv4 record. */
export function nrb(): BlockWriter {
  return block(4, (out) => {
    const name = Buffer.from('example.com\0');
    out.u16(1).u16(4 + name.length).raw(Uint8Array.of(192, 0, 2, 1)).raw(name).pad4();
    out.u16(0).u16(0);
  });
}

/** A Custom Block (0x00000BAD copiable, 0x40000BAD not) with a private enterprise number. */
export function customBlock(type: 0xbad | 0x40000bad, data: Uint8Array): BlockWriter {
  return block(type, (out) => out.u32(32473).raw(data));
}

// ---------------------------------------------------------------- files and reading

const here = path.dirname(fileURLToPath(import.meta.url));

/** The public corpus lives beside the repository: <repo root>/../shared/corpus. */
export const CORPUS_DIR = path.resolve(here, '../../../shared/corpus');

export interface TempDir {
  dir: string;
  write(name: string, data: Uint8Array): string;
  remove(): void;
}

export function makeTempDir(prefix = 'synprobe-read-', base = tmpdir()): TempDir {
  const dir = mkdtempSync(path.join(base, prefix));
  return {
    dir,
    write(name, data) {
      const file = path.join(dir, name);
      writeFileSync(file, data);
      return file;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A packet copied out of the reused PacketRecord. */
export interface CopiedPacket extends Omit<PacketRecord, 'buf' | 'offset'> {
  data: Buffer;
}

export async function readAll(file: string): Promise<{ summary: CaptureSummary; packets: CopiedPacket[] }> {
  const packets: CopiedPacket[] = [];
  const summary = await readCapture(file, (p) => {
    const { buf, offset, ...fields } = p;
    packets.push({ ...fields, data: Buffer.from(buf.subarray(offset, offset + p.caplen)) });
  });
  return { summary, packets };
}

/** tshark's frame.time_epoch: seconds, '.', nanoseconds as 9 digits (more when the file holds >= 1e9). */
export function formatEpoch(p: { tsSec: number; tsNsec: number }): string {
  return `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}`;
}
