/**
 * The public corpus against the tshark oracle: for every capture whose link types we decode, the
 * frames whose (first) IP header carries a TCP header with SYN set must be exactly the oracle's
 * frames (frame numbers, not just counts).
 *
 * Reading the oracle: `<file>.nodefrag.tsv` is used when it exists (we do not reassemble IP
 * fragments), and lines whose ip.src/ipv6.src column holds a comma are dropped: there the SYN is in
 * a second IP header (a tunnel, or a quote inside an ICMP error), which an outer-header decode does
 * not see. The files where this makes our count differ from the oracle's line count are listed in
 * DIFFERENT_FROM_ORACLE_LINES with the reason; the test checks that list is exactly right.
 *
 * The capture files are read with src/read/open.ts; a file it cannot open at all (bad version,
 * damaged first block) counts as one without packets, as in tshark's oracle.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDecodedPacket, decodePacket } from '../../src/decode/packet.js';
import type { DecodeStatus } from '../../src/decode/types.js';
import { TCP_SYN } from '../../src/decode/types.js';
import { readCapture } from '../../src/read/open.js';
import { CaptureFileError } from '../../src/read/types.js';

const CORPUS = '/work/shared/corpus';
const haveCorpus = existsSync(`${CORPUS}/files/MANIFEST.tsv`);

/** Files whose SYN frames are all on link types synprobe does not decode. */
const NOT_DECODED: Record<string, string> = {
  'libpcap__http_PPI.pcap': 'PPI (192) wrapping 802.11 (105): no 802.11 decoder',
  'tcpdump__arcnet-rfc1201-arp-icmp-http.pcap': 'ARCNET_LINUX (129): not decoded',
};

/**
 * Files where our SYN count is right but differs from the number of lines in `<file>.tsv`.
 * [our count, oracle lines, reason]
 */
const DIFFERENT_FROM_ORACLE_LINES: Record<string, [number, number, string]> = {
  'suricata-verify__bug-5437-02__input.pcap': [0, 22, 'every SYN is inside GRE+ERSPAN (second IP header); the outer packets are GRE'],
  'zeek__tunnels__vxlan-encapsulated-http.pcap': [0, 2, 'both SYNs are inside VXLAN (UDP); the outer packets are UDP'],
  'suricata-verify__ipv6-evasion__ipv6-kill-router-gateway__kill_router6.pcap': [5, 10, '5 of the lines are SYNs quoted inside ICMPv6 errors'],
  'zeek__ipv4__fragmented-syn.pcap': [1, 1, 'same count, other frame: without reassembly the SYN is the first fragment (frame 1, .nodefrag.tsv), not frame 2'],
  'suricata-verify__defrag__bug-6887-defrag-eth-vlan-ipv4-tcp-syn__frag-eth-vlan-ip-tcp-syn.pcap': [0, 1, 'the first fragment holds only the ports; the SYN flag is in fragment 2 (non-first: never TCP)'],
  'suricata-verify__defrag__bug-6887-defrag-ipv4-tcp-syn__frag-ip-tcp-syn.pcap': [0, 1, 'as above (LINKTYPE_IPV4)'],
  'suricata-verify__defrag__bug-6887-defrag-ppp-ipv4-tcp-syn__frag-ppp-ip-tcp-syn.pcap': [0, 1, 'as above (PPP)'],
  'nDPI__ip_fragmented_garbage.pcap': [1, 1, 'same count, other frame: frame 627 is a first fragment holding 16 TCP bytes (flags included) of a SYN-ACK; reassembly puts it elsewhere'],
};

interface FileResult {
  synFrames: number[];
  statuses: Map<number, DecodeStatus>;
  problemFields: Map<number, string>;
}

async function decodeFile(file: string): Promise<FileResult> {
  const out = createDecodedPacket();
  const result: FileResult = { synFrames: [], statuses: new Map(), problemFields: new Map() };
  try {
    await readCapture(`${CORPUS}/files/${file}`, (packet) => {
      const status = decodePacket(packet.linkType, packet.buf, packet.offset, packet.caplen, out);
      result.statuses.set(packet.index, status);
      if (out.problem !== null) result.problemFields.set(packet.index, `${out.problem.layer}:${out.problem.field}`);
      if (status === 'tcp' && (out.flags & TCP_SYN) !== 0) result.synFrames.push(packet.index);
    });
  } catch (error) {
    if (!(error instanceof CaptureFileError)) throw error;
  }
  return result;
}

function oracleLines(file: string, name: 'tsv' | 'nodefrag.tsv'): string[][] {
  return readFileSync(`${CORPUS}/oracle/${file}.${name}`, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

function expectedSynFrames(file: string): number[] {
  const nodefrag = existsSync(`${CORPUS}/oracle/${file}.nodefrag.tsv`);
  return oracleLines(file, nodefrag ? 'nodefrag.tsv' : 'tsv')
    .filter((columns) => !columns[2].includes(',') && !columns[3].includes(','))
    .map((columns) => Number(columns[0]));
}

const files = haveCorpus
  ? readdirSync(`${CORPUS}/files`)
      .filter((name) => name !== 'MANIFEST.tsv')
      .sort()
  : [];

describe.skipIf(!haveCorpus)('public corpus vs the tshark oracle', () => {
  const results = new Map<string, FileResult>();
  const resultFor = (file: string): FileResult => {
    const result = results.get(file);
    if (result === undefined) throw new Error(`${file} was not decoded`);
    return result;
  };

  beforeAll(async () => {
    for (const file of files) results.set(file, await decodeFile(file));
  });

  it.each(files.filter((file) => !(file in NOT_DECODED)))('%s: SYN frames match', (file) => {
    expect(resultFor(file).synFrames).toEqual(expectedSynFrames(file));
  });

  it('the files listed as differing from the oracle line count are exactly those that do', () => {
    const differing: Record<string, [number, number]> = {};
    for (const file of files) {
      if (file in NOT_DECODED) continue;
      const ours = resultFor(file).synFrames;
      const lines = oracleLines(file, 'tsv').map((columns) => Number(columns[0]));
      if (ours.length !== lines.length || ours.some((frame, i) => frame !== lines[i])) differing[file] = [ours.length, lines.length];
    }
    const listed = Object.fromEntries(Object.entries(DIFFERENT_FROM_ORACLE_LINES).map(([file, [ours, lines]]) => [file, [ours, lines]]));
    expect(differing).toEqual(listed);
  });

  it('files on link types we do not decode report unsupported-link', () => {
    for (const file of Object.keys(NOT_DECODED)) {
      const statuses = new Set(resultFor(file).statuses.values());
      expect([...statuses]).toEqual(['unsupported-link']);
    }
  });

  it('the 2006 fuzz file: frames 45 and 55 have SYN bits behind a bogus IP version and are malformed, as tshark says', () => {
    const result = resultFor('nDPI__fuzz-2006-06-26-2594.pcap');
    for (const frame of [45, 55]) {
      expect(result.statuses.get(frame)).toBe('malformed');
      expect(result.problemFields.get(frame)).toBe('ipv4:version');
    }
  });

  it('URGENT/11: the SYN whose only option is kind 29 with length 3 (tshark: "should be >= 4") is a SYN without MSS', () => {
    const result = resultFor('suricata-verify__issue-3341-tcphdr-01__urgent11_cve_2019_12260.pcap');
    expect(result.synFrames).toContain(3);
    expect(result.problemFields.get(3)).toBeUndefined(); // an unknown kind is skipped by its length
  });

  it('snap-length-truncated frames: a SYN cut inside its options is a SYN with the truncation recorded; a cut payload is no problem', () => {
    const zeek = resultFor('zeek__tcp__truncated-header.pcap'); // snaplen 68: 34 of 40 TCP header bytes
    expect(zeek.synFrames).toEqual([1, 2]);
    expect(zeek.problemFields.get(1)).toBe('tcp:data offset');
    expect(zeek.problemFields.get(2)).toBeUndefined();
    const babel = resultFor('tcpdump__babel_update_oobr.pcap'); // snaplen 69: SYN-ACK payloads cut
    expect(babel.synFrames).toEqual([5, 6]);
    expect(babel.problemFields.get(5)).toBeUndefined();
  });
});
