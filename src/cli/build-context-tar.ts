import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { PatternMatcher, readIgnoreFile } from '../common/pattern-matcher.js';

/** Where the Dockerfile sits relative to the context, or its text when it lies outside. */
export interface ContextPlan {
  /** The `dockerfile` query value. */
  dockerfileName: string;
  /** Set when the Dockerfile is added to the tar under a generated name. */
  extraDockerfile?: { name: string; content: Buffer };
}

/** Resolves `-f` the docker CLI's way: relative to the context directory, else to the working directory. */
export async function planDockerfile(contextDir: string, file: string | undefined): Promise<{ abs: string; plan: ContextPlan }> {
  const ctx = resolve(contextDir);
  let abs = file ? (isAbsolute(file) ? file : join(ctx, file)) : join(ctx, 'Dockerfile');
  if (file && !isAbsolute(file)) {
    const fromCwd = resolve(file);
    const inCtx = await lstat(abs).then(() => true, () => false);
    if (!inCtx && (await lstat(fromCwd).then(() => true, () => false))) abs = fromCwd;
  }
  try {
    await lstat(abs);
  } catch {
    throw new Error(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${abs}: no such file or directory`);
  }
  const rel = relative(ctx, abs);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    const name = `.dockerfile.${randomBytes(10).toString('hex')}`;
    return { abs, plan: { dockerfileName: name, extraDockerfile: { name, content: await readFile(abs) } } };
  }
  return { abs, plan: { dockerfileName: rel.split('\\').join('/') } };
}

/** Reads `<Dockerfile>.dockerignore` next to the Dockerfile, else `.dockerignore` in the context. */
export async function readIgnorePatterns(contextDir: string, dockerfileAbs: string): Promise<string[]> {
  for (const p of [`${dockerfileAbs}.dockerignore`, join(contextDir, '.dockerignore')]) {
    try {
      return readIgnoreFile(await readFile(p, 'utf8'));
    } catch { /* next */ }
  }
  return [];
}

/** Tars a context directory honouring the ignore patterns; the Dockerfile and .dockerignore always go. */
export function tarContext(contextDir: string, patterns: string[], plan: ContextPlan): Readable {
  const keep = new Set([plan.dockerfileName, '.dockerignore', `${plan.dockerfileName}.dockerignore`]);
  const pm = new PatternMatcher(patterns);
  const pack = tarStream.pack();
  const out = new PassThrough();
  pack.pipe(out);
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(contextDir, rel))).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(contextDir, r);
      const st = await lstat(abs);
      const excluded = pm.matches(r) && !keep.has(r);
      if (st.isDirectory()) {
        if (excluded && !pm.exclusions) continue;
        if (!excluded) pack.entry({ name: `${r}/`, type: 'directory', mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 });
        await walk(r);
        continue;
      }
      if (excluded) continue;
      if (st.isSymbolicLink()) {
        pack.entry({ name: r, type: 'symlink', linkname: await readlink(abs), mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 });
      } else if (st.isFile()) {
        await new Promise<void>((res, rej) => {
          const entry = pack.entry({ name: r, type: 'file', size: st.size, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 }, (err) => (err ? rej(err) : res()));
          createReadStream(abs).on('error', rej).pipe(entry);
        });
      }
    }
  };
  void (async () => {
    try {
      await walk('');
      if (plan.extraDockerfile) pack.entry({ name: plan.extraDockerfile.name, mode: 0o600, uid: 0, gid: 0 }, plan.extraDockerfile.content);
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
      out.destroy(err as Error);
    }
  })();
  return out;
}

/** `docker build - < Dockerfile`: a context of just the Dockerfile. */
export function tarDockerfileOnly(content: Buffer): Readable {
  const pack = tarStream.pack();
  const out = new PassThrough();
  pack.pipe(out);
  pack.entry({ name: 'Dockerfile', mode: 0o600, uid: 0, gid: 0 }, content);
  pack.finalize();
  return out;
}

export function looksLikeArchive(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return true;
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  return head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
}


