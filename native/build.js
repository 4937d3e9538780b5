/**
 * Builds the probe's native connect loop (native/connect.c → build/Release/synprobe_connect.node)
 * with node-gyp, against this Node's own headers when they are installed (no download). Run by
 * `npm install` (the install script) and by `npm test` (--if-stale: only when connect.c or
 * binding.gyp is newer than the addon).
 *
 * Without a C compiler, make or python3 the build fails; the install still succeeds, and the
 * probe uses Node's sockets (about a third of the speed) and says so. SYNPROBE_NATIVE=require
 * makes a failed build fail the install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'synprobe_connect.node');
const sources = [join(root, 'native', 'connect.c'), join(root, 'binding.gyp')];

function stale() {
  if (!existsSync(addon)) return true;
  const built = statSync(addon).mtimeMs;
  return sources.some((file) => statSync(file).mtimeMs > built);
}

/** node-gyp: npm's own (npm passes its path), else the one beside this Node's npm, else PATH. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

function main() {
  if (process.argv.includes('--if-stale') && !stale()) return 0;
  const args = ['rebuild'];
  // This Node's headers (Debian's nodejs puts them in /usr/include/node): no download needed.
  const prefix = join(dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  const [cmd, ...pre] = nodeGyp();
  const r = spawnSync(cmd, [...pre, ...args], { cwd: root, encoding: 'utf8' });
  if (r.status === 0) {
    process.stderr.write(`synprobe: built the native connect loop (${addon})\n`);
    return 0;
  }
  // node-gyp's own lines say where it failed; the compiler's or make's say why.
  const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').filter((l) => l.trim() && !/^gyp (info|http)|^gyp ERR! (System|command|cwd|node -v|node-gyp -v|not ok)|^\s*(CC|CXX|SOLINK|LINK|COPY|TOUCH)\(/.test(l));
  const why = r.error ? r.error.message : lines.slice(0, 10).join('\n');
  process.stderr.write(`synprobe: the native connect loop was not built; the probe will use Node's sockets (about a third of the connect rate).\n`
    + `  To build it: install a C compiler, make and python3 (Debian: apt-get install g++ make python3), then run npm rebuild synprobe (in a clone: npm run build:native).\n`
    + `  node-gyp said:\n${why.replace(/^/gm, '    ')}\n`);
  return process.env.SYNPROBE_NATIVE === 'require' ? 1 : 0;
}

process.exit(main());
