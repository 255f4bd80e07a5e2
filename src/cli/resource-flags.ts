import { StatusError } from './cli-context.js';

const RAM_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's RAMInBytes: `512m`, `1g`, `100000` (1024-based units, optional trailing b). */
export function parseRamBytes(value: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)b?\s*$/i.exec(value);
  if (!m) throw new StatusError(`invalid argument "${value}" for "${flag}" flag: invalid size: '${value}'`, 125);
  return Math.round(Number(m[1]) * RAM_UNITS[m[2]!.toLowerCase()]!);
}

/** `--memory-swap`: -1 means unlimited. */
export function parseSwapBytes(value: string, flag: string): number {
  return value.trim() === '-1' ? -1 : parseRamBytes(value, flag);
}

/** `--cpus 1.5` as NanoCpus. */
export function parseNanoCpus(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new StatusError(`invalid argument "${value}" for "--cpus" flag: failed to parse ${value} as a rational number`, 125);
  return Math.round(n * 1e9);
}
