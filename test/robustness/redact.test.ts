/**
 * --redact: for every fixture pair (and each client capture alone) and every format, no IP address
 * and no MAC address found in the input captures may remain in the output. The addresses are taken
 * by decoding the captures here, not from a list, and searched in every written form.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/read/open.js';
import { createDecodedPacket, decodePacket, formatAddress } from '../../src/decode/packet.js';
import { Redactor } from '../../src/report/redact.js';
import { buildPcap } from '../read/build.js';
import { ethernet, ip6, ipv4, ipv6, synWithOptions, tcp } from '../decode/build.js';
import { FIXTURES_DIR, analyzeInProcess, fixture, judge, listCaptures, makeTempDir, type Format } from './helpers.js';

const FORMATS: Format[] = ['json', 'markdown', 'table'];

interface Addresses {
  ips: Set<string>;
  macs: Set<string>;
}

function macAt(buf: Uint8Array, at: number): string {
  return Array.from(buf.subarray(at, at + 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

function ipv4At(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** Every IP address (IPv4/IPv6 headers, ARP) and every MAC (Ethernet, SLL, SLL2 headers) in a capture. */
async function addressesIn(file: string, into: Addresses): Promise<void> {
  const decoded = createDecodedPacket();
  await readCapture(file, (p) => {
    const buf = p.buf.subarray(p.offset, p.offset + p.caplen);
    decodePacket(p.linkType, buf, 0, buf.length, decoded);
    if (decoded.ipVersion !== 0) {
      into.ips.add(formatAddress(decoded, 'src'));
      into.ips.add(formatAddress(decoded, 'dst'));
    }
    let etherType = -1;
    let l3 = -1;
    if (p.linkType === 1 && buf.length >= 14) {
      into.macs.add(macAt(buf, 0));
      into.macs.add(macAt(buf, 6));
      etherType = (buf[12] << 8) | buf[13];
      l3 = 14;
    } else if (p.linkType === 113 && buf.length >= 16 && ((buf[4] << 8) | buf[5]) === 6) {
      into.macs.add(macAt(buf, 6));
      etherType = (buf[14] << 8) | buf[15];
      l3 = 16;
    } else if (p.linkType === 276 && buf.length >= 20 && buf[11] === 6) {
      into.macs.add(macAt(buf, 12));
      etherType = (buf[0] << 8) | buf[1];
      l3 = 20;
    }
    if (etherType === 0x0806 && buf.length >= l3 + 28) {
      into.macs.add(macAt(buf, l3 + 8));
      into.ips.add(ipv4At(buf, l3 + 14));
      into.macs.add(macAt(buf, l3 + 18));
      into.ips.add(ipv4At(buf, l3 + 24));
    }
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every way an address may be written: IPv6 compressed and in full, MACs with ':' '-' or nothing. */
function patternsFor(addresses: Addresses): Array<[string, RegExp]> {
  const patterns: Array<[string, RegExp]> = [];
  for (const ip of addresses.ips) {
    if (ip.includes(':')) {
      const full = expandIPv6(ip);
      for (const form of new Set([ip, full, full.replace(/(^|:)0{1,3}/g, '$1')])) {
        patterns.push([ip, new RegExp(`(?<![0-9a-f:])${escape(form)}(?![0-9a-f])`, 'i')]);
      }
    } else {
      patterns.push([ip, new RegExp(`(?<![\\d.])${escape(ip)}(?!\\d)`)]);
    }
  }
  for (const mac of addresses.macs) {
    if (mac === '00:00:00:00:00:00') continue; // loopback frames: nothing to hide, and "00:00:00" is in every time of day
    const groups = mac.split(':');
    for (const sep of [':', '-', '']) patterns.push([mac, new RegExp(`(?<![0-9a-f])${groups.join(sep)}(?![0-9a-f])`, 'i')]);
  }
  return patterns;
}

function expandIPv6(text: string): string {
  let bytes: number[];
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped) bytes = [...Array(10).fill(0), 0xff, 0xff, ...mapped[1].split('.').map(Number)];
  else bytes = ip6(text);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16).padStart(4, '0'));
  return groups.join(':');
}

function leaks(text: string, addresses: Addresses): string[] {
  return patternsFor(addresses)
    .filter(([, re]) => re.test(text))
    .map(([address, re]) => `${address} (${re.source}) in: …${text.slice(Math.max(0, text.search(re) - 60), text.search(re) + 60)}…`);
}

/** Client/server pairs of the fixtures: X-client + X-server, and the fixtures made from path-cap. */
function fixturePairs(): Array<[string, string]> {
  const files = listCaptures(FIXTURES_DIR).map((f) => f.slice(FIXTURES_DIR.length + 1));
  const pairs: Array<[string, string]> = [];
  for (const client of files.filter((f) => /-client\.pcap(ng)?$/.test(f))) {
    const scenario = client.replace(/-client\.pcap(ng)?$/, '');
    const server = files.find((f) => f.startsWith(`${scenario}-server.`)) ?? 'path-cap-server.pcap';
    pairs.push([client, server]);
  }
  for (const server of files.filter((f) => /^clock-shift.*-server/.test(f))) pairs.push(['path-cap-client.pcap', server]);
  return pairs;
}

const pairs = fixturePairs();

describe('--redact leaves no address of the input captures', () => {
  it('finds the pairs', () => {
    expect(pairs.length).toBeGreaterThanOrEqual(10);
    expect(pairs).toContainEqual(['nat-client.pcap', 'nat-server.pcap']);
    expect(pairs).toContainEqual(['truncated-client.pcap', 'path-cap-server.pcap']);
  });

  it.each(pairs)('%s + %s, every format, both captures and the client alone', async (client, server) => {
    const files = [fixture(client), fixture(server)];
    const addresses: Addresses = { ips: new Set(), macs: new Set() };
    for (const f of files) await addressesIn(f, addresses);
    expect(addresses.ips.size).toBeGreaterThan(1);
    for (const format of FORMATS) {
      for (const inputs of [files, files.slice(0, 1)]) {
        const plain = await analyzeInProcess(inputs, format);
        expect(judge(plain, inputs, format)).toBeNull();
        // Without --redact the addresses are there: the scan below can see them.
        expect(leaks(plain.stdout, addresses).length, `${format} without --redact`).toBeGreaterThan(0);
        const redacted = await analyzeInProcess(inputs, format, true);
        expect(judge(redacted, inputs, format)).toBeNull();
        expect(leaks(redacted.stdout, addresses), `${inputs.join(' ')} --format ${format} --redact`).toEqual([]);
        expect(redacted.stdout).toMatch(/client-1/);
      }
    }
  });
});

describe('--redact on addresses written in unusual forms', () => {
  const temp = makeTempDir();
  afterAll(() => temp.remove());

  /** SYN, SYN-ACK pairs (and one unanswered SYN) between odd addresses, on Ethernet. */
  function oddCapture(): Buffer {
    const records: { tsSec: number; tsFrac: number; data: Uint8Array }[] = [];
    let t = 0;
    const add = (frame: Uint8Array) => records.push({ tsSec: 1_764_457_302 + Math.floor(t / 10), tsFrac: (t++ % 10) * 100_000, data: frame });
    const v4 = (src: string, dst: string, sport: number, seq: number) => {
      add(ethernet(0x0800, ipv4({ src, dst }, synWithOptions({ srcPort: sport, dstPort: 443, seq }))));
      add(ethernet(0x0800, ipv4({ src: dst, dst: src }, tcp({ srcPort: 443, dstPort: sport, seq: 99, ack: seq + 1, flags: 0x12 }))));
    };
    const v6 = (src: string, dst: string, sport: number, seq: number, answered = true) => {
      add(ethernet(0x86dd, ipv6({ src, dst }, synWithOptions({ srcPort: sport, dstPort: 443, seq }))));
      if (answered) add(ethernet(0x86dd, ipv6({ src: dst, dst: src }, tcp({ srcPort: 443, dstPort: sport, seq: 7, ack: seq + 1, flags: 0x12 }))));
    };
    v4('10.1.2.3', '192.0.2.10', 40000, 1000);
    v4('1.2.3.4', '203.0.113.255', 40001, 2000);
    v6('::ffff:a09:807', '2001:db8::a', 40002, 3000, false); // IPv4-mapped: ::ffff:10.9.8.7
    v6('fe80::1', '2001:db8:0:0:1::5', 40003, 4000);
    v6('2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff', '::1', 40004, 5000, false);
    v6('64:ff9b::c000:221', 'ff02::1:ff00:1', 40005, 6000, false); // NAT64 of 192.0.2.33
    return buildPcap({ records });
  }

  it.each(FORMATS)('%s', async (format) => {
    const file = temp.write('odd.pcap', oddCapture());
    const addresses: Addresses = { ips: new Set(), macs: new Set() };
    await addressesIn(file, addresses);
    expect([...addresses.ips]).toEqual(expect.arrayContaining(['::ffff:10.9.8.7', '64:ff9b::c000:221', '2001:db8::1:0:0:5', '203.0.113.255']));
    const plain = await analyzeInProcess([file], format);
    expect(judge(plain, [file], format)).toBeNull();
    expect(plain.stdout).toContain('::ffff:10.9.8.7');
    const redacted = await analyzeInProcess([file], format, true);
    expect(judge(redacted, [file], format)).toBeNull();
    expect(leaks(redacted.stdout, addresses)).toEqual([]);
    // The mapped address is one name, not a name glued to the rest of a dotted quad.
    expect(redacted.stdout).not.toMatch(/host-host|-\d+\.\d+\.\d+/);
  });

  it('the Redactor on text: full stops, file names, embedded IPv4, MACs with dashes, a MAC-like IPv6', () => {
    const r = new Redactor();
    const text = r.text(
      'went to 10.0.0.1. file client-10.0.0.5.pcap; ::ffff:10.1.2.3 and [::ffff:10.1.2.3]:80; aa-bb-cc-dd-ee-ff = AA:BB:CC:DD:EE:FF; aa:bb:cc:dd:ee:ff:11:22; version 1.2.3.4.5',
    );
    expect(text).toBe('went to host-3. file client-host-4.pcap; host-1 and [host-1]:80; mac-1 = mac-1; host-2; version 1.2.3.4.5');
  });
});

