import { existsSync } from 'node:fs';
import { InvalidParameterError } from '../common/errors.js';

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

export const LOG_DRIVERS = ['json-file', 'local', 'none', 'journald', 'syslog'] as const;
export type LogDriverName = (typeof LOG_DRIVERS)[number];

const COMMON = ['tag', 'labels', 'labels-regex', 'env', 'env-regex'];
const CACHE = ['cache-disabled', 'cache-max-size', 'cache-max-file', 'cache-compress', 'mode', 'max-buffer-size'];
const ALLOWED: Record<LogDriverName, string[]> = {
  'json-file': ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'],
  local: ['max-size', 'max-file', 'compress', 'mode', 'max-buffer-size'],
  none: [],
  journald: [...COMMON, ...CACHE],
  syslog: [...COMMON, ...CACHE, 'syslog-address', 'syslog-facility', 'syslog-format', 'syslog-tls-ca-cert', 'syslog-tls-cert', 'syslog-tls-key', 'syslog-tls-skip-verify'],
};

export const SYSLOG_FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** `10m`, `1g`, `512k`, `100` -> bytes (Docker's RAMInBytes: binary multiples). */
export function parseLogSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(v.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** How a driver keeps the captured output on disk: rotation sizes and compression. */
export interface RotationPolicy {
  /** Bytes; 0 = never rotate. */
  maxSize: number;
  maxFile: number;
  compress: boolean;
}

/**
 * Rotation of the local capture: json-file's own options (no limit by default); `local` and the
 * cache of the shipping drivers use Docker's defaults for them (20 MiB, 5 files, compressed).
 */
export function rotationPolicy(cfg: LogConfig): RotationPolicy {
  const c = cfg.Config;
  if (cfg.Type === 'json-file') {
    return { maxSize: c['max-size'] ? parseLogSize(c['max-size']) ?? 0 : 0, maxFile: Number(c['max-file'] ?? '1'), compress: c['compress'] === 'true' };
  }
  if (cfg.Type === 'local') {
    return { maxSize: parseLogSize(c['max-size'] ?? '20m') ?? 0, maxFile: Number(c['max-file'] ?? '5'), compress: (c['compress'] ?? 'true') === 'true' };
  }
  if (cfg.Type === 'none') return { maxSize: 1024 * 1024, maxFile: 1, compress: false };
  return { maxSize: parseLogSize(c['cache-max-size'] ?? '20m') ?? 0, maxFile: Number(c['cache-max-file'] ?? '5'), compress: (c['cache-compress'] ?? 'true') === 'true' };
}

/** Whether `logs` can read this driver's output (the shipping drivers read their local cache). */
export function canReadLogs(cfg: LogConfig): boolean {
  if (cfg.Type === 'none') return false;
  if ((cfg.Type === 'syslog' || cfg.Type === 'journald') && cfg.Config['cache-disabled'] === 'true') return false;
  return true;
}

function isBool(v: string): boolean {
  return ['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'].includes(v);
}

/**
 * The container's effective log configuration: the daemon's driver when it names none, the
 * daemon's options for keys it leaves out when it uses the daemon's driver; then validated with
 * Docker's messages. Throws InvalidParameterError.
 */
export function resolveLogConfig(requested: Partial<LogConfig> | undefined, daemonDefault: LogConfig, opts: { journaldSocket?: string } = {}): LogConfig {
  const type = requested?.Type || daemonDefault.Type;
  const config: Record<string, string> = { ...(requested?.Config ?? {}) };
  if (type === daemonDefault.Type) {
    for (const [k, v] of Object.entries(daemonDefault.Config)) if (!(k in config)) config[k] = v;
  }
  const cfg = { Type: type, Config: config };
  validateLogConfig(cfg, opts);
  return cfg;
}

export function validateLogConfig(cfg: LogConfig, opts: { journaldSocket?: string } = {}): void {
  if (!(LOG_DRIVERS as readonly string[]).includes(cfg.Type)) {
    throw new InvalidParameterError(`logger: no log driver named '${cfg.Type}' is registered`);
  }
  const type = cfg.Type as LogDriverName;
  const c = cfg.Config;
  for (const k of Object.keys(c)) {
    if (!ALLOWED[type].includes(k)) throw new InvalidParameterError(`unknown log opt '${k}' for ${type} log driver`);
  }
  if (type === 'none' && Object.keys(c).length > 0) throw new InvalidParameterError(`unknown log opt '${Object.keys(c)[0]}' for none log driver`);
  if (c['max-size'] !== undefined && parseLogSize(c['max-size']) === undefined) {
    throw new InvalidParameterError(`invalid size: '${c['max-size']}'`);
  }
  if (c['max-file'] !== undefined) {
    const n = Number(c['max-file']);
    if (!/^-?\d+$/.test(c['max-file'])) throw new InvalidParameterError(`strconv.Atoi: parsing "${c['max-file']}": invalid syntax`);
    if (n < 1) throw new InvalidParameterError('max-file cannot be less than 1');
    if (type === 'json-file' && n > 1 && c['max-size'] === undefined) throw new InvalidParameterError("max-file can't be set without max-size");
  }
  if (c['compress'] !== undefined) {
    if (!isBool(c['compress'])) throw new InvalidParameterError(`error reading compress log option: strconv.ParseBool: parsing "${c['compress']}": invalid syntax`);
    if (type === 'json-file' && c['compress'] === 'true' && Number(c['max-file'] ?? '1') < 2) {
      // Docker allows it and compresses nothing (there is no rotated file to compress).
    }
  }
  if (c['mode'] !== undefined && c['mode'] !== 'blocking' && c['mode'] !== 'non-blocking') {
    throw new InvalidParameterError(`logger: logging mode not supported: ${c['mode']}`);
  }
  if (type === 'syslog') {
    if (c['syslog-address'] !== undefined) parseSyslogAddress(c['syslog-address']);
    if (c['syslog-facility'] !== undefined && !(c['syslog-facility'] in SYSLOG_FACILITIES) && !/^\d+$/.test(c['syslog-facility'])) {
      throw new InvalidParameterError('invalid syslog facility');
    }
    if (c['syslog-format'] !== undefined && !['', 'rfc3164', 'rfc5424', 'rfc5424micro'].includes(c['syslog-format'])) {
      throw new InvalidParameterError(`Invalid syslog format: ${c['syslog-format']}`);
    }
  }
  if (type === 'journald' && !existsSync(opts.journaldSocket ?? '/run/systemd/journal/socket')) {
    throw new InvalidParameterError('journald is not enabled on this host');
  }
}

export interface SyslogAddress {
  proto: 'udp' | 'tcp' | 'unix' | 'unixgram' | 'tcp+tls';
  /** host:port for the network ones, a socket path for unix. */
  address: string;
}

/** `udp://host[:514]`, `tcp://host:port`, `unix:///dev/log`, `unixgram:///dev/log`; empty = local. */
export function parseSyslogAddress(v: string): SyslogAddress {
  if (v === '') return { proto: 'unixgram', address: '/dev/log' };
  const m = /^([a-z+]+):\/\/(.*)$/.exec(v);
  if (!m) throw new InvalidParameterError(`unsupported scheme: '${v}'`);
  const proto = m[1]!;
  if (proto === 'unix' || proto === 'unixgram') return { proto, address: m[2]! };
  if (proto !== 'udp' && proto !== 'tcp' && proto !== 'tcp+tls') throw new InvalidParameterError(`unsupported scheme: '${proto}'`);
  let hostPort = m[2]!.replace(/\/$/, '');
  if (!/:\d+$/.test(hostPort)) hostPort += ':514';
  return { proto, address: hostPort };
}

/**
 * The extra attributes a json-file log carries (`logs --details`): the container labels named
 * by `labels`/`labels-regex`, the environment variables named by `env`/`env-regex`, and `tag`.
 */
export function logAttributes(cfg: LogConfig, labels: Record<string, string>, env: string[], tag: () => string): Record<string, string> {
  const c = cfg.Config;
  const out: Record<string, string> = {};
  const names = (v: string | undefined): string[] => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  for (const k of names(c['labels'])) if (k in labels) out[k] = labels[k]!;
  if (c['labels-regex']) {
    const re = new RegExp(c['labels-regex']);
    for (const [k, v] of Object.entries(labels)) if (re.test(k)) out[k] = v;
  }
  const envMap = new Map(env.map((e) => { const i = e.indexOf('='); return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)]; }));
  for (const k of names(c['env'])) if (envMap.has(k)) out[k] = envMap.get(k)!;
  if (c['env-regex']) {
    const re = new RegExp(c['env-regex']);
    for (const [k, v] of envMap) if (re.test(k)) out[k] = v;
  }
  if (c['tag']) out['tag'] = tag();
  return out;
}

/** `logs --details` prefix: `k=v,k2=v2 ` with keys sorted and both sides query-escaped. */
export function detailsPrefix(attrs: Record<string, string>): string {
  const esc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');
  return Object.keys(attrs).sort().map((k) => `${esc(k)}=${esc(attrs[k]!)}`).join(',') + ' ';
}
