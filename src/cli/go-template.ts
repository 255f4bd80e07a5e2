/**
 * A subset of Go's text/template, enough for docker's `--format` and `inspect -f`:
 * fields and chains, variables, pipelines, parenthesised pipelines, if/else/range/with,
 * docker's template functions and the text/template builtins. Errors use Go's wording.
 */

export class TemplateError extends Error {}

/** A value that behaves like a Go struct: unknown fields are an error naming `goType`. */
export interface TemplateObject {
  readonly goType: string;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pos: number; pipe: Pipe }
  | { kind: 'if' | 'range' | 'with'; pos: number; pipe: Pipe; list: Node[]; elseList: Node[] | undefined };

interface Pipe {
  pos: number;
  decl: string[];
  cmds: Cmd[];
}

interface Cmd {
  pos: number;
  args: Arg[];
}

type Arg =
  | { kind: 'field'; pos: number; chain: string[] }
  | { kind: 'dot'; pos: number }
  | { kind: 'var'; pos: number; name: string; chain: string[] }
  | { kind: 'ident'; pos: number; name: string }
  | { kind: 'string'; pos: number; value: string }
  | { kind: 'number'; pos: number; value: number; text: string }
  | { kind: 'bool'; pos: number; value: boolean }
  | { kind: 'nil'; pos: number }
  | { kind: 'pipe'; pos: number; pipe: Pipe; chain: string[] };

interface Token {
  t: 'field' | 'dot' | 'var' | 'ident' | 'string' | 'number' | 'lparen' | 'rparen' | 'pipe' | 'declare' | 'assign' | 'comma' | 'eoa';
  v: string;
  pos: number;
}

export type TemplateFunc = (...args: unknown[]) => unknown;

/** A Go []string (what `split` returns); arrays decoded from JSON are []interface {}. */
export class GoStringSlice extends Array<string> {}

/** A function argument of the wrong type; Go reports it at the argument's position. */
export class ArgTypeError extends Error {
  constructor(message: string, readonly argIndex: number) {
    super(message);
  }
}

const NO_VALUE = Symbol('noValue');

function isTemplateObject(v: unknown): v is TemplateObject {
  return typeof v === 'object' && v !== null && typeof (v as { goType?: unknown }).goType === 'string';
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isTemplateObject(v);
}

export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (isTemplateObject(v)) return v.goType;
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** Go's fmt %v of a value. */
export function formatGoValue(v: unknown): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatGoValue).join(' ')}]`;
  if (isTemplateObject(v)) return `{${v.goType}}`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${formatGoValue(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

function truth(v: unknown): boolean {
  if (v === NO_VALUE || v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainMap(v)) return Object.keys(v).length > 0;
  return true;
}

function quoteGo(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** A small Go fmt.Sprintf: %s %v %d %q %x %X %f %t %%, with flags, width and precision. */
export function goSprintf(format: string, args: unknown[]): string {
  let out = '';
  let ai = 0;
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch !== '%') { out += ch; continue; }
    const m = /^([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/.exec(format.slice(i + 1));
    if (!m) { out += '%!(NOVERB)'; continue; }
    i += m[0].length;
    const [, flags = '', widthS, precS, verb] = m;
    if (verb === '%') { out += '%'; continue; }
    if (ai >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    const arg = args[ai++];
    let s: string;
    switch (verb) {
      case 'd': s = typeof arg === 'number' ? Math.trunc(arg).toString() : `%!d(${goTypeName(arg)}=${formatGoValue(arg)})`; break;
      case 'f': s = typeof arg === 'number' ? arg.toFixed(precS ? Number(precS) : 6) : `%!f(${goTypeName(arg)}=${formatGoValue(arg)})`; break;
      case 'q': s = quoteGo(formatGoValue(arg)); break;
      case 'x': case 'X': {
        s = typeof arg === 'number' ? arg.toString(16) : Buffer.from(formatGoValue(arg)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 't': s = typeof arg === 'boolean' ? String(arg) : `%!t(${goTypeName(arg)}=${formatGoValue(arg)})`; break;
      default: {
        s = formatGoValue(arg);
        if (precS !== undefined && (verb === 's' || verb === 'v')) s = [...s].slice(0, Number(precS)).join('');
      }
    }
    const width = widthS ? Number(widthS) : 0;
    const len = [...s].length;
    if (len < width) {
      if (flags.includes('-')) s = s + ' '.repeat(width - len);
      else if (flags.includes('0') && /^[dfxX]$/.test(verb as string)) {
        const neg = s.startsWith('-');
        s = (neg ? '-' : '') + '0'.repeat(width - len) + (neg ? s.slice(1) : s);
      } else s = ' '.repeat(width - len) + s;
    }
    out += s;
  }
  if (ai < args.length) out += `%!(EXTRA ${args.slice(ai).map((a) => `${goTypeName(a)}=${formatGoValue(a)}`).join(', ')})`;
  return out;
}

function lengthOf(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isPlainMap(v)) return Object.keys(v).length;
  throw new Error(`len of type ${goTypeName(v)}`);
}

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new Error('incompatible types for comparison');
}

function jsonOf(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return 'null';
  if (isTemplateObject(v) && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    // docker's context objects marshal with Go's default HTML escaping
    return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  }
  return JSON.stringify(v) ?? 'null';
}

/** docker's template functions plus the text/template builtins. */
export const TEMPLATE_FUNCS: Record<string, TemplateFunc> = {
  json: (v) => jsonOf(v),
  split: (s, sep) => GoStringSlice.from(String(s).split(String(sep))),
  join: (a, sep) => {
    if (!(a instanceof GoStringSlice)) throw new ArgTypeError(`wrong type for value; expected []string; got ${goTypeName(a)}`, 0);
    return a.join(String(sep));
  },
  title: (s) => String(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  pad: (s, before, after) => ' '.repeat(Number(before)) + formatGoValue(s) + ' '.repeat(Number(after)),
  truncate: (s, n) => {
    const chars = [...formatGoValue(s)];
    return chars.length > Number(n) ? chars.slice(0, Number(n)).join('') : chars.join('');
  },
  len: (v) => lengthOf(v),
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (Array.isArray(cur) || typeof cur === 'string') {
        const i = Number(k);
        const n = Array.isArray(cur) ? cur.length : cur.length;
        if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`index out of range: ${formatGoValue(k)}`);
        cur = Array.isArray(cur) ? cur[i] : cur.charCodeAt(i);
      } else if (isPlainMap(cur)) {
        const key = String(k);
        if (Object.prototype.hasOwnProperty.call(cur, key)) cur = cur[key];
        else {
          const vals = Object.values(cur);
          cur = vals.length > 0 && vals.every((x) => typeof x === 'string') ? '' : NO_VALUE;
        }
      } else if (cur === null || cur === undefined || cur === NO_VALUE) {
        throw new Error('index of untyped nil');
      } else {
        throw new Error(`can't index item of type ${goTypeName(cur)}`);
      }
    }
    return cur;
  },
  slice: (v, ...idx) => {
    const a = Number(idx[0] ?? 0);
    const b = idx[1] === undefined ? undefined : Number(idx[1]);
    if (typeof v === 'string' || Array.isArray(v)) return v.slice(a, b);
    throw new Error(`can't slice item of type ${goTypeName(v)}`);
  },
  print: (...a) => a.map((x, i) => (i > 0 && typeof x !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + formatGoValue(x)).join(''),
  println: (...a) => a.map(formatGoValue).join(' ') + '\n',
  printf: (f, ...a) => goSprintf(String(f), a),
  not: (v) => !truth(v),
  and: (...a) => { for (const x of a) if (!truth(x)) return x; return a[a.length - 1]; },
  or: (...a) => { for (const x of a) if (truth(x)) return x; return a[a.length - 1]; },
  eq: (a, ...bs) => bs.some((b) => a === b || (a === NO_VALUE && b === undefined)),
  ne: (a, b) => a !== b,
  lt: (a, b) => compareValues(a, b) < 0,
  le: (a, b) => compareValues(a, b) <= 0,
  gt: (a, b) => compareValues(a, b) > 0,
  ge: (a, b) => compareValues(a, b) >= 0,
  html: (v) => formatGoValue(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;'),
  js: (v) => formatGoValue(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/"/g, '\\"').replace(/</g, '\\u003C').replace(/>/g, '\\u003E'),
  urlquery: (...a) => encodeURIComponent(a.map(formatGoValue).join('')).replace(/%20/g, '+'),
};

// ---------------------------------------------------------------- lexer

function lexAction(src: string, start: number, end: number): Token[] {
  const toks: Token[] = [];
  let i = start;
  const err = (msg: string): never => { throw new TemplateError(`template: :${lineOf(src, i)}: ${msg}`); };
  while (i < end) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const pos = i;
    if (c === '(') { toks.push({ t: 'lparen', v: c, pos }); i++; continue; }
    if (c === ')') { toks.push({ t: 'rparen', v: c, pos }); i++; continue; }
    if (c === '|') { toks.push({ t: 'pipe', v: c, pos }); i++; continue; }
    if (c === ',') { toks.push({ t: 'comma', v: c, pos }); i++; continue; }
    if (c === ':' && src[i + 1] === '=') { toks.push({ t: 'declare', v: ':=', pos }); i += 2; continue; }
    if (c === '=') { toks.push({ t: 'assign', v: '=', pos }); i++; continue; }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < end && src[j] !== '"') {
        if (src[j] === '\\') {
          const n = src[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', "'": "'", '0': '\0' };
          if (n === 'x') { s += String.fromCharCode(parseInt(src.slice(j + 2, j + 4), 16)); j += 4; continue; }
          if (n === 'u') { s += String.fromCharCode(parseInt(src.slice(j + 2, j + 6), 16)); j += 6; continue; }
          s += n !== undefined && map[n] !== undefined ? map[n] : (n ?? '');
          j += 2;
        } else { s += src[j]; j++; }
      }
      if (j >= end) err('unterminated quoted string');
      toks.push({ t: 'string', v: s, pos });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0 || j >= end) err('unterminated raw quoted string');
      toks.push({ t: 'string', v: src.slice(i + 1, j), pos });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      const j = src.indexOf("'", i + 1);
      if (j < 0) err('unterminated character constant');
      const ch = src.slice(i + 1, j);
      toks.push({ t: 'number', v: String(ch.codePointAt(0) ?? 0), pos });
      i = j + 1;
      continue;
    }
    if (c === '.' || c === '$') {
      let j = i + 1;
      while (j < end && /[\w]/.test(src[j] as string)) j++;
      const word = src.slice(i, j);
      if (c === '.') {
        if (word === '.') {
          toks.push({ t: 'dot', v: '.', pos });
        } else {
          toks.push({ t: 'field', v: word.slice(1), pos });
        }
      } else {
        toks.push({ t: 'var', v: word, pos });
      }
      i = j;
      continue;
    }
    if (/[0-9+-]/.test(c)) {
      const m = /^[+-]?(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?)/.exec(src.slice(i, end));
      if (!m) err(`bad number syntax: "${c}"`);
      toks.push({ t: 'number', v: (m as RegExpExecArray)[0], pos });
      i += (m as RegExpExecArray)[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < end && /\w/.test(src[j] as string)) j++;
      toks.push({ t: 'ident', v: src.slice(i, j), pos });
      i = j;
      continue;
    }
    err(`unexpected "${c}" in command`);
  }
  toks.push({ t: 'eoa', v: '', pos: end });
  return toks;
}

function lineOf(src: string, pos: number): number {
  return 1 + (src.slice(0, pos).match(/\n/g)?.length ?? 0);
}

// ---------------------------------------------------------------- parser

interface RawItem {
  kind: 'text' | 'action';
  text: string;
  pos: number;
  end: number;
}

function splitTemplate(src: string): RawItem[] {
  const items: RawItem[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      let text = src.slice(i);
      if (trimNext) text = text.replace(/^\s+/, '');
      if (text) items.push({ kind: 'text', text, pos: i, end: src.length });
      break;
    }
    let text = src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    let start = open + 2;
    const trimLeft = src[start] === '-' && /\s/.test(src[start + 1] ?? '');
    if (trimLeft) { text = text.replace(/\s+$/, ''); start += 2; }
    if (text) items.push({ kind: 'text', text, pos: i, end: open });
    // find the closing delimiter outside quotes
    let j = start;
    let close = -1;
    while (j < src.length) {
      const c = src[j];
      if (c === '"') {
        j++;
        while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
        j++;
        continue;
      }
      if (c === '`') { j = src.indexOf('`', j + 1); if (j < 0) break; j++; continue; }
      if (src.startsWith('}}', j)) { close = j; break; }
      j++;
    }
    if (close < 0) throw new TemplateError(`template: :${lineOf(src, open)}: unclosed action`);
    let end = close;
    trimNext = false;
    if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) { end = close - 2; trimNext = true; }
    const inner = src.slice(start, end);
    if (!/^\s*\/\*[\s\S]*\*\/\s*$/.test(inner)) items.push({ kind: 'action', text: inner, pos: start, end });
    i = close + 2;
  }
  return items;
}

class Parser {
  private items: RawItem[];
  private idx = 0;

  constructor(private readonly src: string, private readonly funcs: Record<string, TemplateFunc>) {
    this.items = splitTemplate(src);
  }

  private fail(pos: number, msg: string): never {
    throw new TemplateError(`template: :${lineOf(this.src, pos)}: ${msg}`);
  }

  parse(): Node[] {
    const { list, stop } = this.parseList();
    if (stop) this.fail(stop.pos, `unexpected {{${stop.word}}}`);
    return list;
  }

  /** Parses until {{end}}/{{else}} or EOF. */
  private parseList(): { list: Node[]; stop?: { word: 'end' | 'else'; pos: number; toks: Token[] } } {
    const list: Node[] = [];
    while (this.idx < this.items.length) {
      const item = this.items[this.idx++] as RawItem;
      if (item.kind === 'text') { list.push({ kind: 'text', text: item.text }); continue; }
      const toks = lexAction(this.src, item.pos, item.end);
      const first = toks[0] as Token;
      if (first.t === 'eoa') this.fail(item.pos, 'missing value for command');
      if (first.t === 'ident' && (first.v === 'end' || first.v === 'else')) {
        return { list, stop: { word: first.v, pos: first.pos, toks: toks.slice(1) } };
      }
      if (first.t === 'ident' && (first.v === 'if' || first.v === 'range' || first.v === 'with')) {
        list.push(this.parseControl(first.v, first.pos, toks.slice(1)));
        continue;
      }
      if (first.t === 'ident' && ['define', 'template', 'block', 'break', 'continue'].includes(first.v)) {
        this.fail(first.pos, `{{${first.v}}} is not supported`);
      }
      const cursor = { toks, i: 0 };
      const pipe = this.parsePipe(cursor, true);
      if ((cursor.toks[cursor.i] as Token).t !== 'eoa') this.fail(item.pos, `unexpected ${this.desc(cursor.toks[cursor.i] as Token)} in command`);
      list.push({ kind: 'action', pos: item.pos, pipe });
    }
    return { list };
  }

  private parseControl(word: 'if' | 'range' | 'with', pos: number, toks: Token[]): Node {
    const cursor = { toks, i: 0 };
    const pipe = this.parsePipe(cursor, true);
    if ((cursor.toks[cursor.i] as Token).t !== 'eoa') this.fail(pos, `unexpected ${this.desc(cursor.toks[cursor.i] as Token)} in ${word}`);
    if (pipe.cmds.length === 0) this.fail(pos, `missing value for ${word}`);
    const body = this.parseList();
    if (!body.stop) this.fail(this.src.length, 'unexpected EOF');
    let elseList: Node[] | undefined;
    const stop = body.stop as { word: string; pos: number; toks: Token[] };
    if (stop.word === 'else') {
      const rest = stop.toks;
      if ((rest[0] as Token).t === 'ident' && (rest[0] as Token).v === word && word !== 'range') {
        // {{else if ...}} / {{else with ...}}: a nested control that shares our {{end}}
        elseList = [this.parseControl(word, (rest[0] as Token).pos, rest.slice(1))];
      } else {
        const e = this.parseList();
        if (!e.stop || e.stop.word !== 'end') this.fail(this.src.length, 'unexpected EOF');
        elseList = e.list;
      }
    }
    return { kind: word, pos, pipe, list: body.list, elseList };
  }

  private desc(t: Token): string {
    return t.t === 'eoa' ? 'end of action' : `"${t.v}"`;
  }

  private parsePipe(c: { toks: Token[]; i: number }, top: boolean): Pipe {
    const pos = (c.toks[c.i] as Token).pos;
    const decl: string[] = [];
    // variable declarations: $x := or $k, $v :=
    const t0 = c.toks[c.i] as Token;
    if (t0.t === 'var') {
      const t1 = c.toks[c.i + 1] as Token | undefined;
      if (t1 && (t1.t === 'declare' || t1.t === 'assign')) {
        decl.push(t0.v);
        c.i += 2;
      } else if (t1 && t1.t === 'comma' && (c.toks[c.i + 2] as Token | undefined)?.t === 'var' && ['declare', 'assign'].includes((c.toks[c.i + 3] as Token | undefined)?.t ?? '')) {
        decl.push(t0.v, (c.toks[c.i + 2] as Token).v);
        c.i += 4;
      }
    }
    const cmds: Cmd[] = [];
    for (;;) {
      const cmd = this.parseCommand(c);
      cmds.push(cmd);
      const t = c.toks[c.i] as Token;
      if (t.t === 'pipe') { c.i++; continue; }
      if (t.t === 'eoa' || (!top && t.t === 'rparen')) break;
      this.fail(t.pos, `unexpected ${this.desc(t)} in operand`);
    }
    return { pos, decl, cmds };
  }

  private parseCommand(c: { toks: Token[]; i: number }): Cmd {
    const args: Arg[] = [];
    const pos = (c.toks[c.i] as Token).pos;
    for (;;) {
      const t = c.toks[c.i] as Token;
      if (t.t === 'eoa' || t.t === 'pipe' || t.t === 'rparen') break;
      args.push(this.parseOperand(c));
    }
    if (args.length === 0) this.fail(pos, 'missing value for command');
    return { pos, args };
  }

  /** Position of the first chained field (Go reports chains there). */
  private chainPos = -1;

  private parseChain(c: { toks: Token[]; i: number }): string[] {
    const chain: string[] = [];
    this.chainPos = -1;
    while ((c.toks[c.i] as Token).t === 'field' && (c.toks[c.i] as Token).pos === this.chainEnd) {
      const t = c.toks[c.i++] as Token;
      if (this.chainPos < 0) this.chainPos = t.pos;
      chain.push(t.v);
      this.chainEnd = t.pos + t.v.length + 1;
    }
    return chain;
  }

  private chainEnd = -1;

  private parseOperand(c: { toks: Token[]; i: number }): Arg {
    const t = c.toks[c.i++] as Token;
    switch (t.t) {
      case 'field': {
        const chain = [t.v];
        this.chainEnd = t.pos + t.v.length + 1;
        chain.push(...this.parseChain(c));
        return { kind: 'field', pos: chain.length > 1 ? this.chainPos : t.pos, chain };
      }
      case 'dot': return { kind: 'dot', pos: t.pos };
      case 'var': {
        this.chainEnd = t.pos + t.v.length;
        const chain = this.parseChain(c);
        return { kind: 'var', pos: chain.length ? this.chainPos : t.pos, name: t.v, chain };
      }
      case 'string': return { kind: 'string', pos: t.pos, value: t.v };
      case 'number': return { kind: 'number', pos: t.pos, value: Number(t.v), text: t.v };
      case 'lparen': {
        const pipe = this.parsePipe(c, false);
        const close = c.toks[c.i++] as Token;
        if (close.t !== 'rparen') this.fail(close.pos, 'unclosed left paren');
        this.chainEnd = close.pos + 1;
        const chain = this.parseChain(c);
        return { kind: 'pipe', pos: chain.length ? this.chainPos : t.pos, pipe, chain };
      }
      case 'ident': {
        if (t.v === 'true' || t.v === 'false') return { kind: 'bool', pos: t.pos, value: t.v === 'true' };
        if (t.v === 'nil') return { kind: 'nil', pos: t.pos };
        if (!(t.v in this.funcs)) this.fail(t.pos, `function "${t.v}" not defined`);
        return { kind: 'ident', pos: t.pos, name: t.v };
      }
      default:
        return this.fail(t.pos, `unexpected ${this.desc(t)} in operand`);
    }
  }
}

// ---------------------------------------------------------------- executor

export interface ExecuteOptions {
  /** `error` makes a missing map key an error (docker inspect's raw fallback). */
  missingKey?: 'default' | 'error';
}

class ExecError extends Error {}

function argText(a: Arg): string {
  switch (a.kind) {
    case 'field': return '.' + a.chain.join('.');
    case 'dot': return '.';
    case 'var': return a.name + a.chain.map((f) => '.' + f).join('');
    case 'ident': return a.name;
    case 'string': return quoteGo(a.value);
    case 'number': return a.text;
    case 'bool': return String(a.value);
    case 'nil': return 'nil';
    case 'pipe': return `(${pipeText(a.pipe)})` + a.chain.map((f) => '.' + f).join('');
  }
}

function pipeText(p: Pipe): string {
  const decl = p.decl.length ? `${p.decl.join(', ')} := ` : '';
  return decl + p.cmds.map((c) => c.args.map(argText).join(' ')).join(' | ');
}

/** A parsed template. */
export class GoTemplate {
  private readonly root: Node[];

  constructor(readonly source: string, private readonly funcs: Record<string, TemplateFunc> = TEMPLATE_FUNCS) {
    this.root = new Parser(source, funcs).parse();
  }

  execute(data: unknown, options: ExecuteOptions = {}): string {
    const out: string[] = [];
    const vars: Array<[string, unknown]> = [['$', data]];
    const missingKey = options.missingKey ?? 'default';
    const src = this.source;

    const fail = (pos: number, ctx: string, msg: string): never => {
      const before = src.slice(0, pos);
      const nl = before.lastIndexOf('\n');
      const col = nl < 0 ? pos : pos - nl - 1;
      throw new ExecError(`template: :${lineOf(src, pos)}:${col}: executing "" at <${ctx}>: ${msg}`);
    };

    const lookupVar = (name: string, pos: number): unknown => {
      for (let i = vars.length - 1; i >= 0; i--) if ((vars[i] as [string, unknown])[0] === name) return (vars[i] as [string, unknown])[1];
      return fail(pos, name, `undefined variable: ${name}`);
    };

    const field = (recv: unknown, name: string, args: unknown[], pos: number, ctx: string): unknown => {
      if (isTemplateObject(recv)) {
        const member = (recv as unknown as Record<string, unknown>)[name];
        if (typeof member === 'function' && name !== 'constructor') {
          try {
            return (member as (...a: unknown[]) => unknown).apply(recv, args);
          } catch (err) {
            return fail(pos, ctx, `error calling ${name}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        if (member !== undefined && name !== 'goType' && /^[A-Z]/.test(name)) {
          if (args.length) fail(pos, ctx, `${name} has arguments but cannot be invoked as function`);
          return member;
        }
        return fail(pos, ctx, `can't evaluate field ${name} in type ${recv.goType}`);
      }
      if (recv === NO_VALUE || recv === undefined || recv === null) {
        return fail(pos, ctx, `nil pointer evaluating interface {}.${name}`);
      }
      if (isPlainMap(recv)) {
        if (args.length) fail(pos, ctx, `${name} is not a method but has arguments`);
        if (Object.prototype.hasOwnProperty.call(recv, name)) return recv[name];
        if (missingKey === 'error') fail(pos, ctx, `map has no entry for key "${name}"`);
        return NO_VALUE;
      }
      return fail(pos, ctx, `can't evaluate field ${name} in type ${goTypeName(recv)}`);
    };

    const walkChain = (recv: unknown, chain: string[], args: unknown[], pos: number, ctx: string): unknown => {
      let cur = recv;
      chain.forEach((name, i) => {
        cur = field(cur, name, i === chain.length - 1 ? args : [], pos, ctx);
      });
      return cur;
    };

    const evalArg = (dot: unknown, a: Arg): unknown => {
      switch (a.kind) {
        case 'field': return walkChain(dot, a.chain, [], a.pos, argText(a));
        case 'dot': return dot;
        case 'var': return walkChain(lookupVar(a.name, a.pos), a.chain, [], a.pos, argText(a));
        case 'string': return a.value;
        case 'number': return a.value;
        case 'bool': return a.value;
        case 'nil': return null;
        case 'pipe': return walkChain(evalPipe(dot, a.pipe, false), a.chain, [], a.pos, argText(a));
        case 'ident': return callFunc(dot, a, [], undefined, false);
      }
    };

    const callFunc = (dot: unknown, fn: { name: string; pos: number }, argNodes: Arg[], final: unknown, hasFinal: boolean): unknown => {
      const f = this.funcs[fn.name] as TemplateFunc;
      const args = argNodes.map((n) => evalArg(dot, n));
      if (hasFinal) args.push(final);
      try {
        return f(...args);
      } catch (err) {
        if (err instanceof ArgTypeError) {
          const argNode = argNodes[err.argIndex];
          if (argNode) return fail(argNode.pos, argText(argNode), err.message);
        }
        return fail(fn.pos, [fn.name, ...argNodes.map(argText)].join(' '), `error calling ${fn.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };

    const evalCmd = (dot: unknown, cmd: Cmd, final: unknown, hasFinal: boolean): unknown => {
      const [first, ...rest] = cmd.args as [Arg, ...Arg[]];
      const extra = hasFinal ? [final] : [];
      switch (first.kind) {
        case 'field': return walkChain(dot, first.chain, [...rest.map((r) => evalArg(dot, r)), ...extra], first.pos, argText(first));
        case 'var':
          if (first.chain.length) return walkChain(lookupVar(first.name, first.pos), first.chain, [...rest.map((r) => evalArg(dot, r)), ...extra], first.pos, argText(first));
          break;
        case 'pipe':
          if (first.chain.length) return walkChain(evalPipe(dot, first.pipe, false), first.chain, [...rest.map((r) => evalArg(dot, r)), ...extra], first.pos, argText(first));
          break;
        case 'ident': return callFunc(dot, first, rest, final, hasFinal);
        default: break;
      }
      if (rest.length || hasFinal) fail(first.pos, argText(first), `can't give argument to non-function ${argText(first)}`);
      return evalArg(dot, first);
    };

    const evalPipe = (dot: unknown, pipe: Pipe, declare: boolean): unknown => {
      let value: unknown;
      let has = false;
      for (const cmd of pipe.cmds) {
        value = evalCmd(dot, cmd, value, has);
        has = true;
      }
      if (declare) for (const name of pipe.decl) vars.push([name, value]);
      return value;
    };

    const walk = (dot: unknown, nodes: Node[]): void => {
      for (const n of nodes) {
        switch (n.kind) {
          case 'text': out.push(n.text); break;
          case 'action': {
            const v = evalPipe(dot, n.pipe, true);
            if (n.pipe.decl.length === 0) out.push(formatGoValue(v));
            break;
          }
          case 'if': case 'with': {
            const mark = vars.length;
            const v = evalPipe(dot, n.pipe, true);
            if (truth(v)) walk(n.kind === 'with' ? v : dot, n.list);
            else if (n.elseList) walk(dot, n.elseList);
            vars.length = mark;
            break;
          }
          case 'range': {
            const mark = vars.length;
            const v = evalPipe(dot, { ...n.pipe, decl: [] }, false);
            let entries: Array<[unknown, unknown]> = [];
            if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
            else if (isPlainMap(v)) entries = Object.keys(v).sort().map((k) => [k, v[k]]);
            else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
            else if (v !== null && v !== undefined && v !== NO_VALUE) fail(n.pos, pipeText(n.pipe), `range can't iterate over ${formatGoValue(v)}`);
            if (entries.length === 0) {
              if (n.elseList) walk(dot, n.elseList);
            } else {
              for (const [k, x] of entries) {
                const inner = vars.length;
                if (n.pipe.decl.length === 1) vars.push([n.pipe.decl[0] as string, x]);
                else if (n.pipe.decl.length === 2) vars.push([n.pipe.decl[0] as string, k], [n.pipe.decl[1] as string, x]);
                walk(x, n.list);
                vars.length = inner;
              }
            }
            vars.length = mark;
            break;
          }
        }
      }
    };

    try {
      walk(data, this.root);
    } catch (err) {
      if (err instanceof ExecError) throw new TemplateError(err.message);
      throw err;
    }
    return out.join('');
  }
}
