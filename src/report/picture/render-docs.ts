/**
 * Regenerates the README's pictures: one PNG per fixture scenario in docs/pictures/.
 *   npm run build && node dist/report/picture/render-docs.js [out-dir]
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { analyzeCaptures } from '../../analyze/index.js';
import { renderPictureSvg } from './render.js';
import { svgToPng } from './png.js';
import { writeNewFile } from './write.js';

export const DOC_SCENARIOS = ['path-cap', 'synack-lost', 'server-drop', 'refused', 'lossy', 'nat', 'ipv6'] as const;

const root = fileURLToPath(new URL('../../../', import.meta.url));

export async function renderDocs(outDir = join(root, 'docs', 'pictures')): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const name of DOC_SCENARIOS) {
    const result = await analyzeCaptures({
      clientFile: join(root, 'fixtures', `${name}-client.pcap`),
      serverFile: join(root, 'fixtures', `${name}-server.pcap`),
    });
    const file = join(outDir, `${name}.png`);
    await writeNewFile(file, await svgToPng(renderPictureSvg(result)), true);
    written.push(file);
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  renderDocs(process.argv[2]).then(
    (files) => { for (const f of files) process.stdout.write(`${f}\n`); },
    (err) => { process.stderr.write(`render-docs: ${(err as Error).message}\n`); process.exitCode = 1; },
  );
}
