/**
 * The baselines below the analyzer, one child process per measurement:
 *
 *   node bench/read-loop.js project FILE...          readCapture + decodePacket: the "bare decode loop"
 *   node bench/read-loop.js pcap-parser FILE...      the same with src/read/pcap.ts's pcap-parser path (readPcapWithParser)
 *   node bench/read-loop.js pcap-parser-raw FILE...  pcap-parser alone, records only (stream, 1 MiB chunks)
 *   node bench/read-loop.js own-raw FILE...          a minimal classic-pcap record loop, records only:
 *                                                    1 MiB reads into one buffer, headers read by index
 *
 * Prints one JSON line: packets, TCP packets, SYNs and the time inside the loop (ms).
 * Run after `npm run build` (imports dist/).
 */
import { openSync, readSync, closeSync, createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { readCapture } from '../dist/read/open.js';
import { readPcapWithParser } from '../dist/read/pcap.js';
import { createDecodedPacket, decodePacket } from '../dist/decode/packet.js';

const CHUNK = 1 << 20;
const decoded = createDecodedPacket();
const counts = { packets: 0, tcp: 0, syn: 0 };

function decodeOne(linkType, buf, offset, length) {
  counts.packets++;
  if (decodePacket(linkType, buf, offset, length, decoded) === 'tcp') {
    counts.tcp++;
    if (decoded.flags & 0x02) counts.syn++;
  }
}

async function projectLoop(file, read) {
  await read(file, (p) => decodeOne(p.linkType, p.buf, p.offset, p.caplen));
}

function pcapParserLoop(file) {
  const pcapParser = createRequire(import.meta.url)('pcap-parser');
  return new Promise((resolve, reject) => {
    const parser = pcapParser.parse(createReadStream(file, { highWaterMark: CHUNK }));
    parser.on('packet', () => { counts.packets++; });
    parser.on('error', reject);
    parser.on('end', resolve);
  });
}

/** Classic pcap, microsecond or nanosecond, either byte order; stops at a cut record. */
function ownLoop(file, decode) {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let length = readSync(fd, buf, 0, buf.length, null);
    if (length < 24) throw new Error(`${file}: not a pcap file`);
    const magic = buf.readUInt32LE(0);
    const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
    if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file`);
    const linkType = (le ? buf.readUInt32LE(20) : buf.readUInt32BE(20)) & 0xffff;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 24;
    let tsSum = 0;
    for (;;) {
      if (length - at < 16 || length - at < 16 + view.getUint32(at + 8, le)) {
        // Keep the partial record, read more behind it.
        buf.copyWithin(0, at, length);
        length -= at;
        at = 0;
        const n = readSync(fd, buf, length, buf.length - length, null);
        if (n === 0) break;
        length += n;
        if (length - at >= 16 && 16 + view.getUint32(at + 8, le) > buf.length) throw new Error('record larger than the buffer');
        continue;
      }
      const caplen = view.getUint32(at + 8, le);
      tsSum += view.getUint32(at, le) + view.getUint32(at + 4, le);
      if (decode) decodeOne(linkType, buf, at + 16, caplen);
      else counts.packets++;
      at += 16 + caplen;
    }
    counts.tsSum = tsSum;
  } finally {
    closeSync(fd);
  }
}

async function main() {
  const [mode, ...files] = process.argv.slice(2);
  const started = performance.now();
  for (const file of files) {
    if (mode === 'project') await projectLoop(file, readCapture);
    else if (mode === 'pcap-parser') await projectLoop(file, readPcapWithParser);
    else if (mode === 'pcap-parser-raw') await pcapParserLoop(file);
    else if (mode === 'own-raw') ownLoop(file, false);
    else if (mode === 'own-decode') ownLoop(file, true);
    else throw new Error(`unknown mode '${mode}' (project, pcap-parser, pcap-parser-raw, own-raw, own-decode)`);
  }
  const loopMs = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ mode, ...counts, loopMs: Math.round(loopMs) })}\n`);
}

main().catch((error) => {
  process.stderr.write(`read-loop: ${error.stack ?? error}\n`);
  process.exit(2);
});
