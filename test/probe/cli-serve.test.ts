import net from 'node:net';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { formatPorts, parsePortList, readOpenFilesLimit, register, runServe } from '../../src/cli/serve.js';
import { UsageError, type CliIO } from '../../src/cli/io.js';

function memoryIO(isTTY: boolean): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, isTTY, exitCode: -1, stdout: (s) => { out.push(s); }, stderr: (s) => { err.push(s); } };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('serve --port parsing', () => {
  it('accepts a port, a range and lists', () => {
    expect(parsePortList('8000')).toEqual([8000]);
    expect(parsePortList('8000-8003')).toEqual([8000, 8001, 8002, 8003]);
    expect(parsePortList('8000,9000-9001,8000')).toEqual([8000, 9000, 9001]);
  });

  it.each(['0', '65536', 'http', '8003-8000', '1-2000', '80,,81', '-5'])('rejects %s with a UsageError', (value) => {
    expect(() => parsePortList(value)).toThrow(UsageError);
  });

  it('shows runs of ports as ranges', () => {
    expect(formatPorts([8002, 8000, 8001, 9000])).toBe('8000-8002,9000');
    expect(formatPorts([8000])).toBe('8000');
  });

  it('reads the open-files limit of this process', () => {
    const limit = readOpenFilesLimit();
    expect(limit === null || limit > 0).toBe(true);
  });
});

describe('runServe', () => {
  it('listens, prints the count, stops on abort with the final count and exit status 0', async () => {
    const io = memoryIO(false);
    const port = await freePort();
    const stop = new AbortController();
    const running = runServe({ port: [port], bind: '127.0.0.1' }, io, stop.signal, { ttyIntervalMs: 20, lineIntervalMs: 20 });
    await new Promise((r) => setTimeout(r, 100));
    expect(io.out[0]).toBe(`listening on 127.0.0.1 port ${port}; stop with Ctrl-C\n`);
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      sockets.push(await new Promise<net.Socket>((resolve) => { const s = net.connect(port, '127.0.0.1', () => resolve(s)); }));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(io.out.some((l) => /Z held 3 connections \(accepted 3\)\n$/.test(l))).toBe(true);
    stop.abort();
    await running;
    expect(io.out.at(-1)).toBe('stopped: held 3 connections (accepted 3)\n');
    expect(io.exitCode).toBe(0);
    for (const s of sockets) s.destroy();
  });

  it('overwrites the count in place on a terminal', async () => {
    const io = memoryIO(true);
    const port = await freePort();
    const stop = new AbortController();
    const running = runServe({ port: [port], bind: '127.0.0.1' }, io, stop.signal, { ttyIntervalMs: 20, lineIntervalMs: 20 });
    await new Promise((r) => setTimeout(r, 80));
    stop.abort();
    await running;
    const live = io.out.filter((s) => s.startsWith('\r'));
    expect(live.length).toBeGreaterThan(0);
    expect(live[0]).toContain('held 0 connections');
    expect(io.out.join('')).toMatch(/\nstopped: held 0 connections \(accepted 0\)\n$/);
  });

  it('turns a port in use into a one-line UsageError', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(runServe({ port: [port], bind: '127.0.0.1' }, memoryIO(false), new AbortController().signal))
        .rejects.toThrow(new RegExp(`cannot listen on 127.0.0.1 port ${port}: EADDRINUSE`));
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('synprobe serve (command)', () => {
  function program(io: CliIO): Command {
    const p = new Command('synprobe').exitOverride().configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) });
    register(p, io);
    return p;
  }

  it('has help with examples', async () => {
    const io = memoryIO(false);
    await expect(program(io).parseAsync(['node', 'synprobe', 'serve', '--help'])).rejects.toMatchObject({ exitCode: 0 });
    const help = io.out.join('');
    expect(help).toContain('--port <ports>');
    expect(help).toContain('synprobe serve --port 8000-8003');
  });

  it('rejects a bad port or bind address before listening', async () => {
    await expect(program(memoryIO(false)).parseAsync(['node', 'synprobe', 'serve', '--port', '99999'])).rejects.toThrow(UsageError);
    await expect(program(memoryIO(false)).parseAsync(['node', 'synprobe', 'serve', '--bind', 'example.com'])).rejects.toThrow(UsageError);
  });
});
