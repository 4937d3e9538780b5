/**
 * The lab the remote-capture suites run on (remote.test.ts, stop-faults.test.ts): the lab's
 * path-cap scenario with a real OpenSSH server and `synprobe serve` in the server namespace, the
 * CLI built once, and a work folder. Made inside the caller's describe: the constructor registers
 * the suite's beforeAll (build it) and afterAll (tear it down). A test's CLIs are started with
 * startCli() and killed, if still running, by stopRunning() (call it from afterEach).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { createLab, destroyLab, inNamespace, startSshd, type Lab, type LabSshd } from '../../src/lab/topology.js';
import { buildCli, nothingLeftOf, spawnCli, startServeInLab, uniqueName, type CliRun } from './helpers.js';

export class RemoteCaptureLab {
  readonly name: string;
  readonly work: string;
  bin = '';
  lab!: Lab;
  sshd: LabSshd | null = null;
  private serve: ChildProcess | null = null;
  private readonly running: CliRun[] = [];
  private made = 0;

  constructor(prefix: string, limit: number) {
    this.name = uniqueName(prefix);
    this.work = mkdtempSync(join(tmpdir(), `${this.name}-`));
    beforeAll(async () => {
      this.bin = buildCli();
      this.lab = await createLab({ name: this.name, scenario: 'path-cap', limit });
      this.sshd = await startSshd(this.lab);
      this.serve = await startServeInLab(this.lab, this.bin);
    });
    afterAll(async () => {
      this.serve?.kill('SIGTERM');
      await this.sshd?.stop().catch(() => undefined);
      await destroyLab(this.name);
      rmSync(this.work, { recursive: true, force: true });
    });
  }

  /** `synprobe capture ARGS` in the client namespace. */
  startCli(args: string[]): CliRun {
    const r = spawnCli(inNamespace(this.lab.client.ns, [process.execPath, this.bin, 'capture', ...args]));
    this.running.push(r);
    return r;
  }

  /** Kills the CLIs started by startCli that are still running. */
  async stopRunning(): Promise<void> {
    for (const r of this.running.splice(0)) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) {
        r.proc.kill('SIGKILL');
        await r.done;
      }
    }
  }

  /** A new path in the work folder: `<kind>-N` (not created). */
  newPath(kind = 'out'): string {
    return join(this.work, `${kind}-${++this.made}`);
  }

  /** --ssh and --ssh-option for the lab's sshd. */
  sshArgs(): string[] {
    return ['--ssh', this.sshd!.target, ...this.sshd!.sshOptions.map((o) => `--ssh-option=${o}`)];
  }

  /** Nothing of ours may be left: no tcpdump in either namespace, no ssh in the client one. */
  async expectNothingLeft(): Promise<void> {
    expect(await nothingLeftOf(this.lab)).toEqual({ tcpdump: true, ssh: true });
  }
}
