import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, lchown, lstat, mkdir, readdir, readFile, readlink, rm, symlink, utimes, lutimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidParameterError } from '../common/errors.js';
import { resolveInRoot } from './context/build-context.js';

export interface Owner { uid: number; gid: number }

export interface CopyOptions {
  /** Owner of everything copied; files keep their own owner when absent (COPY --from keeps none: root). */
  owner: Owner;
  /** `--chmod`: mode for files and directories copied. */
  mode?: number;
}

async function lstatOrUndefined(p: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try { return await lstat(p); } catch { return undefined; }
}

/** Creates missing directories of `rel` under `root` (root-owned, 0755), replacing non-directories. */
async function ensureDir(root: string, rel: string, owner?: Owner, mode?: number): Promise<string> {
  const { path } = await resolveInRoot(root, rel, { followLast: true });
  const st = await lstatOrUndefined(path);
  if (st?.isDirectory()) return path;
  if (st) await rm(path, { force: true });
  await mkdir(path, { recursive: true, mode: 0o755 });
  if (owner) await lchown(path, owner.uid, owner.gid);
  if (mode !== undefined) await chmod(path, mode);
  return path;
}

/** Copies one file, directory (recursively) or symlink from `src` to the host path `dst`. */
async function copyEntry(src: string, dst: string, opts: CopyOptions): Promise<void> {
  const st = await lstat(src);
  const existing = await lstatOrUndefined(dst);
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) await rm(dst, { force: true });
    if (!existing || !existing.isDirectory()) await mkdir(dst, { mode: st.mode & 0o7777 });
    await chmod(dst, opts.mode ?? st.mode & 0o7777);
    await lchown(dst, opts.owner.uid, opts.owner.gid);
    for (const name of await readdir(src)) await copyEntry(join(src, name), join(dst, name), opts);
    await utimes(dst, st.atime, st.mtime);
    return;
  }
  if (existing) {
    if (existing.isDirectory()) {
      if (!st.isDirectory()) throw new InvalidParameterError(`cannot overwrite directory "${dst}" with non-directory`);
    } else await rm(dst, { force: true });
  }
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dst);
    await lchown(dst, opts.owner.uid, opts.owner.gid);
    await lutimes(dst, st.atime, st.mtime);
    return;
  }
  if (!st.isFile()) return; // devices, fifos and sockets are not copied
  await copyFile(src, dst);
  await chmod(dst, opts.mode ?? st.mode & 0o7777);
  await lchown(dst, opts.owner.uid, opts.owner.gid);
  await utimes(dst, st.atime, st.mtime);
}

/**
 * Docker's COPY semantics for one resolved source into the rootfs at `root`: a directory's
 * contents go into the destination directory; a file goes into the destination when it is a
 * directory (ends with `/` or exists as one), else becomes the destination path.
 */
export async function copyInto(src: string, root: string, dest: string, opts: CopyOptions): Promise<void> {
  const st = await lstat(src);
  const destIsDirSyntax = dest.endsWith('/') || dest.endsWith('/.') || dest === '.';
  if (st.isDirectory()) {
    const dir = await ensureDir(root, dest, opts.owner, undefined);
    for (const name of await readdir(src)) await copyEntry(join(src, name), join(dir, name), opts);
    return;
  }
  const { path: resolved } = await resolveInRoot(root, dest, { followLast: true });
  const existing = await lstatOrUndefined(resolved);
  if (destIsDirSyntax || existing?.isDirectory()) {
    const dir = await ensureDir(root, dest, opts.owner, undefined);
    await copyEntry(src, join(dir, posix.basename(src)), opts);
    return;
  }
  await ensureDir(root, posix.dirname(posix.normalize(`/${dest}`)));
  await copyEntry(src, resolved, opts);
}

/** Writes a file with the given content (heredocs, downloads) following the same rules. */
export async function writeInto(name: string, content: Buffer, root: string, dest: string, opts: CopyOptions & { fileMode: number; mtime?: Date }): Promise<void> {
  const destIsDirSyntax = dest.endsWith('/') || dest.endsWith('/.') || dest === '.';
  const { path: resolved } = await resolveInRoot(root, dest, { followLast: true });
  const existing = await lstatOrUndefined(resolved);
  let target = resolved;
  if (destIsDirSyntax || existing?.isDirectory()) {
    const dir = await ensureDir(root, dest, opts.owner);
    target = join(dir, name);
  } else {
    await ensureDir(root, posix.dirname(posix.normalize(`/${dest}`)));
  }
  const ex = await lstatOrUndefined(target);
  if (ex && !ex.isDirectory()) await rm(target, { force: true });
  await writeFile(target, content);
  await chmod(target, opts.mode ?? opts.fileMode);
  await lchown(target, opts.owner.uid, opts.owner.gid);
  if (opts.mtime) await utimes(target, opts.mtime, opts.mtime);
}

/** A checksum of a source tree for the build cache: paths, types, modes, link targets, contents. */
export async function checksumTree(path: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (p: string, rel: string): Promise<void> => {
    const st = await lstat(p);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(`L${await readlink(p)}\0`);
    else if (st.isFile()) {
      await new Promise<void>((resolve, reject) => {
        createReadStream(p).on('data', (c) => h.update(c)).on('end', resolve).on('error', reject);
      });
      h.update('\0');
    } else if (st.isDirectory()) {
      for (const name of (await readdir(p)).sort()) await walk(join(p, name), `${rel}/${name}`);
    }
  };
  await walk(path, '');
  return h.digest('hex');
}

/** `--chown=user:group` with names looked up in the rootfs' /etc/passwd and /etc/group. */
export async function resolveOwner(spec: string, root: string | undefined): Promise<Owner> {
  const [user, group] = spec.includes(':') ? [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)] : [spec, spec];
  const lookup = async (name: string, file: string, kind: string): Promise<number> => {
    if (/^\d+$/.test(name)) return Number(name);
    let text = '';
    if (root) {
      try { text = await readFile((await resolveInRoot(root, file, { followLast: true })).path, 'utf8'); } catch { /* none */ }
    }
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined) return Number(f[2]);
    }
    throw new InvalidParameterError(`unable to find ${kind} ${name}: no matching entries in ${kind === 'user' ? 'passwd' : 'group'} file`);
  };
  return { uid: await lookup(user!, '/etc/passwd', 'user'), gid: await lookup(group!, '/etc/group', 'group') };
}

/** `--chmod` in octal. */
export function parseChmod(spec: string): number {
  if (!/^[0-7]{1,4}$/.test(spec)) throw new InvalidParameterError(`invalid chmod parameter: ${spec}. it should be octal string and between 0 and 07777`);
  return parseInt(spec, 8);
}
