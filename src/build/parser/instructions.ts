import {
  DockerfileSyntaxError, parseDockerfile, parseJsonArray, splitWords,
  type DockerfileNode, type Heredoc, type ParsedDockerfile,
} from './dockerfile-parser.js';
import { processWord, ShellLexError, type VarLookup } from './shell-lex.js';

/** A command in exec (JSON) form or shell form. */
export type CommandForm = { exec: string[] } | { shell: string };

export interface HealthcheckSpec {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

interface Base { node: DockerfileNode }

export type Instruction = Base & (
  | { kind: 'from'; image: string; stageName?: string; platform?: string }
  | { kind: 'run'; command: CommandForm; heredocs: Heredoc[]; network?: string; mounts: string[] }
  | { kind: 'cmd' | 'entrypoint'; command: CommandForm }
  | { kind: 'shell'; shell: string[] }
  | { kind: 'env' | 'label'; pairs: Array<[string, string]> }
  | { kind: 'arg'; args: Array<{ name: string; value?: string }> }
  | { kind: 'copy' | 'add'; sources: string[]; dest: string; from?: string; chown?: string; chmod?: string; heredocs: Heredoc[]; link: boolean; checksum?: string }
  | { kind: 'expose'; ports: string[] }
  | { kind: 'volume'; paths: string[] }
  | { kind: 'user'; user: string }
  | { kind: 'workdir'; path: string }
  | { kind: 'stopsignal'; signal: string }
  | { kind: 'healthcheck'; health: HealthcheckSpec }
  | { kind: 'onbuild'; trigger: string; sub: Instruction }
  | { kind: 'maintainer'; maintainer: string }
);

export type InstructionOf<K extends Instruction['kind']> = Instruction extends infer I
  ? I extends { kind: infer KK } ? (K extends KK ? I & { kind: K } : never) : never
  : never;

const ALLOWED_FLAGS: Record<string, string[]> = {
  from: ['platform'],
  run: ['mount', 'network', 'security'],
  copy: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  add: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude'],
  healthcheck: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

const KEYWORDS = new Set([
  'from', 'run', 'cmd', 'entrypoint', 'shell', 'env', 'label', 'arg', 'copy', 'add', 'expose', 'volume',
  'user', 'workdir', 'stopsignal', 'healthcheck', 'onbuild', 'maintainer',
]);

export interface Stage {
  /** Lower-cased `AS` name, when given. */
  name?: string;
  index: number;
  from: InstructionOf<'from'>;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARG instructions before the first FROM. */
  metaArgs: Array<InstructionOf<'arg'>>;
  stages: Stage[];
  escape: string;
  warnings: string[];
  directives: Record<string, string>;
}

/** Parses a whole Dockerfile into stages; errors name the file and line. */
export function parseDockerfileText(text: string, file = 'Dockerfile'): Dockerfile {
  const parsed: ParsedDockerfile = parseDockerfile(text, file);
  const metaArgs: Array<InstructionOf<'arg'>> = [];
  const stages: Stage[] = [];
  for (const node of parsed.nodes) {
    const inst = toInstruction(node, file, parsed.escape);
    if (inst.kind === 'from') {
      const stage: Stage = { index: stages.length, from: inst, instructions: [] };
      if (inst.stageName) stage.name = inst.stageName;
      stages.push(stage);
      continue;
    }
    const cur = stages[stages.length - 1];
    if (!cur) {
      if (inst.kind === 'arg') { metaArgs.push(inst); continue; }
      throw new DockerfileSyntaxError(file, node.startLine, 'no build stage in current context');
    }
    cur.instructions.push(inst);
  }
  if (stages.length === 0) throw new DockerfileSyntaxError(file, parsed.nodes.length ? parsed.nodes[parsed.nodes.length - 1]!.startLine : 1, parsed.nodes.length ? 'no build stage in current context' : 'file with no instructions');
  const seen = new Set<string>();
  for (const s of stages) {
    if (!s.name) continue;
    if (seen.has(s.name)) throw new DockerfileSyntaxError(file, s.from.node.startLine, `duplicate stage name "${s.name}"`);
    seen.add(s.name);
  }
  return { metaArgs, stages, escape: parsed.escape, warnings: parsed.warnings, directives: parsed.directives };
}

/** Gives one node its typed meaning; validates argument counts and flags as Docker does. */
export function toInstruction(node: DockerfileNode, file: string, escape: string): Instruction {
  const fail = (msg: string): never => { throw new DockerfileSyntaxError(file, node.startLine, msg); };
  const kw = node.keyword;
  const upper = kw.toUpperCase();
  if (!KEYWORDS.has(kw)) fail(`unknown instruction: ${node.written}`);
  const allowed = ALLOWED_FLAGS[kw] ?? [];
  const flags = new Map<string, string | null>();
  const multi = new Map<string, string[]>();
  for (const [name, value] of node.flags) {
    if (!allowed.includes(name)) fail(`unknown flag: --${name}`);
    if (name === 'mount' || name === 'exclude') {
      multi.set(name, [...(multi.get(name) ?? []), value ?? '']);
      continue;
    }
    if (flags.has(name)) fail(`Duplicate flag specified: --${name}`);
    flags.set(name, value);
  }
  const str = (name: string): string | undefined => {
    const v = flags.get(name);
    if (v === undefined) return undefined;
    if (v === null) return fail(`missing a value on flag: --${name}`);
    return v;
  };
  const rest = node.rest;
  const words = (): string[] => rest.split(/[ \t]+/).filter((w) => w !== '');
  const command = (): CommandForm => {
    const exec = parseJsonArray(rest);
    return exec ? { exec } : { shell: rest };
  };
  switch (kw) {
    case 'from': {
      const w = words();
      if (!(w.length === 1 || (w.length === 3 && w[1]!.toLowerCase() === 'as'))) fail('FROM requires either one or three arguments');
      const inst: Instruction = { kind: 'from', node, image: w[0]! };
      if (w.length === 3) {
        const name = w[2]!.toLowerCase();
        if (!/^[a-z][a-z0-9-_.]*$/.test(name)) fail(`invalid name for build stage: "${w[2]}", name can't start with a number or contain symbols`);
        inst.stageName = name;
      }
      const platform = str('platform');
      if (platform !== undefined) inst.platform = platform;
      return inst;
    }
    case 'run': {
      if (rest.trim() === '' && node.heredocs.length === 0) fail('RUN requires at least one argument');
      const inst: Instruction = { kind: 'run', node, command: command(), heredocs: node.heredocs, mounts: multi.get('mount') ?? [] };
      const network = str('network');
      if (network !== undefined) {
        if (!['default', 'none', 'host'].includes(network)) fail(`unsupported network mode: ${network}`);
        inst.network = network;
      }
      return inst;
    }
    case 'cmd':
    case 'entrypoint':
      if (rest.trim() === '' && kw === 'entrypoint') return { kind: kw, node, command: { shell: '' } };
      return { kind: kw, node, command: command() };
    case 'shell': {
      const exec = parseJsonArray(rest);
      if (!exec) fail('SHELL requires the arguments to be in JSON form');
      if (exec!.length === 0) fail('SHELL requires at least one argument');
      return { kind: 'shell', node, shell: exec! };
    }
    case 'env':
    case 'label':
      return { kind: kw, node, pairs: nameValuePairs(upper, rest, escape, fail) };
    case 'arg': {
      const w = splitWords(rest, escape);
      if (w.length === 0) fail('ARG requires at least one argument');
      const args = w.map((word) => {
        const eq = word.indexOf('=');
        if (eq < 0) return { name: word };
        const name = word.slice(0, eq);
        if (name === '') fail('ARG names can not be blank');
        return { name, value: word.slice(eq + 1) };
      });
      return { kind: 'arg', node, args };
    }
    case 'copy':
    case 'add': {
      const list = parseJsonArray(rest) ?? splitWords(rest, escape);
      if (list.length < 2) {
        fail(list.length === 0
          ? `${upper} requires at least two arguments, but only zero were provided. Destination could not be determined`
          : `${upper} requires at least two arguments, but only one was provided. Destination could not be determined`);
      }
      const dest = list[list.length - 1]!;
      const sources = list.slice(0, -1);
      const inst: Instruction = { kind: kw, node, sources, dest, heredocs: node.heredocs, link: flags.has('link') && flags.get('link') !== 'false' };
      const from = kw === 'copy' ? str('from') : undefined;
      if (from !== undefined) inst.from = from;
      const chown = str('chown');
      if (chown !== undefined) inst.chown = chown;
      const chmod = str('chmod');
      if (chmod !== undefined) inst.chmod = chmod;
      const checksum = kw === 'add' ? str('checksum') : undefined;
      if (checksum !== undefined) inst.checksum = checksum;
      return inst;
    }
    case 'expose': {
      const w = words();
      if (w.length === 0) fail('EXPOSE requires at least one argument');
      return { kind: 'expose', node, ports: w };
    }
    case 'volume': {
      const list = parseJsonArray(rest) ?? words();
      if (list.length === 0) fail('VOLUME requires at least one argument');
      for (const p of list) if (p.trim() === '') fail('VOLUME specified can not be an empty string');
      return { kind: 'volume', node, paths: list };
    }
    case 'user':
    case 'workdir':
    case 'stopsignal':
    case 'maintainer': {
      const t = rest.trim();
      if (t === '' || (kw !== 'maintainer' && kw !== 'workdir' && words().length !== 1)) fail(`${upper} requires exactly one argument`);
      if (kw === 'user') return { kind: 'user', node, user: t };
      if (kw === 'workdir') return { kind: 'workdir', node, path: t };
      if (kw === 'stopsignal') return { kind: 'stopsignal', node, signal: t };
      return { kind: 'maintainer', node, maintainer: t };
    }
    case 'healthcheck':
      return { kind: 'healthcheck', node, health: healthcheck(rest, str, fail) };
    case 'onbuild': {
      const t = rest.trim();
      if (t === '') fail('ONBUILD requires at least one argument');
      const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(t)!;
      const sub = m[1]!.toLowerCase();
      if (sub === 'onbuild') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (sub === 'from' || sub === 'maintainer') fail(`${sub.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      const subNode = parseDockerfile(t, file).nodes[0]!;
      subNode.startLine = node.startLine;
      subNode.endLine = node.endLine;
      return { kind: 'onbuild', node, trigger: t, sub: toInstruction(subNode, file, escape) };
    }
  }
  return fail(`unknown instruction: ${node.written}`);
}

function nameValuePairs(upper: string, rest: string, escape: string, fail: (m: string) => never): Array<[string, string]> {
  const w = splitWords(rest, escape);
  if (w.length === 0) fail(`${upper} requires at least one argument`);
  if (!w[0]!.includes('=')) {
    // Legacy form: `ENV KEY some value`.
    const m = /^(\S+)[ \t]+([\s\S]*)$/.exec(rest.trim());
    if (!m || m[2]!.trim() === '') fail(`${upper} must have two arguments`);
    return [[m![1]!, m![2]!]];
  }
  return w.map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) fail(`Syntax error - can't find = in "${word}". Must be of the form: name=value`);
    if (eq === 0) fail(`${upper} names can not be blank`);
    return [word.slice(0, eq), word.slice(eq + 1)] as [string, string];
  });
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let neg = false;
  let body = s;
  if (body.startsWith('-') || body.startsWith('+')) { neg = body[0] === '-'; body = body.slice(1); }
  if (body === '') return undefined;
  re.lastIndex = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return Math.round(neg ? -total : total);
}

function healthcheck(rest: string, str: (n: string) => string | undefined, fail: (m: string) => never): HealthcheckSpec {
  const t = rest.trim();
  if (t === '') fail('HEALTHCHECK requires at least one argument');
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(t)!;
  const type = m[1]!.toUpperCase();
  const args = m[2] ?? '';
  if (type === 'NONE') {
    if (args.trim() !== '') fail('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (type !== 'CMD') fail(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const exec = parseJsonArray(args);
  const h: HealthcheckSpec = { Test: exec ? ['CMD', ...exec] : ['CMD-SHELL', args] };
  if (!exec && args.trim() === '') fail('Missing command after HEALTHCHECK CMD');
  const dur = (flag: string, label: string): number | undefined => {
    const v = str(flag);
    if (v === undefined) return undefined;
    const d = parseGoDuration(v);
    if (d === undefined) fail(`time: invalid duration "${v}"`);
    if (d! < 0 || (d! !== 0 && d! < 1e6)) fail(`${label} "${flag}" cannot be less than 1ms`);
    return d;
  };
  const interval = dur('interval', 'Interval');
  const timeout = dur('timeout', 'Timeout');
  const startPeriod = dur('start-period', 'StartPeriod');
  const startInterval = dur('start-interval', 'StartInterval');
  if (interval) h.Interval = interval;
  if (timeout) h.Timeout = timeout;
  if (startPeriod) h.StartPeriod = startPeriod;
  if (startInterval) h.StartInterval = startInterval;
  const retries = str('retries');
  if (retries !== undefined) {
    const n = Number(retries);
    if (!Number.isInteger(n)) fail(`strconv.ParseInt: parsing "${retries}": invalid syntax`);
    if (n < 0) fail('--retries cannot be negative');
    if (n) h.Retries = n;
  }
  return h;
}

/**
 * Applies variable substitution to the instructions Docker expands (ADD COPY ENV EXPOSE FROM LABEL
 * STOPSIGNAL USER VOLUME WORKDIR, ARG defaults); RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and
 * ONBUILD are left as written. Errors name the file and line.
 */
export function expandInstruction<I extends Instruction>(inst: I, lookup: VarLookup, escape: string, file = 'Dockerfile'): I {
  const w = (s: string): string => {
    try {
      return processWord(s, lookup, escape);
    } catch (err) {
      if (err instanceof ShellLexError) throw new DockerfileSyntaxError(file, inst.node.startLine, `failed to process "${s}": ${err.message}`);
      throw err;
    }
  };
  const i = inst as Instruction;
  switch (i.kind) {
    case 'from': {
      const out = { ...i, image: w(i.image) };
      if (i.platform !== undefined) out.platform = w(i.platform);
      return out as I;
    }
    case 'env':
    case 'label':
      return { ...i, pairs: i.pairs.map(([k, v]) => [w(k), w(v)] as [string, string]) } as I;
    case 'arg':
      return { ...i, args: i.args.map((a) => (a.value === undefined ? { name: a.name } : { name: a.name, value: w(a.value) })) } as I;
    case 'copy':
    case 'add': {
      const out = { ...i, sources: i.sources.map((s) => (s.startsWith('<<') ? s : w(s))), dest: w(i.dest) };
      if (i.from !== undefined) out.from = w(i.from);
      if (i.chown !== undefined) out.chown = w(i.chown);
      if (i.chmod !== undefined) out.chmod = w(i.chmod);
      if (i.heredocs.length) out.heredocs = i.heredocs.map((h) => (h.expand ? { ...h, content: expandHeredoc(h.content, lookup) } : h));
      return out as I;
    }
    case 'expose':
      return { ...i, ports: i.ports.map(w).filter((p) => p !== '') } as I;
    case 'volume':
      return { ...i, paths: i.paths.map(w) } as I;
    case 'user':
      return { ...i, user: w(i.user) } as I;
    case 'workdir':
      return { ...i, path: w(i.path) } as I;
    case 'stopsignal':
      return { ...i, signal: w(i.signal) } as I;
    default:
      return inst;
  }
}

/** Expands `$VAR` and `${VAR...}` in heredoc text without touching quotes. */
function expandHeredoc(text: string, lookup: VarLookup): string {
  return text.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a: string | undefined, b: string | undefined) => {
    if (m === '\\$') return '$';
    return lookup((a ?? b)!) ?? '';
  });
}
