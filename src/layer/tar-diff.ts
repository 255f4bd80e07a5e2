import { lstat, readdir, readlink, open } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { containerOwnerOf, errnoCode, type IdMapping } from '../common/index.js';
import { lgetxattr, llistxattr } from '../sys/index.js';
import { encodeTarHeader, tarPadding, TAR_END_OF_ARCHIVE, type TarHeader } from './tar-header.js';

/**
 * What `dir` holds:
 * - 'overlay-upper': an overlay upper dir; 0/0 char devices are whiteouts, `trusted.overlay.opaque=y`
 *   marks opaque dirs. Everything in it is a change.
 * - 'tree': a plain tree; everything in it is a change (a base layer).
 * - 'changes': a full tree compared with `parent` (null: no parent, same as 'tree'); files that
 *   differ by type, size, mtime, mode or owner are changes, files missing from dir are whiteouts.
 */
export type TarDiffSource =
  | { kind: 'overlay-upper' }
  | { kind: 'tree' }
  /** `idMap`: `dir` is a copy of `parent` with its owners shifted into that user namespace. */
  | { kind: 'changes'; parent: string | null; idMap?: IdMapping };

const S_IFMT = 0o170000n;
const S_IFCHR = 0o020000n;
const S_IFBLK = 0o060000n;
const S_IFIFO = 0o010000n;
const S_IFSOCK = 0o140000n;
const READ_CHUNK = 1 << 20;

/** One entry to write, in archive order. */
type Change =
  | { kind: 'entry'; rel: string; abs: string; st: BigIntStats }
  | { kind: 'whiteout'; rel: string; st: BigIntStats | null }
  | { kind: 'opaque'; rel: string; st: BigIntStats };

function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function sortedNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort(byName);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

async function lstatOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function fileType(st: BigIntStats): bigint {
  return st.mode & S_IFMT;
}

function isWhiteoutDevice(st: BigIntStats): boolean {
  return fileType(st) === S_IFCHR && st.rdev === 0n;
}

function isOpaque(abs: string): boolean {
  return lgetxattr(abs, 'trusted.overlay.opaque')?.toString() === 'y';
}

/** Walks an overlay upper dir or a plain tree: every entry is a change. */
async function* walkTree(dir: string, rel: string, overlay: boolean): AsyncGenerator<Change> {
  for (const name of await sortedNames(join(dir, rel))) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const abs = join(dir, childRel);
    const st = await lstatOrUndefined(abs);
    if (!st) continue; // removed while walking
    if (overlay && isWhiteoutDevice(st)) {
      yield { kind: 'whiteout', rel: childRel, st };
      continue;
    }
    yield { kind: 'entry', rel: childRel, abs, st };
    if (st.isDirectory()) {
      if (overlay && isOpaque(abs)) yield { kind: 'opaque', rel: childRel, st };
      yield* walkTree(dir, childRel, overlay);
    }
  }
}

/** Whether `a` (in the tree compared, whose owners `idMap` shifted) has `b`'s metadata. */
function sameMetadata(a: BigIntStats, b: BigIntStats, idMap?: IdMapping): boolean {
  const owner = idMap ? containerOwnerOf(idMap, Number(a.uid), Number(a.gid)) : { uid: Number(a.uid), gid: Number(a.gid) };
  return a.mode === b.mode && owner.uid === Number(b.uid) && owner.gid === Number(b.gid) && a.mtimeNs === b.mtimeNs;
}

async function entryChanged(newAbs: string, a: BigIntStats, oldAbs: string, b: BigIntStats, idMap?: IdMapping): Promise<boolean> {
  if (fileType(a) !== fileType(b) || !sameMetadata(a, b, idMap)) return true;
  if (a.isFile()) return a.size !== b.size;
  if (a.isSymbolicLink()) return (await readlink(newAbs)) !== (await readlink(oldAbs));
  if (a.isCharacterDevice() || a.isBlockDevice()) return a.rdev !== b.rdev;
  return false;
}

/** Compares dir with parent under rel; returns the changes in archive order. */
async function compareTrees(dir: string, parent: string, rel: string, idMap?: IdMapping): Promise<Change[]> {
  const out: Change[] = [];
  const names = [...new Set([...(await sortedNames(join(dir, rel))), ...(await sortedNames(join(parent, rel)))])].sort(byName);
  for (const name of names) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const abs = join(dir, childRel);
    const oldAbs = join(parent, childRel);
    const st = await lstatOrUndefined(abs);
    const old = await lstatOrUndefined(oldAbs);
    if (!st && !old) continue;
    if (!st) {
      out.push({ kind: 'whiteout', rel: childRel, st: null });
      continue;
    }
    if (!old || (st.isDirectory() && !old.isDirectory())) {
      out.push({ kind: 'entry', rel: childRel, abs, st });
      if (st.isDirectory()) for await (const c of walkTree(dir, childRel, false)) out.push(c);
      continue;
    }
    if (st.isDirectory()) {
      const inner = await compareTrees(dir, parent, childRel, idMap);
      if (inner.length > 0 || !sameMetadata(st, old, idMap)) out.push({ kind: 'entry', rel: childRel, abs, st }, ...inner);
      continue;
    }
    if (await entryChanged(abs, st, oldAbs, old, idMap)) out.push({ kind: 'entry', rel: childRel, abs, st });
  }
  return out;
}

function devNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { devmajor: Number(major), devminor: Number(minor) };
}

function readXattrs(abs: string): Map<string, Buffer> | undefined {
  const names = llistxattr(abs).filter((n) => !n.startsWith('trusted.overlay.'));
  if (names.length === 0) return undefined;
  const out = new Map<string, Buffer>();
  for (const name of names) {
    const value = lgetxattr(abs, name);
    if (value !== undefined) out.set(name, Buffer.from(value));
  }
  return out.size > 0 ? out : undefined;
}

function hostHeader(rel: string, st: BigIntStats): Omit<TarHeader, 'type'> {
  return {
    name: rel,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: 0,
    mtime: Number(st.mtimeNs / 1_000_000_000n),
  };
}

function whiteoutName(rel: string, base: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? base : `${rel.slice(0, slash)}/${base}`;
}

async function* fileContent(abs: string, size: number): AsyncGenerator<Buffer> {
  const fh = await open(abs, 'r');
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.alloc(Math.min(READ_CHUNK, left));
      const { bytesRead } = await fh.read(buf, 0, buf.length, size - left);
      if (bytesRead === 0) {
        // The file shrank while being read: keep the header's promise with zeros.
        yield Buffer.alloc(left);
        return;
      }
      left -= bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

export interface TarDiffOptions {
  /**
   * Paths (relative, no leading slash) left out of the changes: files the engine itself mounts
   * over (`etc/hosts`). A directory that holds nothing but left-out paths is left out too.
   */
  exclude?: ReadonlySet<string>;
  /** The layer belongs to a user namespace: owners are written as the namespace sees them. */
  idMap?: IdMapping;
}

function isUnder(rel: string, dir: string): boolean {
  return rel.startsWith(`${dir}/`);
}

/** Drops excluded paths, and their parent directories when those changed only for them. */
async function* withoutExcluded(input: AsyncGenerator<Change>, exclude: ReadonlySet<string>): AsyncGenerator<Change> {
  const holdable = new Set<string>();
  for (const p of exclude) {
    for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) holdable.add(p.slice(0, i));
  }
  const held: Change[] = [];
  for await (const c of input) {
    while (held.length > 0 && !isUnder(c.rel, held[held.length - 1]!.rel) && !(c.kind === 'opaque' && c.rel === held[held.length - 1]!.rel)) held.pop();
    if (exclude.has(c.rel)) continue;
    if (c.kind === 'entry' && c.st.isDirectory() && holdable.has(c.rel)) {
      held.push(c);
      continue;
    }
    if (held.length > 0) yield* held.splice(0);
    yield c;
  }
}

async function* changes(dir: string, source: TarDiffSource, opts: TarDiffOptions = {}): AsyncGenerator<Change> {
  let all: AsyncGenerator<Change>;
  if (source.kind === 'changes' && source.parent !== null) {
    const list = await compareTrees(dir, source.parent, '', source.idMap);
    all = (async function* () { yield* list; })();
  } else {
    all = walkTree(dir, '', source.kind === 'overlay-upper');
  }
  if (opts.exclude && opts.exclude.size > 0) yield* withoutExcluded(all, opts.exclude);
  else yield* all;
}

/** Docker's change kinds: 0 modified, 1 added, 2 deleted. */
export interface FileChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

async function existsBelow(lowers: readonly string[], rel: string): Promise<boolean> {
  for (const lower of lowers) {
    const st = await lstatOrUndefined(join(lower, rel));
    if (!st) continue;
    return !isWhiteoutDevice(st);
  }
  return false;
}

/**
 * The changes held in `dir` as Docker's change list. `lowers` are the trees below it, nearest
 * first, to tell a modification from an addition.
 */
export async function listChanges(
  dir: string, source: TarDiffSource, lowers: readonly string[], opts: TarDiffOptions = {},
): Promise<FileChange[]> {
  const out: FileChange[] = [];
  for await (const c of changes(dir, source, opts)) {
    if (c.kind === 'opaque') continue;
    if (c.kind === 'whiteout') {
      out.push({ Path: `/${c.rel}`, Kind: 2 });
      continue;
    }
    out.push({ Path: `/${c.rel}`, Kind: (await existsBelow(lowers, c.rel)) ? 0 : 1 });
  }
  return out;
}

async function* generate(dir: string, source: TarDiffSource, opts: TarDiffOptions): AsyncGenerator<Buffer> {
  const hardlinks = new Map<string, string>();
  const idMap = opts.idMap;
  const baseHeader = (rel: string, st: BigIntStats): Omit<TarHeader, 'type'> => {
    const h = hostHeader(rel, st);
    return idMap ? { ...h, ...containerOwnerOf(idMap, h.uid, h.gid) } : h;
  };
  for await (const change of changes(dir, source, opts)) {
    if (change.kind === 'whiteout') {
      const name = whiteoutName(change.rel, `.wh.${change.rel.slice(change.rel.lastIndexOf('/') + 1)}`);
      const h = change.st ? baseHeader(name, change.st) : { name, mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 };
      yield encodeTarHeader({ ...h, type: 'file', mode: 0o600 });
      continue;
    }
    if (change.kind === 'opaque') {
      yield encodeTarHeader({ ...baseHeader(`${change.rel}/.wh..wh..opq`, change.st), type: 'file' });
      continue;
    }
    const { rel, abs, st } = change;
    const base = baseHeader(rel, st);
    const type = fileType(st);
    if (type === S_IFSOCK) continue; // sockets cannot be archived
    const xattrs = readXattrs(abs);
    if (!st.isDirectory() && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = hardlinks.get(key);
      if (first !== undefined) {
        yield encodeTarHeader({ ...base, type: 'link', linkname: first });
        continue;
      }
      hardlinks.set(key, rel);
    }
    if (st.isDirectory()) {
      yield encodeTarHeader({ ...base, type: 'directory', xattrs });
    } else if (st.isSymbolicLink()) {
      yield encodeTarHeader({ ...base, type: 'symlink', linkname: await readlink(abs), xattrs });
    } else if (type === S_IFCHR || type === S_IFBLK) {
      yield encodeTarHeader({
        ...base, type: type === S_IFCHR ? 'character-device' : 'block-device', ...devNumbers(st.rdev), xattrs,
      });
    } else if (type === S_IFIFO) {
      yield encodeTarHeader({ ...base, type: 'fifo', xattrs });
    } else if (st.isFile()) {
      const size = Number(st.size);
      yield encodeTarHeader({ ...base, type: 'file', size, xattrs });
      yield* fileContent(abs, size);
      const pad = tarPadding(size);
      if (pad > 0) yield Buffer.alloc(pad);
    }
  }
  yield TAR_END_OF_ARCHIVE;
}

/**
 * Streams the changes held in `dir` as a layer tar: entries sorted by name, directories before
 * their content, uid/gid, mode, mtime, symlinks, hardlinks (the second path of an inode is a
 * link entry), devices, fifos, xattrs as PAX `SCHILY.xattr.*`, deletions as `.wh.` whiteouts.
 */
export function tarDiff(dir: string, source: TarDiffSource, opts: TarDiffOptions = {}): Readable {
  return Readable.from(generate(dir, source, opts), { objectMode: false });
}

/** Bytes of regular file content among the changes of `dir` (what `tarDiff` would carry). */
export async function changesSize(dir: string, source: TarDiffSource): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  for await (const change of changes(dir, source)) {
    if (change.kind !== 'entry' || !change.st.isFile()) continue;
    const key = `${change.st.dev}:${change.st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    total += Number(change.st.size);
  }
  return total;
}
