import { StatusError } from '../cli-context.js';

/** `--filter k=v` flags as a map of key -> values. */
export function filterArgs(values: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of values) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new StatusError(`bad format of filter (expected name=value)`, 125);
    const k = f.slice(0, eq).trim().toLowerCase();
    const v = f.slice(eq + 1).trim();
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}
