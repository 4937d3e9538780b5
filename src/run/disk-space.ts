/**
 * Notices a full disk under the output directory while the captures run.
 *
 * tcpdump does not: with `-U -w -` (tcpdump 4.99) it ignores the failed writes, keeps counting
 * packets as captured and exits 0 when stopped, while the pcap file has stopped growing (its last
 * record cut short). So the local capture cannot report ENOSPC itself; the file system can. When
 * no block is left for an ordinary user (tcpdump drops root privileges to write), no capture can
 * record anything more, and the run should stop there rather than go on probing without evidence.
 * Whether a capture really lost packets is decided when it stops (its file against its counts).
 */
import { statfs } from 'node:fs/promises';

export interface DiskSpace {
  /** Bytes an unprivileged writer may still use. */
  freeBytes: number;
  blockSize: number;
  /** false when the file system does not tell its size (tmpfs with size=0, some FUSE ones). */
  sized: boolean;
}

export async function diskSpace(dir: string): Promise<DiskSpace> {
  const st = await statfs(dir);
  return { freeBytes: Number(st.bavail) * Number(st.bsize), blockSize: Number(st.bsize), sized: Number(st.blocks) > 0 };
}

export interface DiskWatch {
  stop(): void;
}

/**
 * Checks the file system holding `dir` every `intervalMs`; calls `onFull` once, the first time
 * less than one block is free. A file system that reports no size at all, and errors of statfs,
 * are ignored (the captures' own checks at their stop remain).
 */
export function watchDiskSpace(dir: string, onFull: (space: DiskSpace) => void, intervalMs = 250): DiskWatch {
  let stopped = false;
  let busy = false;
  const check = async (): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    try {
      const space = await diskSpace(dir);
      if (!stopped && space.sized && space.freeBytes < space.blockSize) {
        stopped = true;
        clearInterval(timer);
        onFull(space);
      }
    } catch {
      // not knowable: say nothing
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => { void check(); }, intervalMs);
  timer.unref();
  void check();
  return {
    stop(): void {
      stopped = true;
      clearInterval(timer);
    },
  };
}
