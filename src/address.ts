/** IP addresses as synprobe compares and shows them. */
import { isIP } from 'node:net';

/** The canonical text of an address (IPv6 compressed and lower case, as the decoder writes it); others as given. */
export function canonicalAddress(addr: string): string {
  return isIP(addr) === 6 ? new URL(`http://[${addr}]/`).hostname.slice(1, -1) : addr;
}

/** addr:port, with IPv6 in brackets: [2001:db8::1]:8000. */
export function endpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}
