import { constants } from 'node:os';
import { InvalidParameterError } from '../common/errors.js';

const BY_NAME = constants.signals as Record<string, number>;

/** `TERM`, `SIGTERM`, `15`, `sigterm` -> 15. Throws Docker's error for anything else. */
export function parseSignal(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isInteger(input) && input > 0 && input <= 64) return input;
    throw new InvalidParameterError(`Invalid signal: ${input}`);
  }
  const s = input.trim();
  if (/^\d+$/.test(s)) return parseSignal(Number(s));
  const up = s.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) return 34 + Number(rt[1] ?? 0);
  const n = BY_NAME[name];
  if (n === undefined) throw new InvalidParameterError(`Invalid signal: ${input}`);
  return n;
}
