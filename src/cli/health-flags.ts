import type { FlagSpec, FlagValues } from './flag-parser.js';
import { StatusError } from './cli-context.js';

export const HEALTH_FLAGS: FlagSpec[] = [
  { name: 'health-cmd', type: 'string', description: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', description: 'Time between running the check (ms|s|m|h) (default 0s)' },
  { name: 'health-retries', type: 'int', description: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-period', type: 'string', description: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)' },
  { name: 'health-timeout', type: 'string', description: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)' },
  { name: 'no-healthcheck', type: 'bool', description: 'Disable any container-specified HEALTHCHECK' },
];

const UNIT_NS: Record<string, number> = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, us: 1e3, 'µs': 1e3, ns: 1 };

/** A Go duration (`1m30s`, `500ms`) in nanoseconds. */
export function parseGoDuration(v: string, flag: string): number {
  if (v === '0') return 0;
  if (!/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(v)) throw new StatusError(`invalid argument "${v}" for "--${flag}" flag: time: invalid duration "${v}"`, 125);
  let ns = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) ns += Number(m[1]) * UNIT_NS[m[2]!]!;
  return Math.round(ns);
}

/** Config.Healthcheck from the health flags, or undefined when none was given. */
export function healthcheckFromFlags(flags: FlagValues): Record<string, unknown> | undefined {
  const given = HEALTH_FLAGS.some((f) => f.name !== 'no-healthcheck' && flags.changed(f.name));
  if (flags.bool('no-healthcheck')) {
    if (given) throw new StatusError('--no-healthcheck conflicts with --health-* options', 125);
    return { Test: ['NONE'] };
  }
  if (!given) return undefined;
  const hc: Record<string, unknown> = {};
  const cmd = flags.string('health-cmd');
  if (cmd) hc['Test'] = ['CMD-SHELL', cmd];
  for (const [flag, key] of [['health-interval', 'Interval'], ['health-timeout', 'Timeout'], ['health-start-period', 'StartPeriod']] as const) {
    if (!flags.changed(flag)) continue;
    const ns = parseGoDuration(flags.string(flag), flag);
    if (ns < 0) throw new StatusError(`--${flag} cannot be negative`, 125);
    hc[key] = ns;
  }
  if (flags.changed('health-retries')) {
    const r = flags.number('health-retries');
    if (r < 0) throw new StatusError('--health-retries cannot be negative', 125);
    hc['Retries'] = r;
  }
  return hc;
}
