/** Parsers for option values shared by the commands; each throws UsageError with the fix. */
import { isIP } from 'node:net';
import { UsageError } from './io.js';
import { FORMATS, type Format } from '../report/index.js';

export function parsePort(value: string, what = 'port'): number {
  if (!/^\d{1,5}$/.test(value)) throw new UsageError(`${what} must be a number from 1 to 65535, not '${value}'`);
  const n = Number(value);
  if (n < 1 || n > 65535) throw new UsageError(`${what} must be from 1 to 65535, not ${n}`);
  return n;
}

/** At most this many ports in one --port list (each is a listener, a filter term, a pair). */
export const MAX_PORTS = 1024;

/** "8000", "8000-8003", "8000,8010-8011" → the ports, in order, without repeats. */
export function parsePortList(value: string, what = '--port'): number[] {
  const ports: number[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    const range = /^(\d+)-(\d+)$/.exec(item);
    if (range) {
      const from = parsePort(range[1]!, what);
      const to = parsePort(range[2]!, what);
      if (to < from) throw new UsageError(`${what} range ${item} runs backwards (write ${to}-${from})`);
      if (to - from + 1 > MAX_PORTS) throw new UsageError(`${what} range ${item} has ${to - from + 1} ports; at most ${MAX_PORTS}`);
      for (let p = from; p <= to; p++) ports.push(p);
    } else {
      ports.push(parsePort(item, what));
    }
  }
  const unique = [...new Set(ports)];
  if (unique.length > MAX_PORTS) throw new UsageError(`${what} names ${unique.length} ports; at most ${MAX_PORTS}`);
  return unique;
}

export function parseFormat(value: string): Format {
  if (!(FORMATS as readonly string[]).includes(value)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not '${value}'`);
  return value as Format;
}

/** The default format: a table on a terminal, markdown (ready to paste) when piped. */
export function defaultFormat(isTTY: boolean): Format {
  return isTTY ? 'table' : 'markdown';
}

export function parseAddress(value: string, what: string): string {
  if (isIP(value) === 0) throw new UsageError(`${what} must be an IPv4 or IPv6 address, not '${value}'`);
  return value;
}

export function parseCount(value: string, what: string): number {
  if (!/^\d{1,12}$/.test(value)) throw new UsageError(`${what} must be a whole number, not '${value}'`);
  return Number(value);
}

export function parseMilliseconds(value: string, what: string): number {
  if (!/^[+-]?\d+(\.\d+)?$/.test(value)) throw new UsageError(`${what} must be a number of milliseconds, e.g. -7250 or 12.5, not '${value}'`);
  return Number(value);
}
