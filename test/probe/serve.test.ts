import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/probe/serve.js';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('startServer', () => {
  let server: RunningServer | null = null;
  const clients: net.Socket[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.close();
    server = null;
  });

  it('holds N connections and reports them, and lets go of those the peer closes', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    expect(server.ports).toHaveLength(1);
    expect(server.bind).toBe('127.0.0.1');
    for (let i = 0; i < 50; i++) clients.push(await connect(server.ports[0]!));
    await until(() => server!.held() === 50);
    expect(server.accepted()).toBe(50);
    for (const c of clients.slice(0, 10)) c.end();
    await until(() => server!.held() === 40);
    expect(server.accepted()).toBe(50);
    expect(server.acceptErrors()).toEqual({ count: 0, last: null });
  });

  it('reads and discards data without closing the connection', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const c = await connect(server.ports[0]!);
    clients.push(c);
    await new Promise<void>((r) => c.write(Buffer.alloc(1 << 20), () => r()));
    await new Promise((r) => setTimeout(r, 50));
    expect(server.held()).toBe(1);
    expect(c.destroyed).toBe(false);
  });

  it('listens on several ports at once', async () => {
    const a = await startServer({ port: 0, bind: '127.0.0.1' });
    const ports = [a.ports[0]!];
    await a.close();
    server = await startServer({ port: [ports[0]!, 0], bind: '127.0.0.1' });
    expect(server.ports[0]).toBe(ports[0]);
    expect(server.ports).toHaveLength(2);
    for (const p of server.ports) clients.push(await connect(p));
    await until(() => server!.held() === 2);
  });

  it('defaults to both families on ::', async () => {
    server = await startServer({ port: 0 });
    expect(['::', '0.0.0.0']).toContain(server.bind);
    clients.push(await connect(server.ports[0]!));
    await until(() => server!.held() === 1);
  });

  it('close() drops every held connection', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const c = await connect(server.ports[0]!);
    clients.push(c);
    await until(() => server!.held() === 1);
    const closed = new Promise((r) => c.once('close', r));
    await server.close();
    expect(server.held()).toBe(0);
    await closed;
    server = null;
  });

  it('rejects bad ports and addresses, and a port in use', async () => {
    await expect(startServer({ port: 70000 })).rejects.toThrow(/invalid port/);
    await expect(startServer({ port: [] })).rejects.toThrow(/no port/);
    await expect(startServer({ port: 0, bind: 'localhost' })).rejects.toThrow(/not an IP address/);
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    await expect(startServer({ port: server.ports[0]!, bind: '127.0.0.1' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
