/**
 * Writes the picture files without ever following a symlink. A new file is created with
 * O_CREAT|O_EXCL ('wx'), which fails on any existing path, a symlink included. An existing file is
 * replaced only when asked (`overwrite`) and only when it is a regular file: the new content goes
 * to a fresh temporary file beside it (also 'wx') that is then renamed over it, so a symlink put
 * there in the meantime is replaced itself, never written through.
 */
import { randomBytes } from 'node:crypto';
import { lstat, rename, unlink } from 'node:fs/promises';
import { writeNewFile as writeExclusive } from '../../files/new-file.js';
import { basename, dirname, join } from 'node:path';
import type { AnalysisResult } from '../../analyze/types.js';
import { renderPictureSvg } from './render.js';
import { svgToPng } from './png.js';

/** A picture file that could not be written: a mistake the user can fix (exit status 2). */
export class PictureFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PictureFileError';
  }
}

function describe(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** Creates `path`; an existing regular file is replaced only with `overwrite`, anything else never. */
export async function writeNewFile(path: string, data: string | Uint8Array, overwrite = false): Promise<void> {
  try {
    await writeExclusive(path, data);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new PictureFileError(`${path}: cannot create: ${describe(err)}`);
  }
  const st = await lstat(path);
  if (st.isSymbolicLink()) throw new PictureFileError(`${path} is a symbolic link: refusing to write through or replace it`);
  if (!st.isFile()) throw new PictureFileError(`${path} exists and is not a regular file`);
  if (!overwrite) throw new PictureFileError(`${path} exists: remove it, choose another name, or pass --overwrite`);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeExclusive(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new PictureFileError(`${path}: cannot replace: ${describe(err)}`);
  }
}

export interface PictureFiles {
  svg?: string | null;
  png?: string | null;
  redact?: boolean;
  overwrite?: boolean;
}

/**
 * Renders the picture once and writes the files asked for. Returns the name a markdown report
 * should refer to (the PNG when there is one: forums take PNG), or null when nothing was written.
 */
export async function writePictures(result: AnalysisResult, files: PictureFiles): Promise<string | null> {
  if (!files.svg && !files.png) return null;
  const svg = renderPictureSvg(result, { redact: files.redact });
  if (files.svg) await writeNewFile(files.svg, svg, files.overwrite);
  if (files.png) await writeNewFile(files.png, await svgToPng(svg), files.overwrite);
  return basename(files.png || files.svg || '');
}
