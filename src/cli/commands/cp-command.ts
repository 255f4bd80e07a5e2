import { createReadStream, createWriteStream } from 'node:fs';
import { lchown, lstat, mkdir, readdir, readlink, rm, stat, symlink, chmod, utimes } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve as resolvePath } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream, { type Header } from 'tar-stream';
import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import type { EngineClient } from '../../client/engine-client.js';

const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const isGoDir = (mode: number): boolean => Math.floor(mode / GO_DIR) % 2 === 1;
const isGoSymlink = (mode: number): boolean => Math.floor(mode / GO_SYMLINK) % 2 === 1;

/** `CONTAINER:PATH` or a local path (a leading `/` or `.` keeps a colon local, as docker does). */
function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

/** A tar of a local file or tree (top entry named `name`); symlinks stay links except a followed top. */
function packLocal(path: string, name: string, followTop: boolean): Readable {
  const pack = tarStream.pack();
  const add = async (p: string, entryName: string, follow: boolean): Promise<void> => {
    const st = follow ? await stat(p) : await lstat(p);
    const h: Partial<Header> & { name: string } = { name: entryName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isDirectory()) {
      await new Promise<void>((res, rej) => pack.entry({ ...h, type: 'directory' }, (e) => (e ? rej(e) : res())));
      for (const c of (await readdir(p)).sort()) await add(join(p, c), `${entryName}/${c}`, false);
    } else if (st.isSymbolicLink()) {
      const linkname = await readlink(p);
      await new Promise<void>((res, rej) => pack.entry({ ...h, type: 'symlink', linkname }, (e) => (e ? rej(e) : res())));
    } else if (st.isFile()) {
      await new Promise<void>((res, rej) => {
        const w = pack.entry({ ...h, type: 'file', size: st.size }, (e) => (e ? rej(e) : res()));
        pipeline(createReadStream(p), w).catch(rej);
      });
    }
  };
  add(path, name, followTop).then(() => pack.finalize(), (err: Error) => pack.destroy(err));
  const out = new PassThrough();
  pipeline(pack, out).catch((err: Error) => out.destroy(err));
  return out;
}

/** Extracts a tar from the daemon under dest, renaming its top element to `topName` when given. */
async function extractLocal(tar: Readable, dest: string, topName: string | undefined, keepOwners: boolean): Promise<void> {
  const ex = tarStream.extract();
  const dirTimes: Array<[string, Date]> = [];
  ex.on('entry', (h, stream, next) => {
    void (async () => {
      const parts = posix.normalize(h.name).split('/').filter((p) => p && p !== '.');
      if (parts.some((p) => p === '..')) throw new StatusError(`invalid archive entry ${JSON.stringify(h.name)}`, 1);
      if (topName !== undefined && parts.length) parts[0] = topName;
      const target = parts.length ? join(dest, ...parts) : dest;
      await mkdir(dirname(target), { recursive: true });
      const mode = (h.mode ?? 0o644) & 0o7777;
      if (h.type === 'directory') {
        await mkdir(target, { recursive: true });
        await chmod(target, mode);
        if (h.mtime) dirTimes.push([target, h.mtime]);
      } else if (h.type === 'symlink') {
        await rm(target, { force: true });
        await symlink(h.linkname ?? '', target);
      } else if (h.type === 'file' || h.type === undefined) {
        const st = await lstat(target).catch(() => undefined);
        if (st?.isSymbolicLink()) await rm(target);
        await pipeline(stream, createWriteStream(target, { mode }));
        await chmod(target, mode);
        if (h.mtime) await utimes(target, h.mtime, h.mtime);
      }
      if (keepOwners) await lchown(target, h.uid ?? 0, h.gid ?? 0).catch(() => undefined);
      stream.resume();
    })().then(() => next(), (err: Error) => next(err));
  });
  await pipeline(tar, ex);
  for (const [p, t] of dirTimes.reverse()) await utimes(p, t, t).catch(() => undefined);
}

async function copyFromContainer(client: EngineClient, ctx: { stdout: NodeJS.WritableStream }, container: string, srcPath: string, dst: string, opts: { archive: boolean; followLink: boolean }): Promise<void> {
  let path = srcPath;
  if (opts.followLink) {
    const st = await client.statContainerPath(container, path);
    if (st && isGoSymlink(st.mode) && st.linkTarget) path = st.linkTarget;
  }
  const { stat: st, tar } = await client.getArchive(container, path);
  if (dst === '-') {
    await pipeline(tar, ctx.stdout);
    return;
  }
  const srcIsDir = st ? isGoDir(st.mode) : false;
  const local = await stat(dst).catch(() => undefined);
  const contentsOnly = /\/\.$/.test(srcPath);
  if (local?.isDirectory()) {
    // Into an existing directory: under the source's own name (or its contents for "dir/.").
    await extractLocal(tar, dst, undefined, opts.archive);
    return;
  }
  if (local && srcIsDir) throw new StatusError(`cannot copy a directory to a file: ${dst}`, 1);
  if (!local && /\/$/.test(dst) && !srcIsDir) throw new StatusError(`destination directory ${dst} does not exist`, 1);
  const parent = dirname(resolvePath(dst));
  const pst = await stat(parent).catch(() => undefined);
  if (!pst?.isDirectory()) throw new StatusError(`destination directory ${dirname(dst)} does not exist`, 1);
  if (contentsOnly) {
    await mkdir(dst, { recursive: true });
    await extractLocal(tar, dst, undefined, opts.archive);
    return;
  }
  await extractLocal(tar, parent, basename(resolvePath(dst)), opts.archive);
}

async function copyToContainer(client: EngineClient, ctx: { stdin: NodeJS.ReadableStream }, src: string, container: string, dstPath: string, opts: { archive: boolean; followLink: boolean }): Promise<void> {
  if (src === '-') {
    await client.putArchive(container, dstPath, ctx.stdin as Readable, { copyUIDGID: opts.archive });
    return;
  }
  const local = await (opts.followLink ? stat(src) : lstat(src)).catch(() => undefined);
  if (!local) throw new StatusError(`stat ${src}: no such file or directory`, 1);
  const remote = await client.statContainerPath(container, dstPath);
  const contentsOnly = /\/\.$/.test(src) && local.isDirectory();
  if (remote && isGoDir(remote.mode)) {
    if (contentsOnly) {
      await client.putArchive(container, dstPath, packContents(src), { copyUIDGID: opts.archive });
      return;
    }
    await client.putArchive(container, dstPath, packLocal(src, basename(resolvePath(src)), opts.followLink), { copyUIDGID: opts.archive });
    return;
  }
  if (remote && local.isDirectory()) throw new StatusError(`cannot copy directory to a file: ${dstPath}`, 1);
  if (!remote && dstPath.endsWith('/') && !local.isDirectory()) throw new StatusError(`destination directory ${dstPath} does not exist`, 1);
  const clean = posix.normalize(dstPath.startsWith('/') ? dstPath : '/' + dstPath).replace(/\/$/, '');
  await client.putArchive(container, posix.dirname(clean), packLocal(src, posix.basename(clean), opts.followLink), { copyUIDGID: opts.archive });
}

/** The entries of a local directory at the top level of a tar (`cp dir/. c:/dst`). */
function packContents(dir: string): Readable {
  return packLocal(dir, '.', true);
}

export const cpCommand: CommandSpec = {
  name: 'cp',
  usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  args: { exact: 2 },
  flags: [
    { name: 'archive', short: 'a', type: 'bool', description: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', description: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress progress output during copy' },
  ],
  async run(ctx, flags) {
    const [a, b] = flags.args as [string, string];
    const src = splitCpArg(a), dst = splitCpArg(b);
    if (src.container !== undefined && dst.container !== undefined) throw new StatusError('copying between containers is not supported', 1);
    if (src.container === undefined && dst.container === undefined) throw new StatusError('must specify at least one container source', 1);
    const opts = { archive: flags.bool('archive'), followLink: flags.bool('follow-link') };
    const client = await ctx.client();
    if (src.container !== undefined) {
      if (!src.path) throw new StatusError('source path must not be empty', 1);
      await copyFromContainer(client, ctx, src.container, src.path, dst.path, opts);
    } else {
      if (!dst.path) throw new StatusError('destination path must not be empty', 1);
      await copyToContainer(client, ctx, src.path, dst.container!, dst.path, opts);
    }
    return 0;
  },
};
