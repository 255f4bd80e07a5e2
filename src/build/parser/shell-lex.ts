/**
 * Docker's word processing for Dockerfile arguments: quote removal, escapes and variable
 * substitution (`$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`, `${VAR:?x}`,
 * `${VAR?x}`, `${VAR#p}`, `${VAR%p}`, `${VAR/p/r}`). No command substitution, no globbing.
 */
export type VarLookup = (name: string) => string | undefined;

export class ShellLexError extends Error {}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}
  peek(): string | undefined { return this.pos < this.text.length ? this.text[this.pos] : undefined; }
  next(): string | undefined { return this.pos < this.text.length ? this.text[this.pos++] : undefined; }
}

/** Processes one word: expands variables and removes quotes and escapes. */
export function processWord(word: string, lookup: VarLookup, escape = '\\'): string {
  const w = new Word(word, lookup, escape);
  return w.processStopOn(undefined, false).join('');
}

/**
 * Processes a string into words as the shell splits them: whitespace outside quotes separates
 * words, and unquoted expansions are split on whitespace too.
 */
export function processWords(text: string, lookup: VarLookup, escape = '\\'): string[] {
  const w = new Word(text, lookup, escape);
  return w.processSplit();
}

class Word {
  private readonly s: Scanner;
  constructor(text: string, private readonly lookup: VarLookup, private readonly escape: string) {
    this.s = new Scanner(text);
  }

  /** Returns the pieces of the result (concatenated by processWord). */
  processStopOn(stop: string | undefined, _inBrace: boolean): string[] {
    const out: string[] = [];
    for (;;) {
      const ch = this.s.peek();
      if (ch === undefined) {
        if (stop !== undefined) throw new ShellLexError(`unexpected end of statement while looking for matching ${stop}`);
        return out;
      }
      if (ch === stop) {
        this.s.next();
        return out;
      }
      if (ch === "'") out.push(this.singleQuote());
      else if (ch === '"') out.push(this.doubleQuote());
      else if (ch === '$') out.push(this.dollar());
      else {
        this.s.next();
        if (ch === this.escape) {
          const n = this.s.next();
          if (n === undefined) continue;
          out.push(n);
        } else {
          out.push(ch);
        }
      }
    }
  }

  processSplit(): string[] {
    const words: string[] = [];
    let cur = '';
    let has = false;
    const flush = (): void => {
      if (has || cur.length) words.push(cur);
      cur = '';
      has = false;
    };
    for (;;) {
      const ch = this.s.peek();
      if (ch === undefined) break;
      if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
        this.s.next();
        flush();
        continue;
      }
      if (ch === "'") { cur += this.singleQuote(); has = true; continue; }
      if (ch === '"') { cur += this.doubleQuote(); has = true; continue; }
      if (ch === '$') {
        const v = this.dollar();
        const parts = v.split(/[ \t\n]+/);
        for (let i = 0; i < parts.length; i++) {
          if (i > 0) flush();
          cur += parts[i];
        }
        continue;
      }
      this.s.next();
      if (ch === this.escape) {
        const n = this.s.next();
        if (n !== undefined) cur += n;
        continue;
      }
      cur += ch;
    }
    flush();
    return words;
  }

  private singleQuote(): string {
    this.s.next();
    let out = '';
    for (;;) {
      const ch = this.s.next();
      if (ch === undefined) throw new ShellLexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  private doubleQuote(): string {
    this.s.next();
    let out = '';
    for (;;) {
      const ch = this.s.peek();
      if (ch === undefined) throw new ShellLexError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') { this.s.next(); return out; }
      if (ch === '$') { out += this.dollar(); continue; }
      this.s.next();
      if (ch === this.escape) {
        const n = this.s.peek();
        if (n === undefined) continue;
        if (n === '"' || n === '$' || n === this.escape) {
          out += n;
          this.s.next();
          continue;
        }
      }
      out += ch;
    }
  }

  private name(): string {
    let name = '';
    for (;;) {
      const ch = this.s.peek();
      if (ch === undefined) return name;
      if (name === '' && /[0-9]/.test(ch)) {
        while (this.s.peek() !== undefined && /[0-9]/.test(this.s.peek()!)) name += this.s.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) {
        this.s.next();
        return ch;
      }
      if (!/[A-Za-z0-9_]/.test(ch)) return name;
      name += this.s.next();
    }
  }

  private dollar(): string {
    this.s.next();
    if (this.s.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.lookup(name) ?? '';
    }
    this.s.next();
    if (this.s.peek() === '{') throw new ShellLexError('bad substitution');
    const name = this.name();
    const ch = this.s.next();
    if (ch === undefined) throw new ShellLexError("syntax error: missing '}'");
    const value = this.lookup(name);
    const word = (): string => this.processStopOn('}', true).join('');
    switch (ch) {
      case '}':
        return value ?? '';
      case ':': {
        const mod = this.s.next();
        const w = word();
        if (mod === '-') return value === undefined || value === '' ? w : value;
        if (mod === '+') return value === undefined || value === '' ? '' : w;
        if (mod === '?') {
          if (value === undefined || value === '') throw new ShellLexError(`${name}: ${w || 'is not allowed to be unset'}`);
          return value;
        }
        throw new ShellLexError(`unsupported modifier (${mod ?? ''}) in substitution`);
      }
      case '-': {
        const w = word();
        return value === undefined ? w : value;
      }
      case '+': {
        const w = word();
        return value === undefined ? '' : w;
      }
      case '?': {
        const w = word();
        if (value === undefined) throw new ShellLexError(`${name}: ${w || 'is not allowed to be unset'}`);
        return value;
      }
      case '#':
      case '%': {
        let longest = false;
        if (this.s.peek() === ch) { this.s.next(); longest = true; }
        const pat = word();
        return trimPattern(value ?? '', pat, ch === '#', longest);
      }
      case '/': {
        let all = false;
        if (this.s.peek() === '/') { this.s.next(); all = true; }
        let pat = '';
        for (;;) {
          const c = this.s.peek();
          if (c === undefined) throw new ShellLexError("syntax error: missing '}'");
          if (c === '/' || c === '}') break;
          this.s.next();
          pat += c === this.escape ? this.s.next() ?? '' : c;
        }
        let repl = '';
        if (this.s.peek() === '/') { this.s.next(); repl = word(); } else this.s.next();
        const re = globToRegExp(pat, false);
        return (value ?? '').replace(new RegExp(re.source, all ? 'g' : ''), () => repl);
      }
      default:
        throw new ShellLexError(`unsupported modifier (${ch}) in substitution`);
    }
  }
}

function globToRegExp(pat: string, anchored: boolean): RegExp {
  let src = '';
  for (const c of pat) {
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else src += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(anchored ? `^${src}$` : src);
}

function trimPattern(value: string, pat: string, prefix: boolean, longest: boolean): string {
  const re = globToRegExp(pat, true);
  if (prefix) {
    const order = longest ? range(value.length, -1) : range(0, value.length + 1);
    for (const i of order) if (re.test(value.slice(0, i))) return value.slice(i);
  } else {
    const order = longest ? range(0, value.length + 1) : range(value.length, -1);
    for (const i of order) if (re.test(value.slice(i))) return value.slice(0, i);
  }
  return value;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  if (from <= to) for (let i = from; i < to; i++) out.push(i);
  else for (let i = from; i > to; i--) out.push(i);
  return out;
}
