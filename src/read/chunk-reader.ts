/**
 * The buffer both capture readers read a file forward through: one reusable buffer, compacted as
 * the reader moves on and grown only for a record or block bigger than it.
 *
 * Reads are synchronous (readSync on the open handle's descriptor): a chunk of a capture comes from
 * the page cache in about a tenth of a millisecond, and an asynchronous read first goes to libuv's
 * thread pool and back, which cost the 2M-packet benchmark pair about 100 ms of idle waiting per
 * thread (bench/PERFORMANCE.md). So that a signal handler or a timer still runs while a big file is
 * read, `fill` gives the event loop a turn every YIELD_EVERY bytes.
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { failIo } from './types.js';

export const CHUNK_SIZE = 1 << 20;
/** Bytes read between two turns of the event loop. */
const YIELD_EVERY = 16 * CHUNK_SIZE;

export class ChunkReader {
  buf: Buffer = Buffer.allocUnsafe(CHUNK_SIZE);
  view: DataView = viewOf(this.buf);
  /** True once a read returned no bytes. */
  private eof = false;
  /** File offset of buf[0]. */
  private base: number;
  /** Valid bytes in buf. */
  private length = 0;
  /** Bytes read since the event loop last had a turn. */
  private sinceYield = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly file: string,
    start = 0,
  ) {
    this.base = start;
  }

  /** Bytes present in the buffer from file offset `offset` on. */
  available(offset: number): number {
    return this.base + this.length - offset;
  }

  /** Index in `buf` of file offset `offset`. */
  indexOf(offset: number): number {
    return offset - this.base;
  }

  /**
   * Makes `count` bytes from file offset `offset` available (`offset` not before any earlier one);
   * false when the file ends first. Throws CaptureFileError EIO when a read fails.
   */
  async fill(offset: number, count: number): Promise<boolean> {
    this.discardBefore(offset);
    if (count > this.buf.length) this.grow(count);
    while (this.length < count) {
      if (this.eof) return false;
      if (this.sinceYield >= YIELD_EVERY) {
        this.sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const bytesRead = this.readAt(this.base + this.length);
      if (bytesRead === 0) this.eof = true;
      this.length += bytesRead;
      this.sinceYield += bytesRead;
    }
    return true;
  }

  /** One read into the free end of the buffer, from file offset `position`. */
  private readAt(position: number): number {
    try {
      return readSync(this.handle.fd, this.buf, this.length, this.buf.length - this.length, position);
    } catch (error) {
      return failIo(this.file, `cannot read at byte offset ${position}`, error);
    }
  }

  private discardBefore(offset: number): void {
    const drop = offset - this.base;
    if (drop <= 0) return;
    this.buf.copyWithin(0, drop, this.length);
    this.base = offset;
    this.length -= drop;
  }

  private grow(count: number): void {
    const bigger = Buffer.allocUnsafe(Math.ceil(count / CHUNK_SIZE) * CHUNK_SIZE);
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
    this.view = viewOf(bigger);
  }
}

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}
