/** Creating output files without following or overwriting anything someone placed in the way. */
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';

/** O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW: fails on any existing path, a symlink included. */
export function exclusiveCreateFlags(): number {
  return fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
}

/** Creates `path` exclusively and writes `data` (synced to disk where the file system allows). */
export async function writeNewFile(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, exclusiveCreateFlags(), 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync().catch(() => undefined);
  } finally {
    await fh.close();
  }
}
