/** What the end-to-end suites need before they can run: root, the lab's tools, sshd and a build. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** null when `synprobe lab` can run here; else why not. `built`: a file of dist/ the suite loads. */
export function missingLabPrerequisite(built: string): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'nft', 'tcpdump', 'ssh', 'ssh-keygen']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} missing`;
  }
  if (!existsSync('/usr/sbin/sshd')) return 'sshd missing (openssh-server)';
  if (!existsSync(built)) return 'dist/ missing: run npm run build';
  return null;
}
