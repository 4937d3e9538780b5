/**
 * Preloaded into a measured Node child (`node --import ./bench/lib/peak-rss.js ...`): when the
 * process exits, writes its peak resident set size (VmHWM, kB) to the file named by
 * SPBENCH_RSS_FILE. Falls back to process.resourceUsage().maxRSS where /proc is missing.
 */
import { writeFileSync } from 'node:fs';
import { statusKb } from './proc.js';

const target = process.env.SPBENCH_RSS_FILE;
if (target) {
  process.on('exit', () => {
    let kb = statusKb('VmHWM');
    if (Number.isNaN(kb)) kb = process.resourceUsage().maxRSS;
    writeFileSync(target, String(kb));
  });
}
