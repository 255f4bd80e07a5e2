import { InvalidParameterError } from '../common/errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** `ctrl-p,ctrl-q` -> [16, 17]: `ctrl-<a-z @ [ \ ] ^ _>` or a single character, comma-separated. */
export function parseDetachKeys(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const p = part.trim();
    if (p.length === 1) {
      out.push(p.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(p);
    if (!m) throw new InvalidParameterError(`Invalid detach keys (${spec}) provided`);
    const c = m[1]!.toLowerCase();
    if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c === '@') out.push(0);
    else if ('[\\]^_'.includes(c)) out.push(c.charCodeAt(0) - 64);
    else throw new InvalidParameterError(`Invalid detach keys (${spec}) provided`);
  }
  if (!out.length) throw new InvalidParameterError(`Invalid detach keys (${spec}) provided`);
  return out;
}

/**
 * Watches an input stream for the detach sequence. Bytes that might start the sequence are held
 * back until it is clear they do not; `push` returns what may be forwarded and whether the
 * sequence was seen (nothing after it is forwarded).
 */
export class DetachKeyScanner {
  private held: number[] = [];

  constructor(private readonly keys: number[]) {}

  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.held.length]) {
        this.held.push(byte);
        if (this.held.length === this.keys.length) return { forward: Buffer.from(out), detached: true };
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (byte === this.keys[0]) this.held.push(byte);
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}
