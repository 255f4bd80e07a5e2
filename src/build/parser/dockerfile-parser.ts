/**
 * Dockerfile syntax as Docker reads it: parser directives, comments, line continuations with the
 * escape character, empty continuation lines, heredocs, instruction flags. Produces one node per
 * instruction; ./instructions.ts gives each node its typed meaning.
 */

export interface Heredoc {
  name: string;
  content: string;
  /** Unquoted delimiters have their content expanded; quoted ones keep it literally. */
  expand: boolean;
  chomp: boolean;
}

export interface DockerfileNode {
  /** Lower-case instruction keyword. */
  keyword: string;
  /** The keyword as written. */
  written: string;
  /** Flags before the arguments (`--from=x`), in order, as [name, value|null]. */
  flags: Array<[string, string | null]>;
  /** The text after the keyword and flags (continuations joined). */
  rest: string;
  /** The whole logical line as written (continuations joined). */
  original: string;
  startLine: number;
  endLine: number;
  heredocs: Heredoc[];
}

export interface ParsedDockerfile {
  nodes: DockerfileNode[];
  escape: string;
  directives: Record<string, string>;
  warnings: string[];
}

/** A syntax error naming the file and line, in Docker's words. */
export class DockerfileSyntaxError extends Error {
  constructor(readonly file: string, readonly line: number, readonly detail: string) {
    super(`${file}:${line}: ${detail}`);
  }
}

const DIRECTIVE_RE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

function isComment(line: string): boolean {
  return /^[ \t]*#/.test(line);
}

function isBlank(line: string): boolean {
  return /^[ \t\r]*$/.test(line);
}

export function parseDockerfile(text: string, file = 'Dockerfile'): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const directives: Record<string, string> = {};
  const warnings: string[] = [];
  let i = 0;
  // Parser directives: only at the very top, until the first non-directive line.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (key in directives) throw new DockerfileSyntaxError(file, i + 1, `only one ${key} parser directive can be used`);
    directives[key] = m[2]!;
  }
  let escape = '\\';
  if (directives['escape'] !== undefined) {
    const e = directives['escape'];
    if (e !== '\\' && e !== '`') throw new DockerfileSyntaxError(file, 1, `invalid escape token '${e}' does not match ^[\\\\\`]$`);
    escape = e;
  }
  if (directives['syntax'] !== undefined) {
    warnings.push(`the syntax directive (${directives['syntax']}) is ignored: this builder uses its own Dockerfile frontend`);
  }
  const contRe = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const nodes: DockerfileNode[] = [];
  while (i < lines.length) {
    const first = lines[i]!;
    const startLine = i + 1;
    i++;
    if (isComment(first) || isBlank(first)) continue;
    let line = first.replace(/^[ \t]+/, '');
    let endLine = startLine;
    let continued = contRe.test(line);
    if (continued) line = line.replace(contRe, '');
    let emptyContinuation = false;
    while (continued && i < lines.length) {
      const next = lines[i]!;
      i++;
      endLine = i;
      if (isComment(next)) continue;
      if (isBlank(next)) { emptyContinuation = true; continue; }
      continued = contRe.test(next);
      line += continued ? next.replace(contRe, '') : next;
    }
    if (emptyContinuation) warnings.push(`${file}:${endLine}: empty continuation line found in: ${line.trim()}`);
    if (line.trim() === '') continue;
    const node = nodeFromLine(line, file, startLine, endLine);
    if (HEREDOC_INSTRUCTIONS.has(node.keyword)) {
      for (const hd of heredocMarkers(node.rest)) {
        let content = '';
        let found = false;
        while (i < lines.length) {
          let l = lines[i]!;
          i++;
          node.endLine = i;
          if (hd.chomp) l = l.replace(/^\t+/, '');
          if (l === hd.name) { found = true; break; }
          content += `${l}\n`;
        }
        if (!found) throw new DockerfileSyntaxError(file, startLine, `unterminated heredoc ${hd.name}`);
        node.heredocs.push({ ...hd, content });
      }
    }
    nodes.push(node);
  }
  return { nodes, escape, directives, warnings };
}

function nodeFromLine(line: string, file: string, startLine: number, endLine: number): DockerfileNode {
  const trimmed = line.trim();
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(trimmed)!;
  const written = m[1]!;
  const { flags, rest } = extractFlags(m[2] ?? '', file, startLine);
  return { keyword: written.toLowerCase(), written, flags, rest, original: trimmed, startLine, endLine, heredocs: [] };
}

/** Leading `--name[=value]` words; quotes around a value are removed. */
export function extractFlags(args: string, file: string, line: number): { flags: Array<[string, string | null]>; rest: string } {
  const flags: Array<[string, string | null]> = [];
  let s = args;
  for (;;) {
    s = s.replace(/^\s+/, '');
    if (!s.startsWith('--')) break;
    let j = 2;
    let word = '';
    let quote = '';
    while (j < s.length) {
      const c = s[j]!;
      if (quote) {
        if (c === quote) quote = '';
        else word += c;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (/\s/.test(c)) {
        break;
      } else {
        word += c;
      }
      j++;
    }
    if (quote) throw new DockerfileSyntaxError(file, line, `unterminated quote in flag --${word}`);
    s = s.slice(j);
    if (word === '') break;
    const eq = word.indexOf('=');
    flags.push(eq < 0 ? [word, null] : [word.slice(0, eq), word.slice(eq + 1)]);
  }
  return { flags, rest: s.replace(/^\s+/, '') };
}

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` words of a line, in order. */
export function heredocMarkers(rest: string): Array<Omit<Heredoc, 'content'>> {
  const out: Array<Omit<Heredoc, 'content'>> = [];
  const re = /(^|\s)<<(-?)(["']?)([A-Za-z0-9_.-]+)\3/g;
  // Heredoc markers inside a JSON (exec) form are plain text.
  if (rest.trimStart().startsWith('[')) {
    try { JSON.parse(rest); return out; } catch { /* shell form */ }
  }
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    out.push({ name: m[4]!, chomp: m[2] === '-', expand: m[3] === '' });
  }
  return out;
}

/**
 * Splits on whitespace outside quotes, keeping quotes and escapes in the words (they are
 * removed later by word processing), as Docker does for ENV and LABEL.
 */
export function splitWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  for (let p = 0; p < rest.length; p++) {
    let ch = rest[p]!;
    if (!inWord && !quote) {
      if (/\s/.test(ch)) continue;
      inWord = true;
    }
    if (quote) {
      if (ch === quote) quote = '';
      else if (ch === escape && quote !== "'") {
        if (p + 1 === rest.length) continue;
        word += ch;
        ch = rest[++p]!;
      }
      word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (blankOk || word.length) words.push(word);
      word = '';
      blankOk = false;
      inWord = false;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      blankOk = true;
    }
    if (ch === escape) {
      if (p + 1 === rest.length) continue;
      word += ch;
      ch = rest[++p]!;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length)) words.push(word);
  return words;
}

/** JSON array of strings, or undefined when the text is not one (then it is the shell form). */
export function parseJsonArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}
