/** readCapture: what is not a readable capture file, format detection by magic, link-type names. */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeLinkType, detectFormat, readCapture } from '../../src/read/open.js';
import { CaptureFileError } from '../../src/read/types.js';
import { buildPcap, buildPcapng, epb, idb, makeTempDir, payload } from './build.js';

const temp = makeTempDir();
afterAll(() => temp.remove());

async function readError(file: string): Promise<CaptureFileError> {
  const error = await readCapture(file, () => {}).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CaptureFileError);
  return error as CaptureFileError;
}

describe('readCapture refuses what is not a capture file', () => {
  it('a missing file: EIO with the OS message', async () => {
    const file = path.join(temp.dir, 'missing.pcap');
    const error = await readError(file);
    expect(error.code).toBe('EIO');
    expect(error.message).toBe(`${file}: ENOENT: no such file or directory`);
    expect(error.file).toBe(file);
  });

  it('a directory: ENOTFILE', async () => {
    const dir = path.join(temp.dir, 'a-dir.pcap');
    mkdirSync(dir);
    expect(await readError(dir)).toMatchObject({ code: 'ENOTFILE', message: `${dir}: not a regular file: a directory` });
  });

  it('a FIFO: ENOTFILE, without opening it (which would hang)', async () => {
    const fifo = path.join(temp.dir, 'fifo.pcap');
    execFileSync('mkfifo', [fifo]);
    expect(await readError(fifo)).toMatchObject({ code: 'ENOTFILE', message: `${fifo}: not a regular file: a FIFO (named pipe)` });
  });

  it('a socket: ENOTFILE', async () => {
    const socket = path.join(temp.dir, 'sock.pcap');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      expect((await readError(socket)).code).toBe('ENOTFILE');
    } finally {
      server.close();
    }
  });

  it('a device: ENOTFILE', async () => {
    expect(await readError('/dev/null')).toMatchObject({ code: 'ENOTFILE', message: '/dev/null: not a regular file: a character device' });
  });

  it('an empty file: EEMPTY', async () => {
    expect((await readError(temp.write('empty.pcap', new Uint8Array(0)))).code).toBe('EEMPTY');
  });

  const found = 'not a capture file: starts with';
  it.each([
    ['an HTML page', '<!DOCTYPE html><html>', "not a capture file: starts with 3c 21 44 4f ('<!DO'), an HTML page (a saved error page?)"],
    ['tcpdump text', '12:00:01.000 IP 10.0.0.1', `${found} 31 32 3a 30 ('12:0'), text (tcpdump or tshark text output?)`],
    ['gzip', Buffer.from('1f8b0800000000000003', 'hex'), `${found} 1f 8b 08 00 ('....'), gzip data: a gzipped capture? decompress it first`],
    ['zstd', Buffer.from('28b52ffd0000', 'hex'), `${found} 28 b5 2f fd ('(./.'), zstd data: a compressed capture? decompress it first`],
    ['binary junk', Buffer.from('00010203040506', 'hex'), "not a capture file: starts with 00 01 02 03 ('....')"],
    ['two bytes', Buffer.from('d4c3', 'hex'), "not a capture file: starts with d4 c3 ('..') (only 2 bytes)"],
  ])('%s: ENOTCAPTURE naming what was found', async (_label, content, message) => {
    const file = temp.write('not-capture.pcap', typeof content === 'string' ? Buffer.from(content) : content);
    expect(await readError(file)).toMatchObject({ code: 'ENOTCAPTURE', message: `${file}: ${message}`, offset: null });
  });

  it('a modified (Kuznetzov) pcap: EUNSUPPORTED', async () => {
    const file = temp.write('kuznetzov.pcap', Buffer.from('34cdb2a102000400', 'hex'));
    expect((await readError(file)).code).toBe('EUNSUPPORTED');
  });

  it('a pcap header cut short: ENOTCAPTURE', async () => {
    const file = temp.write('short.pcap', buildPcap({ records: [] }).subarray(0, 10));
    expect(await readError(file)).toMatchObject({ code: 'ENOTCAPTURE', message: `${file}: pcap file header cut short: 10 of 24 bytes` });
  });
});

describe('format detection', () => {
  it('goes by the magic number, not the file name', async () => {
    const pcapng = buildPcapng([{ littleEndian: true, blocks: [idb(), epb({ ts: 1n, data: payload(4) })] }]);
    const pcap = buildPcap({ records: [{ tsSec: 1, tsFrac: 0, data: payload(4) }] });
    const asPcap = await readCapture(temp.write('really-pcapng.pcap', pcapng), () => {});
    const asPcapng = await readCapture(temp.write('really-pcap.pcapng', pcap), () => {});
    expect([asPcap.format, asPcap.packets, asPcapng.format, asPcapng.packets]).toEqual(['pcapng', 1, 'pcap', 1]);
  });

  it.each([
    ['d4c3b2a1', 'pcap'],
    ['a1b2c3d4', 'pcap'],
    ['4d3cb2a1', 'pcap'],
    ['a1b23c4d', 'pcap'],
    ['0a0d0d0a', 'pcapng'],
  ])('%s is %s', (magic, format) => {
    expect(detectFormat('x', Buffer.from(magic, 'hex'))).toBe(format);
  });
});

describe('describeLinkType', () => {
  it.each([
    [0, 'NULL'],
    [1, 'EN10MB'],
    [9, 'PPP'],
    [10, 'FDDI'],
    [12, 'RAW'],
    [14, 'RAW'],
    [101, 'RAW'],
    [104, 'C_HDLC'],
    [108, 'LOOP'],
    [113, 'LINUX_SLL'],
    [129, 'ARCNET_LINUX'],
    [192, 'PPI'],
    [228, 'IPV4'],
    [229, 'IPV6'],
    [239, 'NFLOG'],
    [242, 'IPOIB'],
    [274, 'ETHERNET_MPACKET'],
    [276, 'LINUX_SLL2'],
    [4242, 'LINKTYPE_4242'],
  ])('%d is %s', (n, name) => {
    expect(describeLinkType(n)).toBe(name);
  });
});
