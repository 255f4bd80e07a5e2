import { lstat, readdir, readFile, readlink, rm, mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidParameterError, NotFoundError, errnoCode } from '../../common/errors.js';
import { PatternMatcher, readIgnoreFile } from '../../common/pattern-matcher.js';
import { applyTar } from '../../layer/index.js';

const MAX_HOPS = 40;

/** Reads the first bytes of a stream and puts them back, so the stream still yields them. */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let len = 0;
  let ended = false;
  input.once('end', () => { ended = true; });
  while (len < n && !ended) {
    const c = input.read() as Buffer | null;
    if (c !== null) {
      chunks.push(c);
      len += c.length;
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const done = (): void => { input.off('readable', done); input.off('end', done); input.off('error', fail); resolve(); };
      const fail = (err: Error): void => { input.off('readable', done); input.off('end', done); reject(err); };
      input.on('readable', done);
      input.on('end', done);
      input.once('error', fail);
    });
    if (input.readableEnded) ended = true;
  }
  const head = Buffer.concat(chunks);
  if (head.length) input.unshift(head);
  return { head, stream: input };
}

/** Matches one path component with Go's filepath.Match rules. */
export function matchComponent(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new InvalidParameterError(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');
    } else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(name);
}

export function hasWildcards(p: string): boolean {
  return /[*?[]/.test(p);
}

/**
 * Resolves `rel` inside `root` following symlinks without ever leaving `root`: absolute links
 * restart from `root`. Returns the host path and whether a link pointed outside (clamped).
 */
export async function resolveInRoot(root: string, rel: string, opts: { followLast: boolean }): Promise<{ path: string; escaped: boolean }> {
  const parts = posix.normalize(`/${rel}`).split('/').filter((p) => p !== '');
  const done: string[] = [];
  let hops = 0;
  let escaped = false;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      if (done.length === 0) escaped = true;
      done.pop();
      continue;
    }
    const candidate = join(root, ...done, part);
    let st;
    try {
      st = await lstat(candidate);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
        return { path: join(root, ...done, part, ...parts), escaped };
      }
      throw err;
    }
    if (st.isSymbolicLink() && (parts.length > 0 || opts.followLast)) {
      if (++hops > MAX_HOPS) throw new InvalidParameterError(`too many levels of symbolic links: ${rel}`);
      const target = await readlink(candidate);
      const tparts = target.split('/').filter((p) => p !== '');
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...tparts);
      continue;
    }
    done.push(part);
  }
  return { path: join(root, ...done), escaped };
}

/** A build context unpacked on disk, with Docker's ignore rules applied. */
export class BuildContext {
  private constructor(readonly root: string) {}

  /** Unpacks a context tar (plain or gzip) into `dir`. */
  static async fromTar(input: Readable, dir: string): Promise<BuildContext> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { head, stream } = await peek(input, 2);
    const plain = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b ? stream.pipe(createGunzip()) : stream;
    if (head.length > 0) await applyTar(plain, dir, { whiteouts: 'vfs' });
    return new BuildContext(dir);
  }

  static at(dir: string): BuildContext {
    return new BuildContext(dir);
  }

  /** The Dockerfile's text; `name` is relative to the context root. */
  async readDockerfile(name: string): Promise<string> {
    if (name === 'Dockerfile') {
      // Like the classic builder, a lower-case `dockerfile` serves when `Dockerfile` is absent.
      try {
        return await this.readDockerfileAt('Dockerfile');
      } catch (err) {
        try { return await this.readDockerfileAt('dockerfile'); } catch { throw err; }
      }
    }
    return this.readDockerfileAt(name);
  }

  private async readDockerfileAt(name: string): Promise<string> {
    const rel = posix.normalize(name);
    const { path, escaped } = await resolveInRoot(this.root, rel, { followLast: true });
    if (escaped) throw new InvalidParameterError(`Cannot locate specified Dockerfile: ${name}`);
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EISDIR') throw new InvalidParameterError(`Cannot locate specified Dockerfile: ${name}`);
      throw err;
    }
  }

  /**
   * Removes what `<dockerfile>.dockerignore` (or else `.dockerignore`) excludes, as a client that
   * did not filter would have sent it. Returns the patterns used.
   */
  async applyIgnore(dockerfile: string): Promise<string[]> {
    let text: string | undefined;
    for (const name of [`${posix.normalize(dockerfile)}.dockerignore`, '.dockerignore']) {
      try {
        text = await readFile(join(this.root, name), 'utf8');
        break;
      } catch { /* next */ }
    }
    if (text === undefined) return [];
    const lines = readIgnoreFile(text);
    const pm = new PatternMatcher(lines);
    const walk = async (rel: string): Promise<boolean> => {
      // Returns true when something under rel was kept.
      const entries = await readdir(join(this.root, rel), { withFileTypes: true });
      let kept = false;
      for (const e of entries) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        const excluded = pm.matches(r);
        if (e.isDirectory()) {
          if (excluded && !pm.exclusions) { await rm(join(this.root, r), { recursive: true, force: true }); continue; }
          const inner = await walk(r);
          if (excluded && !inner) { await rm(join(this.root, r), { recursive: true, force: true }); continue; }
          kept = true;
        } else if (excluded) {
          await rm(join(this.root, r), { force: true });
        } else kept = true;
      }
      return kept;
    };
    await walk('');
    return lines;
  }

  /**
   * Expands one COPY/ADD source to context-relative paths. Sources outside the context, or that
   * lead outside it through symlinks, are refused; a missing source is Docker's error.
   */
  async sources(src: string): Promise<string[]> {
    const cleaned = posix.normalize(src);
    if (cleaned === '..' || cleaned.startsWith('../')) {
      throw new InvalidParameterError(`forbidden path outside the build context: ${src} ()`);
    }
    const rel = posix.normalize(`/${cleaned}`).slice(1);
    if (!hasWildcards(rel)) {
      const { path, escaped } = await resolveInRoot(this.root, rel, { followLast: true });
      if (escaped) throw new InvalidParameterError(`forbidden path outside the build context: ${src} ()`);
      try {
        await lstat(path);
      } catch {
        throw new NotFoundError(`file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
      }
      return [rel];
    }
    const found = await globIn(this.root, rel);
    if (found.length === 0) throw new NotFoundError('no source files were specified');
    return found;
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** Paths under `root` matching a slash-separated glob, component by component, sorted. */
export async function globIn(root: string, pattern: string): Promise<string[]> {
  const comps = pattern.split('/').filter((c) => c !== '' && c !== '.');
  let cur = [''];
  for (const comp of comps) {
    const next: string[] = [];
    for (const base of cur) {
      if (!hasWildcards(comp)) {
        const p = base ? `${base}/${comp}` : comp;
        try { await lstat(join(root, p)); next.push(p); } catch { /* none */ }
        continue;
      }
      let names: string[] = [];
      try { names = await readdir(join(root, base)); } catch { /* not a dir */ }
      for (const n of names.sort()) if (matchComponent(comp, n)) next.push(base ? `${base}/${n}` : n);
    }
    cur = next;
  }
  return cur.filter((p) => p !== '');
}
