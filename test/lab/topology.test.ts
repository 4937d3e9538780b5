import { afterEach, describe, expect, it } from 'vitest';
import {
  createLab, destroyLab, findStaleLabs, inNamespace, runCommand, scenarioRules, SCENARIOS, type Lab,
} from '../../src/lab/topology.js';
import { labTestsCanRun, uniqueLabName } from './helpers.js';

const canRun = labTestsCanRun(['ip', 'nft']);

async function namespacesOf(name: string): Promise<string[]> {
  const { stdout } = await runCommand(['ip', 'netns', 'list']);
  return stdout.split('\n').map((l) => l.split(/\s+/)[0] ?? '').filter((ns) => ns.startsWith(`${name}-`));
}

describe('inNamespace and scenarioRules (no root needed)', () => {
  it('wraps argv in ip netns exec', () => {
    expect(inNamespace('synlab-client', ['tcpdump', '-i', 'any'])).toEqual(['ip', 'netns', 'exec', 'synlab-client', 'tcpdump', '-i', 'any']);
  });

  const fake = {
    limit: 300, port: 8000,
    router: { ns: 'x-router', clientSide: { ns: 'x-router', iface: 'veth-rc', addr4: '198.18.0.1', addr6: '2001:2:0:1::1' }, serverSide: { ns: 'x-router', iface: 'veth-rs', addr4: '198.19.0.1', addr6: '2001:2:0:2::1' } },
    server: { ns: 'x-server', iface: 'veth-server', addr4: '198.19.0.2', addr6: '2001:2:0:2::2' },
  };

  it('path-cap is the design rule: a ct count per destination address and port, in the forward hook', () => {
    const [rule] = scenarioRules({ ...fake, scenario: 'path-cap' });
    expect(rule!.ns).toBe('x-router');
    expect(rule!.script).toContain('hook forward');
    expect(rule!.script).toContain('add @cap { ip daddr . tcp dport ct count over 300 } counter drop');
    expect(rule!.script).toContain('tcp dport 8000');
  });

  it('every capped rule matches only the probe port, so ssh is never capped', () => {
    for (const scenario of SCENARIOS) {
      for (const { script } of scenarioRules({ ...fake, scenario })) {
        const ruleLines = script.split('\n').filter((l) => /drop|reject|snat/.test(l));
        for (const line of ruleLines) expect(line).toMatch(/tcp [sd]port 8000/);
        expect(script).not.toMatch(/\b22\b/);
      }
    }
  });

  it('puts server-drop in the server input hook, refused as a reset, nat as snat with new ports', () => {
    const [drop] = scenarioRules({ ...fake, scenario: 'server-drop' });
    expect(drop!.ns).toBe('x-server');
    expect(drop!.script).toContain('hook input');
    expect(scenarioRules({ ...fake, scenario: 'refused' })[0]!.script).toContain('reject with tcp reset');
    const nat = scenarioRules({ ...fake, scenario: 'nat' })[0]!.script;
    expect(nat).toContain('snat ip to 198.19.0.1:20000-29999 random');
    expect(scenarioRules({ ...fake, scenario: 'synack-lost' })[0]!.script).toContain('ct direction reply');
    expect(scenarioRules({ ...fake, scenario: 'lossy' }, 5)[0]!.script).toContain('numgen inc mod 5 == 0 counter drop');
    expect(scenarioRules({ ...fake, scenario: 'ipv6' })[0]!.script).toContain('ip6 daddr . tcp dport ct count over 300');
    expect(scenarioRules({ ...fake, scenario: 'open' })).toEqual([]);
  });

  it('rejects bad options before touching the system', async () => {
    await expect(createLab({ name: 'bad name', scenario: 'open', limit: 1 })).rejects.toThrow(/lab name/);
    await expect(createLab({ name: 'x', scenario: 'nope' as never, limit: 1 })).rejects.toThrow(/unknown scenario/);
    await expect(createLab({ name: 'x', scenario: 'open', limit: -1 })).rejects.toThrow(/limit/);
    await expect(createLab({ name: 'x', scenario: 'open', limit: 1, port: 22 })).rejects.toThrow(/22/);
    await expect(createLab({ name: 'x', scenario: 'lossy', limit: 1, lossModulo: 1 })).rejects.toThrow(/lossModulo/);
  });
});

describe.skipIf(!canRun)('createLab / destroyLab (root)', () => {
  const name = uniqueLabName();
  afterEach(async () => { await destroyLab(name); });

  it.each(SCENARIOS.map((s) => [s]))('%s: builds three namespaces with the rules and leaves nothing behind', async (scenario) => {
    const lab: Lab = await createLab({ name, scenario, limit: 3, synRetries: 2 });
    expect((await namespacesOf(name)).sort()).toEqual([`${name}-client`, `${name}-router`, `${name}-server`]);
    expect(lab.peer).toBe(scenario === 'ipv6' ? '2001:2:0:2::2' : '198.19.0.2');
    expect(await findStaleLabs(name)).toEqual([name]);
    const forward = await runCommand(inNamespace(lab.router.ns, ['sysctl', '-n', 'net.ipv4.ip_forward']));
    expect(forward.stdout.trim()).toBe('1');
    const retries = await runCommand(inNamespace(lab.client.ns, ['sysctl', '-n', 'net.ipv4.tcp_syn_retries']));
    expect(retries.stdout.trim()).toBe('2');
    for (const { ns } of lab.rules) {
      const { stdout } = await runCommand(inNamespace(ns, ['nft', 'list', 'ruleset']));
      expect(stdout).toContain('table inet synlab');
    }
    if (scenario === 'open') expect(lab.rules).toEqual([]);
    await destroyLab(name);
    expect(await namespacesOf(name)).toEqual([]);
    expect(await findStaleLabs(name)).toEqual([]);
  });

  it('is idempotent and refuses to build over an existing lab', async () => {
    await destroyLab(name);
    await createLab({ name, scenario: 'open', limit: 1 });
    await expect(createLab({ name, scenario: 'open', limit: 1 })).rejects.toThrow(/already exists/);
    await destroyLab(name);
    await destroyLab(name);
    expect(await namespacesOf(name)).toEqual([]);
  });

  it('leaves tcp_syn_retries at the kernel default (6) unless asked', async () => {
    const lab = await createLab({ name, scenario: 'open', limit: 1 });
    const inLab = await runCommand(inNamespace(lab.client.ns, ['sysctl', '-n', 'net.ipv4.tcp_syn_retries']));
    expect(inLab.stdout.trim()).toBe('6');
  });
});
