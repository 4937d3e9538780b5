import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyError, runProbe, type HeldProbe, type ProbeProgress } from '../../src/probe/probe.js';
import { startServer, type RunningServer } from '../../src/probe/serve.js';
import { nativeEngine } from '../../src/probe/native.js';
import { buildProbeMain } from '../lab/helpers.js';

/**
 * Both engines run every test. The native one needs `npm install` to have built it (a C compiler):
 * without it the tests say so and skip here, and fail in CI, which installs the compiler.
 */
const native = nativeEngine();
const ENGINES = [
  { engine: 'node' as const, missing: null },
  { engine: 'native' as const, missing: native.binding ? null : native.reason },
];

describe('the native connect loop', () => {
  it.skipIf(!process.env.CI && !native.binding)(`is built and loads (CI must have it${native.reason ? `; here: ${native.reason}` : ''})`, () => {
    expect(native.reason).toBeNull();
    expect(native.binding).not.toBeNull();
  });

  it('engine auto takes it when it is there and says why not otherwise; native is refused when missing', async () => {
    const server = await startServer({ port: 0, bind: '127.0.0.1' });
    try {
      const held = await runProbe({ host: '127.0.0.1', port: server.ports[0]!, max: 3, connectTimeoutMs: 5000, engine: 'auto' });
      expect(held.result.engine).toBe(native.binding ? 'native' : 'node');
      expect(held.result.engineNote).toBe(native.binding ? null : native.reason);
      await held.close();
      if (!native.binding) {
        await expect(runProbe({ host: '127.0.0.1', port: server.ports[0]!, max: 3, connectTimeoutMs: 5000, engine: 'native' })).rejects.toThrow(/native connect loop/);
      }
      await expect(runProbe({ host: '127.0.0.1', port: server.ports[0]!, max: 3, connectTimeoutMs: 5000, engine: 'fast' as 'node' })).rejects.toThrow(/unknown probe engine 'fast'/);
    } finally {
      await server.close();
    }
  });
});

/** A loopback port with nothing listening: bound once, then released. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('classifyError', () => {
  it.each([
    ['ETIMEDOUT', 'timeout'], ['ECONNREFUSED', 'refused'],
    ['EADDRNOTAVAIL', 'local-limit'], ['EMFILE', 'local-limit'], ['ENFILE', 'local-limit'], ['ENOBUFS', 'local-limit'],
    ['EHOSTUNREACH', 'unreachable'], ['ENETUNREACH', 'unreachable'],
    ['ECONNRESET', 'other'], ['EWHATEVER', 'other'],
  ])('%s → %s', (code, kind) => { expect(classifyError(code)).toBe(kind); });
});

describe.each(ENGINES)('runProbe on loopback, $engine engine', ({ engine, missing }) => {
  if (missing && !process.env.CI) {
    it.skip(`(not built: ${missing})`, () => {});
    return;
  }
  let server: RunningServer | null = null;
  let probe: HeldProbe | null = null;
  afterEach(async () => {
    await probe?.close();
    probe = null;
    await server?.close();
    server = null;
  });

  it('stops at max with every connection held, and close() lets them go', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const progress: ProbeProgress[] = [];
    probe = await runProbe({ engine, host: '127.0.0.1', port: server.ports[0]!, max: 100, connectTimeoutMs: 5000, onProgress: (p) => progress.push(p) });
    expect(probe.result).toMatchObject({ attempts: 100, established: 100, stoppedBy: 'max', failure: null });
    expect(probe.held()).toBe(100);
    expect(probe.result.ratePerSec).toBeGreaterThan(0);
    expect(Date.parse(probe.result.endedAt)).toBeGreaterThanOrEqual(Date.parse(probe.result.startedAt));
    expect(progress.at(-1)).toMatchObject({ held: 100, attempts: 100 });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.held()).toBe(100);
    await probe.close();
    expect(probe.held()).toBe(0);
    const end = Date.now() + 5000;
    while (server.held() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(server.held()).toBe(0);
  });

  it('maps ECONNREFUSED against a closed port to kind refused, with the local port of the SYN', async () => {
    const port = await closedPort();
    probe = await runProbe({ engine, host: '127.0.0.1', port, max: 10, connectTimeoutMs: 5000 });
    expect(probe.result).toMatchObject({ attempts: 1, established: 0, stoppedBy: 'failure' });
    const f = probe.result.failure!;
    expect(f).toMatchObject({ attempt: 1, code: 'ECONNREFUSED', kind: 'refused', localAddress: '127.0.0.1' });
    expect(f.localPort).toBeGreaterThan(0);
    expect(f.localPort).not.toBe(port);
    expect(Number.isNaN(Date.parse(f.startedAt))).toBe(false);
    expect(f.elapsedMs).toBeLessThan(1000);
  });

  it('takes a max and a timeout beyond 32 bits (the native loop counts in 32 bits)', async () => {
    const port = await closedPort();
    probe = await runProbe({ engine, host: '127.0.0.1', port, max: 1e10, connectTimeoutMs: 1e12 });
    expect(probe.result).toMatchObject({ attempts: 1, established: 0, stoppedBy: 'failure' });
    expect(probe.result.failure).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('stops at the first failure after the connections that worked: the listener goes away mid-run', async () => {
    // A listener that stops listening after its 5th connection; later SYNs are refused.
    const held: net.Socket[] = [];
    const listener = net.createServer((s) => { held.push(s); s.on('error', () => {}); if (held.length === 5) listener.close(); });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
    const { port } = listener.address() as net.AddressInfo;
    try {
      probe = await runProbe({ engine, host: '127.0.0.1', port, max: 1000, connectTimeoutMs: 5000 });
      expect(probe.result.stoppedBy).toBe('failure');
      const failure = probe.result.failure!;
      if (engine === 'node') {
        expect(failure).toMatchObject({ code: 'ECONNREFUSED', kind: 'refused' });
      } else {
        // The native loop connects on its own thread while this listener closes: the last SYN can
        // find the listener gone (ECONNREFUSED), or its handshake can complete just before and the
        // closing listener resets it before connect() returns (ECONNRESET, a failed attempt too;
        // measured on this loopback: about 1 run in 3).
        expect(['ECONNREFUSED', 'ECONNRESET']).toContain(failure.code);
        expect(failure.kind).toBe(failure.code === 'ECONNREFUSED' ? 'refused' : 'other');
        expect(failure.message).toBe(`connect ${failure.code} 127.0.0.1:${port}`);
      }
      expect(probe.result.established).toBeGreaterThanOrEqual(5);
      // Node engine: the probe and this listener share the event loop, so the 6th handshake at most
      // completes in the backlog before the listener closes. The native loop runs on a thread of
      // its own while the kernel completes handshakes into the backlog: many more may be made.
      if (engine === 'node') expect(probe.result.established).toBeLessThanOrEqual(6);
      expect(probe.result.attempts).toBe(probe.result.established + 1);
      expect(probe.result.failure!.attempt).toBe(probe.result.attempts);
    } finally {
      for (const s of held) s.destroy();
    }
  });

  it('stops when the signal aborts', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const controller = new AbortController();
    controller.abort();
    probe = await runProbe({ engine, host: '127.0.0.1', port: server.ports[0]!, max: 10, connectTimeoutMs: 5000, signal: controller.signal });
    expect(probe.result).toMatchObject({ attempts: 0, established: 0, stoppedBy: 'aborted', failure: null });
    await probe.close();
    const later = new AbortController();
    setTimeout(() => later.abort(), 200);
    probe = await runProbe({ engine, host: '127.0.0.1', port: server.ports[0]!, max: 10_000_000, connectTimeoutMs: 5000, signal: later.signal });
    expect(probe.result.stoppedBy).toBe('aborted');
    expect(probe.result.established).toBeGreaterThan(0);
    expect(probe.held()).toBe(probe.result.established);
  });

  /**
   * A listener that never accepts, with the smallest queue: once the queue holds what it can, the
   * kernel drops every further SYN (no answer at all), like a lossy path. Python, because Node
   * accepts every connection itself.
   */
  async function silentListener(): Promise<{ port: number; stop: () => void }> {
    const child = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding('utf8').once('data', (s: string) => resolve(Number(s.trim())));
      child.once('error', reject);
    });
    return { port, stop: () => { child.kill('SIGKILL'); } };
  }

  it('a SYN nobody answers: ETIMEDOUT after connectTimeoutMs, the socket closed (no SYN-SENT left)', async () => {
    const listener = await silentListener();
    try {
      probe = await runProbe({ engine, host: '127.0.0.1', port: listener.port, max: 50, connectTimeoutMs: 1200 });
      const r = probe.result;
      expect(r.stoppedBy).toBe('failure');
      expect(r.established).toBeGreaterThanOrEqual(1);
      expect(r.established).toBeLessThanOrEqual(3);
      expect(r.failure).toMatchObject({ attempt: r.established + 1, code: 'ETIMEDOUT', kind: 'timeout', localAddress: '127.0.0.1', remotePort: listener.port });
      expect(r.failure!.message).toBe(`connect ETIMEDOUT 127.0.0.1:${listener.port} (no answer to the SYN within 1200 ms)`);
      expect(r.failure!.localPort).toBeGreaterThan(0);
      expect(r.failure!.elapsedMs).toBeGreaterThanOrEqual(1199);
      expect(r.failure!.elapsedMs).toBeLessThan(2500);
      const ss = spawnSync('ss', ['-Htn', 'state', 'syn-sent', `( dport = :${listener.port} )`], { encoding: 'utf8' });
      expect(ss.stdout.trim()).toBe('');
    } finally {
      listener.stop();
    }
  });

  it('an abort wakes a connect that waits for an answer at once', async () => {
    const listener = await silentListener();
    try {
      const controller = new AbortController();
      const progress: ProbeProgress[] = [];
      const started = performance.now();
      setTimeout(() => controller.abort(), 600);
      probe = await runProbe({ engine, host: '127.0.0.1', port: listener.port, max: 50, connectTimeoutMs: 20_000, signal: controller.signal, onProgress: (p) => progress.push(p) });
      const tookMs = performance.now() - started;
      expect(probe.result).toMatchObject({ stoppedBy: 'aborted', failure: null });
      expect(probe.result.attempts).toBe(probe.result.established + 1);
      expect(tookMs).toBeLessThan(5000);
      expect(progress.at(-1)).toMatchObject({ held: probe.result.established, attempts: probe.result.attempts });
      const ss = spawnSync('ss', ['-Htn', 'state', 'syn-sent', `( dport = :${listener.port} )`], { encoding: 'utf8' });
      expect(ss.stdout.trim()).toBe('');
    } finally {
      listener.stop();
    }
  });

  /** A run of `n` free loopback ports from a random base (for naming local ports in tests). */
  async function freeRange(n: number): Promise<{ low: number; high: number }> {
    for (;;) {
      const low = 20000 + Math.floor(Math.random() * 10000);
      const probes = await Promise.all(Array.from({ length: n }, (_, i) => new Promise<boolean>((r) => {
        const s = net.createServer();
        s.once('error', () => r(false));
        s.listen(low + i, '127.0.0.1', () => s.close(() => r(true)));
      })));
      if (probes.every(Boolean)) return { low, high: low + n - 1 };
    }
  }

  it('goes round every (source, port) pair and names its own local ports: 2 sources x 2 ports x 10 local ports = 40', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const second = await startServer({ port: 0, bind: '0.0.0.0' });
    try {
      const ports = [server.ports[0]!, second.ports[0]!];
      const localPorts = await freeRange(10);
      probe = await runProbe({ engine, host: '127.0.0.1', ports, binds: ['127.0.0.1', '127.0.0.2'], localPorts, max: 1000, connectTimeoutMs: 5000 });
      const r = probe.result;
      expect(r).toMatchObject({ established: 40, attempts: 41, stoppedBy: 'failure', skippedLocalPorts: 0 });
      expect(r.failure).toMatchObject({ attempt: 41, code: 'EADDRNOTAVAIL', kind: 'local-limit', localAddress: '127.0.0.1', remotePort: ports[0] });
      expect(r.failure!.message).toMatch(/no free local port from 127\.0\.0\.1 to 127\.0\.0\.1:\d+: the 10 ports of ip_local_port_range/);
      expect(r.pairs).toEqual([
        { source: '127.0.0.1', port: ports[0], attempts: 11, established: 10 },
        { source: '127.0.0.1', port: ports[1], attempts: 10, established: 10 },
        { source: '127.0.0.2', port: ports[0], attempts: 10, established: 10 },
        { source: '127.0.0.2', port: ports[1], attempts: 10, established: 10 },
      ]);
      expect(probe.held()).toBe(40);
    } finally {
      await second.close();
    }
  });

  it('skips a local port the kernel will not give (a listener holds it) before any SYN leaves', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const localPorts = await freeRange(5);
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(localPorts.low + 2, '127.0.0.1', () => r()));
    try {
      probe = await runProbe({ engine, host: '127.0.0.1', port: server.ports[0]!, binds: ['127.0.0.1'], localPorts, max: 100, connectTimeoutMs: 5000 });
      expect(probe.result).toMatchObject({ established: 4, attempts: 5, skippedLocalPorts: 1, stoppedBy: 'failure' });
      expect(probe.result.failure).toMatchObject({ code: 'EADDRNOTAVAIL', kind: 'local-limit' });
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('without a source address the kernel gives each destination port the whole range', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const second = await startServer({ port: 0, bind: '127.0.0.1' });
    try {
      probe = await runProbe({ engine, host: '127.0.0.1', ports: [server.ports[0]!, second.ports[0]!], max: 30, connectTimeoutMs: 5000 });
      expect(probe.result).toMatchObject({ established: 30, stoppedBy: 'max' });
      expect(probe.result.pairs.map((p) => [p.source, p.established])).toEqual([[null, 15], [null, 15]]);
    } finally {
      await second.close();
    }
  });

  it('rejects bad options', async () => {
    await expect(runProbe({ engine, host: '127.0.0.1', port: 0, max: 1, connectTimeoutMs: 1 })).rejects.toThrow(/port/);
    await expect(runProbe({ engine, host: '127.0.0.1', port: 80, max: 0, connectTimeoutMs: 1 })).rejects.toThrow(/max/);
    await expect(runProbe({ engine, host: '127.0.0.1', port: 80, max: 1, connectTimeoutMs: 0 })).rejects.toThrow(/connectTimeoutMs/);
    await expect(runProbe({ engine, host: '127.0.0.1', port: 80, max: 1, connectTimeoutMs: 1, bind: 'nope' })).rejects.toThrow(/bind/);
    await expect(runProbe({ engine, host: '127.0.0.1', ports: [], max: 1, connectTimeoutMs: 1 })).rejects.toThrow(/port/);
    await expect(runProbe({ engine, host: '127.0.0.1', ports: [80, 80], max: 1, connectTimeoutMs: 1 })).rejects.toThrow(/twice/);
    await expect(runProbe({ engine, host: '127.0.0.1', port: 80, binds: ['127.0.0.1', '127.0.0.1'], max: 1, connectTimeoutMs: 1 })).rejects.toThrow(/twice/);
    await expect(runProbe({ engine, host: '127.0.0.1', port: 80, binds: ['127.0.0.1'], localPorts: { low: 5000, high: 4000 }, max: 1, connectTimeoutMs: 1 })).rejects.toThrow(/range/);
  });

  it('reports running out of file descriptors as local-limit (EMFILE), in a child with ulimit -n 40', async () => {
    server = await startServer({ port: 0, bind: '127.0.0.1' });
    const probeMain = buildProbeMain();
    const child = spawn('bash', ['-c', `ulimit -n 40 && exec "${process.execPath}" "${probeMain}" probe --host 127.0.0.1 --port ${server.ports[0]} --max 1000 --timeout 5000`], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SYNPROBE_PROBE_ENGINE: engine },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const { result } = JSON.parse(out.split('\n')[0]!);
    expect(result.engine).toBe(engine);
    expect(result.stoppedBy).toBe('failure');
    expect(result.failure).toMatchObject({ code: 'EMFILE', kind: 'local-limit' });
    expect(result.established).toBeGreaterThan(10);
    expect(result.established).toBeLessThan(40);
  });
});
