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
