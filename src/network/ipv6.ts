import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { InvalidParameterError } from '../common/errors.js';

/** An IPv6 subnet: network address as a 128-bit number and its prefix length. */
export interface Ipv6Subnet {
  base: bigint;
  prefix: number;
}

const ALL = (1n << 128n) - 1n;

/** `fd00::1` -> 128-bit number; undefined when not an IPv6 address (zones and v4 tails refused). */
export function parseIpv6(s: string): bigint | undefined {
  const t = s.trim();
  if (!isIPv6(t) || t.includes('%') || t.includes('.')) return undefined;
  const [head, tail] = t.includes('::') ? t.split('::') as [string, string] : [t, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  if (groups.length !== 8) return undefined;
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/** The canonical text form (RFC 5952: lower case, the longest run of zero groups as `::`). */
export function formatIpv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt((7 - i) * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function maskOf6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/** `fd00::/64`; with `strict` the host bits must be zero (Docker's --subnet rule). */
export function parseCidr6(s: string, opts: { strict?: boolean } = {}): Ipv6Subnet & { addr: bigint } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  const addr = m ? parseIpv6(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 128)) throw new InvalidParameterError(`invalid CIDR address: ${s}`);
  const base = addr & maskOf6(prefix);
  if (opts.strict && base !== addr) throw new InvalidParameterError(`invalid subnet ${s}: it should be ${formatIpv6(base)}/${prefix}`);
  return { base, prefix, addr };
}

export function formatCidr6(s: Ipv6Subnet): string {
  return `${formatIpv6(s.base)}/${s.prefix}`;
}

export function contains6(s: Ipv6Subnet, ip: bigint): boolean {
  return (ip & maskOf6(s.prefix)) === s.base;
}

export function overlaps6(a: Ipv6Subnet, b: Ipv6Subnet): boolean {
  const m = maskOf6(Math.min(a.prefix, b.prefix));
  return (a.base & m) === (b.base & m);
}

export function lastOf6(s: Ipv6Subnet): bigint {
  return s.base | (~maskOf6(s.prefix) & ALL);
}

/** A random unique local /64 (fd00::/8, a random 40-bit global ID and subnet 0), as Docker picks one. */
export function randomUla64(): Ipv6Subnet {
  const b = randomBytes(5);
  let base = 0xfdn;
  for (const x of b) base = (base << 8n) + BigInt(x);
  return { base: base << 80n, prefix: 64 };
}
