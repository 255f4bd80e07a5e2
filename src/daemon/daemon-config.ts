import { readFileSync } from 'node:fs';
import { errorMessage, InvalidParameterError } from '../common/errors.js';
import { parseDaemonArgs, type DaemonOptions } from './daemon-options.js';
import { defaultUlimitsAsFlags } from './default-ulimits.js';

/** The JSON shape a daemon.json directive must have. */
export type ConfigKind = 'string' | 'bool' | 'int' | 'list' | 'map' | 'object';

/**
 * One daemon.json directive and how it reaches berthd's options.
 *
 * A directive with `flags` is turned into those command-line flags and parsed by
 * parseDaemonArgs, so the file and the command line share one validation. A directive without
 * flags is accepted and kept in `DaemonOptions.config` only (its consumer reads it from there).
 * `option` names the DaemonOptions field the flags set; `reload` marks what SIGHUP re-applies.
 */
export interface ConfigDirective {
  key: string;
  kind: ConfigKind;
  flags?: string[];
  option?: string;
  reload?: boolean;
  /** For `map`/`object` directives with a flag: how the value becomes flag values. */
  toFlagValues?: (value: unknown) => string[];
}

const mapPairs = (v: unknown): string[] => Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${String(x)}`);

/** Docker's daemon.json directives that berthd knows. Adding an option = one line here. */
export const CONFIG_DIRECTIVES: ConfigDirective[] = [
  { key: 'data-root', kind: 'string', flags: ['--data-root'], option: 'dataRoot' },
  { key: 'graph', kind: 'string', flags: ['-g', '--graph'], option: 'dataRoot' },
  { key: 'exec-root', kind: 'string', flags: ['--exec-root'], option: 'execRoot' },
  { key: 'pidfile', kind: 'string', flags: ['-p', '--pidfile'], option: 'pidfile' },
  { key: 'hosts', kind: 'list', flags: ['-H', '--host'], option: 'hosts' },
  { key: 'debug', kind: 'bool', flags: ['-D', '--debug'], option: 'logLevel', reload: true },
  { key: 'log-level', kind: 'string', flags: ['-l', '--log-level'], option: 'logLevel', reload: true },
  { key: 'storage-driver', kind: 'string', flags: ['-s', '--storage-driver'], option: 'storageDriver' },
  { key: 'storage-opts', kind: 'list', flags: ['--storage-opt'], option: 'storageOpts' },
  { key: 'default-runtime', kind: 'string', flags: ['--default-runtime'], option: 'defaultRuntime' },
  { key: 'runtimes', kind: 'object' },
  { key: 'seccomp-profile', kind: 'string', flags: ['--seccomp-profile'], option: 'seccompProfile' },
  // berth's own: the cap on uncompressed layers and loaded archives (decompression bombs stop there).
  { key: 'max-layer-size', kind: 'string', flags: ['--max-layer-size'], option: 'maxLayerSize' },
  { key: 'live-restore', kind: 'bool', flags: ['--live-restore'], option: 'liveRestore', reload: true },
  { key: 'log-driver', kind: 'string' },
  { key: 'log-opts', kind: 'map' },
  { key: 'insecure-registries', kind: 'list', flags: ['--insecure-registry'], option: 'insecureRegistries', reload: true },
  { key: 'registry-mirrors', kind: 'list', flags: ['--registry-mirror'], option: 'registryMirrors', reload: true },
  { key: 'max-concurrent-downloads', kind: 'int', flags: ['--max-concurrent-downloads'], option: 'maxConcurrentDownloads', reload: true },
  { key: 'max-concurrent-uploads', kind: 'int', flags: ['--max-concurrent-uploads'], option: 'maxConcurrentUploads', reload: true },
  { key: 'bridge', kind: 'string', flags: ['-b', '--bridge'], option: 'bridge' },
  { key: 'bip', kind: 'string', flags: ['--bip'], option: 'bip' },
  { key: 'ipv6', kind: 'bool', flags: ['--ipv6'], option: 'ipv6' },
  { key: 'fixed-cidr-v6', kind: 'string', flags: ['--fixed-cidr-v6'], option: 'fixedCidrV6' },
  {
    key: 'default-address-pools', kind: 'object', flags: ['--default-address-pool'], option: 'defaultAddressPools',
    toFlagValues: (v) => (Array.isArray(v) ? v : []).map((p: { base?: unknown; size?: unknown }) => `base=${String(p.base)},size=${String(p.size)}`),
  },
  { key: 'iptables', kind: 'bool', flags: ['--iptables'], option: 'iptables' },
  { key: 'ip-forward', kind: 'bool', flags: ['--ip-forward'], option: 'ipForward' },
  { key: 'icc', kind: 'bool', flags: ['--icc'], option: 'icc' },
  { key: 'dns', kind: 'list', flags: ['--dns'], option: 'dns' },
  { key: 'dns-search', kind: 'list', flags: ['--dns-search'], option: 'dnsSearch' },
  { key: 'dns-opts', kind: 'list', flags: ['--dns-opt'], option: 'dnsOptions' },
  { key: 'default-ulimits', kind: 'object', flags: ['--default-ulimit'], option: 'defaultUlimits', toFlagValues: defaultUlimitsAsFlags },
  { key: 'userns-remap', kind: 'string', flags: ['--userns-remap'], option: 'usernsRemap' },
  { key: 'default-shm-size', kind: 'string' },
  { key: 'labels', kind: 'list', reload: true },
  { key: 'shutdown-timeout', kind: 'int', flags: ['--shutdown-timeout'], option: 'shutdownTimeout', reload: true },
  { key: 'tls', kind: 'bool', flags: ['--tls'], option: 'tls' },
  { key: 'tlsverify', kind: 'bool', flags: ['--tlsverify'], option: 'tlsVerify' },
  { key: 'tlscacert', kind: 'string', flags: ['--tlscacert'], option: 'tlsCaCert' },
  { key: 'tlscert', kind: 'string', flags: ['--tlscert'], option: 'tlsCert' },
  { key: 'tlskey', kind: 'string', flags: ['--tlskey'], option: 'tlsKey' },
];

export { mapPairs };

/** Flags that only exist on the command line but take a separate value. */
const OTHER_VALUE_FLAGS = new Set(['--config-file']);

const PREFIX = (file: string): string => `unable to configure the Docker daemon with file ${file}`;

function directiveFor(key: string): ConfigDirective | undefined {
  return CONFIG_DIRECTIVES.find((d) => d.key === key);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

const GO_TYPE: Record<ConfigKind, string> = { string: 'string', bool: 'bool', int: 'int', list: '[]string', map: 'map[string]string', object: 'object' };

function kindMatches(kind: ConfigKind, v: unknown): boolean {
  switch (kind) {
    case 'string': return typeof v === 'string';
    case 'bool': return typeof v === 'boolean';
    case 'int': return typeof v === 'number' && Number.isInteger(v);
    case 'list': return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'map': return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
    case 'object': return typeof v === 'object' && v !== null;
  }
}

/** The flags given on the command line, with their values as typed (repeatable flags joined). */
export function flagsOnCommandLine(argv: string[]): Map<string, string[]> {
  const byFlag = new Map<string, ConfigDirective>();
  for (const d of CONFIG_DIRECTIVES) for (const f of d.flags ?? []) byFlag.set(f, d);
  const seen = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) continue;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const d = byFlag.get(name);
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if ((d && d.kind !== 'bool') || OTHER_VALUE_FLAGS.has(name)) value = argv[++i] ?? '';
    else value = 'true';
    if (!d) continue;
    seen.set(d.key, [...(seen.get(d.key) ?? []), value]);
  }
  return seen;
}

/** Reads daemon.json: `undefined` when the default file is absent. */
export function readConfigFile(path: string, required: boolean): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidParameterError(`${PREFIX(path)}: open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : errorMessage(err)}`);
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameterError(`${PREFIX(path)}: ${errorMessage(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidParameterError(`${PREFIX(path)}: json: cannot unmarshal ${jsonType(parsed)} into Go value of type map[string]interface {}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Checks a daemon.json against the directives and the command line, as dockerd does: unknown
 * directives, values of the wrong type, and directives also given as flags are errors.
 */
export function checkConfig(path: string, file: Record<string, unknown>, argv: string[]): void {
  const unknown = Object.keys(file).filter((k) => !directiveFor(k));
  if (unknown.length > 0) {
    throw new InvalidParameterError(`${PREFIX(path)}: the following directives don't match any configuration option: ${unknown.join(', ')}`);
  }
  for (const [k, v] of Object.entries(file)) {
    const d = directiveFor(k)!;
    if (!kindMatches(d.kind, v)) {
      throw new InvalidParameterError(`${PREFIX(path)}: json: cannot unmarshal ${jsonType(v)} into Go struct field Config.${k} of type ${GO_TYPE[d.kind]}`);
    }
  }
  if ('graph' in file && 'data-root' in file) {
    throw new InvalidParameterError(`${PREFIX(path)}: cannot specify both "graph" and "data-root" config file options`);
  }
  const flags = flagsOnCommandLine(argv);
  const conflicts: string[] = [];
  for (const [k, v] of Object.entries(file)) {
    const fromFlag = flags.get(k);
    if (fromFlag) conflicts.push(`${k}: (from flag: ${showValue(fromFlag.length === 1 ? fromFlag[0] : fromFlag)}, from file: ${showValue(v)})`);
  }
  if (conflicts.length > 0) {
    throw new InvalidParameterError(`${PREFIX(path)}: the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`);
  }
}

/** Go's %v rendering of a value: lists as `[a b]`, maps as `map[k:v]`. */
function showValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(showValue).join(' ')}]`;
  if (typeof v === 'object' && v !== null) return `map[${Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}:${showValue(x)}`).join(' ')}]`;
  return String(v);
}

/** The command-line flags a file's directives stand for. */
function fileAsFlags(file: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(file)) {
    const d = directiveFor(k)!;
    const flag = d.flags?.find((f) => f.startsWith('--'));
    if (!flag) continue;
    let values: string[];
    if (d.toFlagValues) values = d.toFlagValues(v);
    else if (d.kind === 'list') values = v as string[];
    else if (d.kind === 'map') values = mapPairs(v);
    else values = [String(v)];
    for (const x of values) args.push(`${flag}=${x}`);
  }
  return args;
}

/**
 * Parses berthd's command line together with its daemon.json. The result's `config` holds every
 * directive in effect: those from the file and those given as flags.
 */
export function loadDaemonOptions(argv: string[]): DaemonOptions {
  const cli = parseDaemonArgs(argv);
  if (cli.help || cli.version) return cli;
  const file = readConfigFile(cli.configFile, cli.configFileGiven);
  if (!file) return { ...cli, config: configFromFlags(argv) };
  checkConfig(cli.configFile, file, argv);
  let merged: DaemonOptions;
  try {
    merged = parseDaemonArgs([...fileAsFlags(file), ...argv]);
  } catch (err) {
    throw new InvalidParameterError(`${PREFIX(cli.configFile)}: ${errorMessage(err)}`);
  }
  return { ...merged, config: { ...configFromFlags(argv), ...file } };
}

function configFromFlags(argv: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, values] of flagsOnCommandLine(argv)) {
    const d = directiveFor(k)!;
    if (d.kind === 'list') out[k] = values;
    else if (d.kind === 'bool') out[k] = values[values.length - 1] !== 'false';
    else if (d.kind === 'int') out[k] = Number(values[values.length - 1]);
    else out[k] = values[values.length - 1];
  }
  return out;
}

export interface ReloadResult {
  /** Directives re-applied, with their new values. */
  reloaded: Record<string, unknown>;
}

/**
 * SIGHUP: re-reads daemon.json and applies, in place, the directives Docker reloads (log level,
 * debug, live-restore, registries and mirrors, concurrency limits, labels, shutdown timeout).
 * A bad file changes nothing and throws.
 */
export function reloadDaemonOptions(live: DaemonOptions, argv: string[]): ReloadResult {
  const fresh = loadDaemonOptions(argv);
  const reloaded: Record<string, unknown> = {};
  const fields = live as unknown as Record<string, unknown>;
  const freshFields = fresh as unknown as Record<string, unknown>;
  for (const d of CONFIG_DIRECTIVES) {
    if (!d.reload) continue;
    if (d.option) fields[d.option] = freshFields[d.option];
    if (d.key in fresh.config) live.config[d.key] = fresh.config[d.key];
    else delete live.config[d.key];
    reloaded[d.key] = fresh.config[d.key] ?? (d.option ? freshFields[d.option] : undefined);
  }
  return { reloaded };
}

/** /info's RegistryConfig from `insecure-registries` and `registry-mirrors`, as dockerd builds it. */
export function registryConfigOf(config: Record<string, unknown>): {
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }>;
  Mirrors: string[];
} {
  const insecure = Array.isArray(config['insecure-registries']) ? config['insecure-registries'] as string[] : [];
  const mirrors = Array.isArray(config['registry-mirrors']) ? (config['registry-mirrors'] as string[]).map((m) => (m.endsWith('/') ? m : `${m}/`)) : [];
  const cidrs = ['::1/128', '127.0.0.0/8'];
  const index: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }> = {
    'docker.io': { Name: 'docker.io', Mirrors: mirrors, Secure: true, Official: true },
  };
  for (const r of insecure) {
    if (/^[0-9a-f.:]+\/\d+$/i.test(r)) { if (!cidrs.includes(r)) cidrs.push(r); } else index[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
  }
  return { InsecureRegistryCIDRs: cidrs, IndexConfigs: index, Mirrors: mirrors };
}
