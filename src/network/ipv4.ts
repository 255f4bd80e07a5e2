import { InvalidParameterError } from '../common/errors.js';

/** An IPv4 subnet: network address as a 32-bit number and its prefix length. */
export interface Ipv4Subnet {
  base: number;
  prefix: number;
}

export function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `a.b.c.d/n`; with `strict` the host bits must be zero (Docker's --subnet rule). */
export function parseCidr(s: string, opts: { strict?: boolean } = {}): Ipv4Subnet & { addr: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  const addr = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 32)) throw new InvalidParameterError(`invalid CIDR address: ${s}`);
  const base = (addr & maskOf(prefix)) >>> 0;
  if (opts.strict && base !== addr) throw new InvalidParameterError(`invalid subnet ${s}: it should be ${formatIpv4(base)}/${prefix}`);
  return { base, prefix, addr };
}

export function formatCidr(s: Ipv4Subnet): string {
  return `${formatIpv4(s.base)}/${s.prefix}`;
}

export function contains(s: Ipv4Subnet, ip: number): boolean {
  return ((ip & maskOf(s.prefix)) >>> 0) === s.base;
}

export function overlaps(a: Ipv4Subnet, b: Ipv4Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & maskOf(p)) >>> 0) === ((b.base & maskOf(p)) >>> 0);
}

export function sizeOf(s: Ipv4Subnet): number {
  return 2 ** (32 - s.prefix);
}

/** Docker's MAC for an address: 02:42 followed by the four address bytes. */
export function macForIpv4(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
