import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '../common/errors.js';

/** One resource limit as the Engine API spells it (`HostConfig.Ulimits[]`, daemon.json `default-ulimits`). */
export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** The limit names Docker accepts, with their line in /proc/<pid>/limits. */
const LIMIT_LABELS: Record<string, string> = {
  core: 'Max core file size',
  cpu: 'Max cpu time',
  data: 'Max data size',
  fsize: 'Max file size',
  locks: 'Max file locks',
  memlock: 'Max locked memory',
  msgqueue: 'Max msgqueue size',
  nice: 'Max nice priority',
  nofile: 'Max open files',
  nproc: 'Max processes',
  rss: 'Max resident set',
  rtprio: 'Max realtime priority',
  rttime: 'Max realtime timeout',
  sigpending: 'Max pending signals',
  stack: 'Max stack size',
};

function parseLimitNumber(v: string): number {
  if (!/^[+-]?\d+$/.test(v)) throw new InvalidParameterError(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

/** `--default-ulimit nofile=1024:2048` (one value sets both), checked as Docker checks it. */
export function parseUlimitFlag(v: string): Ulimit {
  const eq = v.indexOf('=');
  if (eq < 0) throw new InvalidParameterError(`invalid ulimit argument: ${v}`);
  const name = v.slice(0, eq);
  if (!(name in LIMIT_LABELS)) throw new InvalidParameterError(`invalid ulimit type: ${name}`);
  const values = v.slice(eq + 1).split(':');
  if (values.length > 2) {
    throw new InvalidParameterError(`too many limit value arguments - ${v.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  }
  const soft = parseLimitNumber(values[0]!);
  const hard = values.length === 2 ? parseLimitNumber(values[1]!) : soft;
  if (hard !== -1 && soft > hard) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}

/** daemon.json `default-ulimits` (`{"nofile":{"Name":"nofile","Hard":64000,"Soft":64000}}`) as flag values. */
export function defaultUlimitsAsFlags(v: unknown): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>).map(([key, u]) => {
    const o = (typeof u === 'object' && u !== null ? u : {}) as { Name?: unknown; Soft?: unknown; Hard?: unknown };
    const name = typeof o.Name === 'string' && o.Name !== '' ? o.Name : key;
    return `${name}=${String(o.Soft ?? 0)}:${String(o.Hard ?? 0)}`;
  });
}

/** The hard limits of this process (berthd), by Docker's limit name; absent: unlimited. */
export function readHostHardLimits(limitsText?: string): Map<string, number> {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return new Map();
    }
  }
  const out = new Map<string, number>();
  for (const [name, label] of Object.entries(LIMIT_LABELS)) {
    const line = text.split('\n').find((l) => l.startsWith(label));
    if (!line) continue;
    const hard = line.slice(label.length).trim().split(/\s+/)[1];
    if (hard !== undefined && hard !== 'unlimited' && /^\d+$/.test(hard)) out.set(name, Number(hard));
  }
  return out;
}

/**
 * The daemon's default ulimits, the last one of each name winning, clamped to what this host
 * lets berthd grant: a limit above the host's hard limit would make every container start fail.
 * `clamped` lists the limits that were lowered.
 */
export function resolveDefaultUlimits(flags: string[], hostHard: Map<string, number>): { ulimits: Ulimit[]; clamped: string[] } {
  const byName = new Map<string, Ulimit>();
  for (const f of flags) {
    const u = parseUlimitFlag(f);
    byName.set(u.Name, u);
  }
  const clamped: string[] = [];
  const ulimits = [...byName.values()].flatMap((u) => {
    const max = hostHard.get(u.Name);
    // Unlimited (-1) under an unlimited host: the runtime cannot be given infinity in its JSON,
    // and leaving the limit out lets containers inherit berthd's own (unlimited) limit.
    if (max === undefined && (u.Hard < 0 || u.Soft < 0)) {
      clamped.push(`${u.Name}=${u.Soft}:${u.Hard} -> inherited from berthd`);
      return [];
    }
    if (max === undefined) return [u];
    const hard = u.Hard < 0 || u.Hard > max ? max : u.Hard;
    const soft = u.Soft < 0 || u.Soft > hard ? hard : u.Soft;
    if (hard !== u.Hard || soft !== u.Soft) clamped.push(`${u.Name}=${u.Soft}:${u.Hard} -> ${soft}:${hard}`);
    return [{ Name: u.Name, Soft: soft, Hard: hard }];
  });
  return { ulimits, clamped };
}
