import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/** synprobe's version, from package.json. */
export function readVersion(): string {
  if (cached === null) {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'));
    cached = String(pkg.version);
  }
  return cached;
}
