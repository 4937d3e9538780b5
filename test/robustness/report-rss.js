/**
 * Preloaded (node --import) into bin/synprobe.js by the robustness tests: writes the process's
 * peak resident memory in KiB to $SYNPROBE_RSS_FILE when it exits, leaving stdout and stderr alone.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.SYNPROBE_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      writeFileSync(file, String(process.resourceUsage().maxRSS));
    } catch {
      // an unwritable file only loses the measurement
    }
  });
}
