import { posix } from 'node:path';

/** One `.dockerignore` line, compiled. */
export interface IgnorePattern {
  text: string;
  exclusion: boolean;
  re: RegExp;
  dirs: string[];
}

/** Reads `.dockerignore` text as Docker does: comments, blank lines, `!` exceptions, cleaned paths. */
export function readIgnoreFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.replace(/\r$/, '');
    if (line.startsWith('#')) continue;
    line = line.trim();
    if (line === '') continue;
    let invert = false;
    if (line.startsWith('!')) {
      invert = true;
      line = line.slice(1).trim();
    }
    if (line.length > 0) {
      line = posix.normalize(line);
      if (line !== '/' && line.endsWith('/')) line = line.slice(0, -1);
      if (line.length > 1 && line.startsWith('/')) line = line.slice(1);
    }
    out.push(invert ? `!${line}` : line);
  }
  return out;
}

function compile(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (ch === '\\') {
      i++;
      if (i < pattern.length) re += pattern[i]!.replace(/[.+^${}()|[\]\\*?/]/g, '\\$&');
    } else {
      re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`${re}$`);
}

/** Docker's pattern matcher: the last matching pattern decides; a match on a parent counts. */
export class PatternMatcher {
  readonly patterns: IgnorePattern[];

  constructor(lines: string[]) {
    this.patterns = [];
    for (let text of lines) {
      text = text.trim();
      if (text === '') continue;
      const exclusion = text.startsWith('!');
      if (exclusion) {
        text = text.slice(1);
        if (text === '') throw new Error('illegal exclusion pattern: "!"');
      }
      text = posix.normalize(text);
      this.patterns.push({ text, exclusion, re: compile(text), dirs: text.split('/') });
    }
  }

  get exclusions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** True when `file` (slash-separated, relative to the context root) is excluded. */
  matches(file: string): boolean {
    const f = posix.normalize(file);
    const parents = posix.dirname(f) === '.' ? [] : posix.dirname(f).split('/');
    let matched = false;
    for (const p of this.patterns) {
      // Only a pattern that would change the outcome needs to be tried.
      if (p.exclusion !== matched) continue;
      let hit = p.re.test(f);
      if (!hit) {
        for (let i = 0; i < parents.length && !hit; i++) hit = p.re.test(parents.slice(0, i + 1).join('/'));
      }
      if (hit) matched = !p.exclusion;
    }
    return matched;
  }
}
