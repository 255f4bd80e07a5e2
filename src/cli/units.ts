/** docker/go-units formatting: sizes and durations as docker prints them. */
import { humanDuration } from '../common/human-duration.js';

export { humanDuration };

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `%.<prec>g`: shortest of %e/%f with `prec` significant digits, trailing zeros removed. */
export function formatGoG(value: number, precision: number): string {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
  const p = precision === 0 ? 1 : precision;
  const exp = Number(value.toExponential(p - 1).split('e')[1]);
  if (exp < -4 || exp >= p) {
    const [mant = '', e = '0'] = value.toExponential(p - 1).split('e');
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  const fixed = value.toFixed(Math.max(0, p - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

function customSize(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${formatGoG(size, precision)}${units[i]}`;
}

/** units.HumanSizeWithPrecision: decimal (1000) units. */
export function humanSizeWithPrecision(size: number, precision: number): string {
  return customSize(size, 1000, DECIMAL, precision);
}

/** units.HumanSize: `1.235MB` (4 significant digits). */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** units.BytesSize: binary (1024) units, `23.54GiB`. */
export function bytesSize(size: number): string {
  return customSize(size, 1024, BINARY, 4);
}

/** `2 minutes ago` for a unix time in seconds (now injectable for tests). */
export function timeAgo(unixSeconds: number, now: number = Date.now()): string {
  return `${humanDuration(now - unixSeconds * 1000)} ago`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Go's time.Time.String() without fractional seconds, in local time: `2006-01-02 15:04:05 +0000 UTC`. */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const offMin = -d.getTimezoneOffset();
  const sign = offMin >= 0 ? '+' : '-';
  const abs = Math.abs(offMin);
  const off = `${sign}${pad2(Math.trunc(abs / 60))}${pad2(abs % 60)}`;
  let zone = 'UTC';
  if (offMin !== 0) {
    const name = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value;
    zone = name && /^[A-Z]{2,5}$/.test(name) ? name : off;
  }
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${off} ${zone}`;
}

/** RFC3339 in local time (Go's time.RFC3339), `2006-01-02T15:04:05Z` for UTC. */
export function goRfc3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const offMin = -d.getTimezoneOffset();
  const base = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  if (offMin === 0) return `${base}Z`;
  const abs = Math.abs(offMin);
  return `${base}${offMin >= 0 ? '+' : '-'}${pad2(Math.trunc(abs / 60))}:${pad2(abs % 60)}`;
}
