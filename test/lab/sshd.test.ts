import { existsSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createLab, destroyLab, inNamespace, runCommand, startSshd, type LabSshd } from '../../src/lab/topology.js';
import { labTestsCanRun, uniqueLabName } from './helpers.js';

const canRun = labTestsCanRun(['ip', 'nft', 'ssh', 'ssh-keygen', '/usr/sbin/sshd']);

describe.skipIf(!canRun)('startSshd (root)', () => {
  const name = uniqueLabName();
  let sshd: LabSshd | null = null;
  afterAll(async () => {
    await sshd?.stop();
    await destroyLab(name);
  });

  it('runs a real OpenSSH server in the server namespace that accepts `ssh ... true` from the client, even with the probe port capped to 0', async () => {
    const lab = await createLab({ name, scenario: 'path-cap', limit: 0 });
    sshd = await startSshd(lab);
    expect(sshd.port).toBe(22);
    expect(sshd.target).toBe(`${sshd.user}@${lab.server.addr4}`);
    expect(sshd.sshOptions).toEqual(expect.arrayContaining(['-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-p', '22']));
    expect(statSync(sshd.dir).mode & 0o777).toBe(0o700);

    const ok = await runCommand(inNamespace(lab.client.ns, ['ssh', ...sshd.sshOptions, sshd.target, 'true']));
    expect(ok.code).toBe(0);
    // The session really is in the server namespace, and $SSH_CONNECTION names its 4-tuple.
    const conn = await runCommand(inNamespace(lab.client.ns, ['ssh', ...sshd.sshOptions, sshd.target, 'echo $SSH_CONNECTION']));
    expect(conn.stdout.trim()).toMatch(new RegExp(`^${lab.client.addr4.replace(/\./g, '\\.')} \\d+ ${lab.server.addr4.replace(/\./g, '\\.')} 22$`));

    const dir = sshd.dir;
    await sshd.stop();
    sshd = null;
    expect(existsSync(dir)).toBe(false);
    // Nothing listens on port 22 any more: the connection is refused at once.
    const probe = await runCommand(inNamespace(lab.client.ns, ['bash', '-c', `exec 3<>/dev/tcp/${lab.server.addr4}/22`]), { allowFailure: true });
    expect(probe.code).not.toBe(0);
    expect(probe.stderr).toMatch(/refused/i);
  });
});
