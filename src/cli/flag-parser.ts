/** pflag-style flag parsing, as docker's cobra commands parse: `-it`, `--x=v`, `--x v`, `-e v`, `--`. */

export type FlagType = 'bool' | 'string' | 'stringArray' | 'int' | 'uint' | 'float';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  /** Default value (as parsed); undefined means unset. */
  default?: string | number | boolean | string[];
  description?: string;
  /** Shown in help as the value name (`string`, `list`, `int`...). */
  valueName?: string;
  hidden?: boolean;
  /** Other names (`--net` for `--network`). */
  aliases?: string[];
}

export type FlagValue = string | number | boolean | string[];

export class FlagError extends Error {}

export interface ParsedFlags {
  values: Map<string, FlagValue>;
  /** Names of flags given on the command line. */
  changed: Set<string>;
  args: string[];
  help: boolean;
}

export interface ParseOptions {
  /** false: the first positional argument ends flag parsing (run, create, exec). */
  interspersed?: boolean;
}

function typeLabel(spec: FlagSpec): string {
  return `${spec.short ? `-${spec.short}, ` : ''}--${spec.name}`;
}

function convert(spec: FlagSpec, raw: string): FlagValue {
  switch (spec.type) {
    case 'bool': {
      const v = raw.toLowerCase();
      if (['1', 't', 'true'].includes(v)) return true;
      if (['0', 'f', 'false'].includes(v)) return false;
      throw new FlagError(`invalid argument "${raw}" for "${typeLabel(spec)}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
    }
    case 'int': case 'uint': {
      if (!/^[+-]?\d+$/.test(raw) || (spec.type === 'uint' && raw.startsWith('-'))) {
        throw new FlagError(`invalid argument "${raw}" for "${typeLabel(spec)}" flag: strconv.Parse${spec.type === 'int' ? 'Int' : 'Uint'}: parsing "${raw}": invalid syntax`);
      }
      return Number(raw);
    }
    case 'float': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
        throw new FlagError(`invalid argument "${raw}" for "${typeLabel(spec)}" flag: strconv.ParseFloat: parsing "${raw}": invalid syntax`);
      }
      return Number(raw);
    }
    default:
      return raw;
  }
}

/** Parses `argv` against `specs`. `-h`/`--help` are always accepted. */
export function parseFlags(argv: string[], specs: FlagSpec[], options: ParseOptions = {}): ParsedFlags {
  const interspersed = options.interspersed ?? true;
  const byName = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.aliases ?? []) byName.set(a, s);
    if (s.short) byShort.set(s.short, s);
  }
  const values = new Map<string, FlagValue>();
  for (const s of specs) if (s.default !== undefined) values.set(s.name, Array.isArray(s.default) ? [...s.default] : s.default);
  const changed = new Set<string>();
  const args: string[] = [];
  let help = false;

  const set = (spec: FlagSpec, raw: string): void => {
    const v = convert(spec, raw);
    if (spec.type === 'stringArray') {
      const prev = changed.has(spec.name) ? (values.get(spec.name) as string[]) : [];
      values.set(spec.name, [...prev, raw]);
    } else {
      values.set(spec.name, v);
    }
    changed.add(spec.name);
  };

  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    i++;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a.length < 2 || !a.startsWith('-')) {
      args.push(a);
      if (!interspersed) {
        args.push(...argv.slice(i));
        break;
      }
      continue;
    }
    if (a.startsWith('--')) {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      if (name.length === 0 || name.startsWith('-') || name.startsWith('=')) throw new FlagError(`bad flag syntax: ${a}`);
      const spec = byName.get(name);
      if (!spec) {
        if (name === 'help') { help = true; continue; }
        throw new FlagError(`unknown flag: --${name}`);
      }
      if (eq >= 0) set(spec, body.slice(eq + 1));
      else if (spec.type === 'bool') set(spec, 'true');
      else if (i < argv.length) set(spec, argv[i++] as string);
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    // shorthand cluster
    let shorts = a.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0] as string;
      const spec = byShort.get(c);
      if (!spec) {
        if (c === 'h') { help = true; shorts = shorts.slice(1); continue; }
        throw new FlagError(`unknown shorthand flag: '${c}' in -${a.slice(1)}`);
      }
      if (shorts.length > 2 && shorts[1] === '=') {
        set(spec, shorts.slice(2));
        shorts = '';
      } else if (spec.type === 'bool') {
        if (shorts[1] === '=') { set(spec, shorts.slice(2)); shorts = ''; } else { set(spec, 'true'); shorts = shorts.slice(1); }
      } else if (shorts.length > 1) {
        set(spec, shorts.slice(1));
        shorts = '';
      } else if (i < argv.length) {
        set(spec, argv[i++] as string);
        shorts = '';
      } else {
        throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
      }
    }
  }
  return { values, changed, args, help };
}

/** Typed accessors over parsed values. */
export class FlagValues {
  constructor(private readonly parsed: ParsedFlags) {}

  get args(): string[] { return this.parsed.args; }

  bool(name: string): boolean { return this.parsed.values.get(name) === true; }

  string(name: string): string {
    const v = this.parsed.values.get(name);
    return typeof v === 'string' ? v : '';
  }

  number(name: string): number {
    const v = this.parsed.values.get(name);
    return typeof v === 'number' ? v : 0;
  }

  list(name: string): string[] {
    const v = this.parsed.values.get(name);
    return Array.isArray(v) ? v : [];
  }

  changed(name: string): boolean { return this.parsed.changed.has(name); }
}

/** The OPTIONS section of `--help`, laid out like cobra's flag usages. */
export function flagUsages(specs: FlagSpec[]): string {
  const rows: Array<[string, string]> = [];
  const all = [...specs.filter((s) => !s.hidden), { name: 'help', type: 'bool', description: 'Print usage' } as FlagSpec]
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const s of all) {
    let left = s.short ? `  -${s.short}, --${s.name}` : `      --${s.name}`;
    const valueName = s.valueName ?? (s.type === 'bool' ? '' : s.type === 'stringArray' ? 'list' : s.type === 'uint' ? 'uint' : s.type === 'float' ? 'decimal' : s.type);
    if (valueName) left += ` ${valueName}`;
    let desc = s.description ?? '';
    if (s.default !== undefined && s.default !== false && s.default !== '' && !(Array.isArray(s.default) && s.default.length === 0)) {
      desc += s.type === 'string' ? ` (default "${String(s.default)}")` : ` (default ${String(s.default)})`;
    }
    rows.push([left, desc]);
  }
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `${l.padEnd(width)}   ${d}`.trimEnd()).join('\n');
}
