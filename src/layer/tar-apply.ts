import { lstat, mkdir, readlink, rm, symlink, link, lchown, chmod, lutimes, open, readdir } from 'node:fs/promises';
import {
  chmodSync, closeSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, symlinkSync, writeSync,
  constants as fsConstants,
} from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tarStream, { type Header } from 'tar-stream';
import { InvalidParameterError, SystemError, EngineError, errnoCode, errorMessage, hostOwnerOf, type IdMapping } from '../common/index.js';
import { lsetxattr, mknod } from '../sys/index.js';
import { PaxTap } from './pax-tap.js';

export type WhiteoutFormat = 'overlay' | 'vfs' | 'none';

export interface ApplyTarOptions {
  /**
   * 'overlay': the destination is an overlay upper dir; `.wh.x` becomes a 0/0 char device and
   * `.wh..wh..opq` sets `trusted.overlay.opaque=y`. 'vfs': the destination is a full copy of
   * the parent tree; whiteouts delete. 'none': not a layer (a copy into a container), `.wh.`
   * names are ordinary files.
   */
  whiteouts: WhiteoutFormat;
  /**
   * Called once for every regular-file entry with content, in archive order, with the path
   * (relative to dest, symlinks inside dest resolved) the content was written to, or null when
   * the entry was not written (see TarSplitRecorder).
   */
  onFile?: (rel: string | null) => void;
  /** The destination belongs to a user namespace: entries' owners are ids inside it. */
  idMap?: IdMapping;
}

const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';
const WH_OPAQUE = '.wh..wh..opq';
const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const MAX_SYMLINK_HOPS = 40;
/** Files up to this size are collected and written with one synchronous call sequence. */
const SMALL_FILE = 256 * 1024;

/**
 * Cleans a tar member name into path components relative to the destination: strips leading
 * `/` and `./`, resolves `.` and `..`, and rejects names that climb out of the destination.
 */
export function cleanMemberName(name: string): string[] {
  const normalized = posix.normalize(`/${name}`); // rooted, so `..` cannot climb above '/'
  const naive = posix.normalize(name.replace(/^(\.?\/)+/, ''));
  if (naive === '..' || naive.startsWith('../')) {
    throw new InvalidParameterError(`invalid tar member ${JSON.stringify(name)}: path escapes the destination`);
  }
  return normalized.split('/').filter((c) => c !== '' && c !== '.');
}

interface Resolved {
  abs: string;
  /** Components relative to the destination after following symlinks inside it. */
  parts: string[];
}

/** State of one extraction. */
class Applier {
  private readonly dirTimes: Array<{ path: string; time: Date }> = [];
  /** vfs only: resolved paths this layer created (and their ancestors); survives an opaque marker. */
  private readonly unpacked = new Set<string>();
  /** Resolved parent directories; cleared whenever an existing entry is removed. */
  private readonly parentCache = new Map<string, Resolved>();
  bytes = 0;

  private written: string | null = null;

  constructor(
    private readonly dest: string,
    private readonly format: WhiteoutFormat,
    private readonly onFile?: (rel: string | null) => void,
    private readonly idMap?: IdMapping,
  ) {}

  /** The host owner of an entry (shifted into the user namespace's ids when there is one). */
  private owner(header: Header): { uid: number; gid: number } {
    const uid = header.uid ?? 0;
    const gid = header.gid ?? 0;
    return this.idMap ? hostOwnerOf(this.idMap, uid, gid) : { uid, gid };
  }

  /**
   * Resolves a directory inside dest, following symlinks as if dest were the root (a symlink
   * can never lead outside it); missing components are created when `create` is set.
   * Returns undefined when a component is missing and `create` is unset.
   */
  private async resolveDir(parts: string[], create: boolean): Promise<Resolved | undefined> {
    const key = parts.join('/');
    const cached = this.parentCache.get(key);
    if (cached) return cached;
    let stack: string[] = [];
    const queue = [...parts];
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        stack.pop();
        continue;
      }
      const p = join(this.dest, ...stack, c);
      let st;
      try {
        // Metadata calls are synchronous: a layer of many small files is dominated by their round trips.
        st = lstatSync(p);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        if (!create) return undefined;
        mkdirSync(p);
        chmodSync(p, 0o755);
        stack.push(c);
        this.markUnpacked(stack);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw new InvalidParameterError(`too many levels of symbolic links resolving ${key}`);
        }
        const target = await readlink(p);
        if (target.startsWith('/')) stack = [];
        queue.unshift(...target.split('/'));
        continue;
      }
      if (!st.isDirectory()) {
        throw new InvalidParameterError(`cannot extract under ${key}: ${[...stack, c].join('/')} is not a directory`);
      }
      stack.push(c);
    }
    const resolved = { abs: join(this.dest, ...stack), parts: stack };
    this.parentCache.set(key, resolved);
    return resolved;
  }

  private markUnpacked(parts: string[]): void {
    if (this.format !== 'vfs') return;
    for (let i = 1; i <= parts.length; i++) this.unpacked.add(parts.slice(0, i).join('/'));
  }

  private async removeExisting(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
    this.parentCache.clear();
  }

  async entry(header: Header, stream: AsyncIterable<unknown>, pax: Map<string, Buffer>): Promise<void> {
    this.written = null;
    await this.apply(header, stream, pax);
    const type = header.type ?? 'file';
    if (this.onFile && (type === 'file' || type === 'contiguous-file') && (header.size ?? 0) > 0) this.onFile(this.written);
    // Entries without content (and skipped ones) must still be consumed for the next header to come.
    for await (const _chunk of stream) { /* drain */ }
  }

  private async apply(header: Header, stream: AsyncIterable<unknown>, pax: Map<string, Buffer>): Promise<void> {
    const type = header.type ?? 'file';
    const parts = cleanMemberName(header.name);
    if (parts.length === 0) {
      // The root itself ("./"): only its attributes apply.
      if (type === 'directory') await this.setAttributes(this.dest, header, pax, { isDir: true, isSymlink: false });
      return;
    }
    const base = parts[parts.length - 1]!;
    const parentParts = parts.slice(0, -1);

    if (this.format !== 'none' && base.startsWith(WH_PREFIX)) {
      await this.whiteout(parentParts, base, header);
      return;
    }

    const parent = await this.resolveDir(parentParts, true);
    const path = join(parent!.abs, base);
    const resolvedParts = [...parent!.parts, base];

    let existing;
    try {
      existing = lstatSync(path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    if (existing && !(existing.isDirectory() && type === 'directory')) await this.removeExisting(path);

    switch (type) {
      case 'file':
      case 'contiguous-file': {
        if ((header.size ?? 0) <= SMALL_FILE) {
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          const fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
          try {
            for (const buf of chunks) {
              let off = 0;
              while (off < buf.length) off += writeSync(fd, buf, off);
              this.bytes += buf.length;
            }
          } finally {
            closeSync(fd);
          }
          this.written = resolvedParts.join('/');
          break;
        }
        const fh = await open(path, 'wx', 0o600);
        try {
          for await (const chunk of stream) {
            const buf = chunk as Buffer;
            let off = 0;
            while (off < buf.length) off += (await fh.write(buf, off)).bytesWritten;
            this.bytes += buf.length;
          }
        } finally {
          await fh.close();
        }
        this.written = resolvedParts.join('/');
        break;
      }
      case 'directory':
        if (!existing?.isDirectory()) mkdirSync(path);
        break;
      case 'symlink':
        symlinkSync(header.linkname ?? '', path);
        break;
      case 'link': {
        const targetParts = cleanMemberName(header.linkname ?? '');
        if (targetParts.length === 0) throw new InvalidParameterError(`invalid hardlink ${header.name}: empty target`);
        const targetParent = await this.resolveDir(targetParts.slice(0, -1), false);
        if (!targetParent) {
          throw new InvalidParameterError(`invalid hardlink ${header.name}: target ${header.linkname} does not exist`);
        }
        const target = join(targetParent.abs, targetParts[targetParts.length - 1]!);
        try {
          linkSync(target, path);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') {
            throw new InvalidParameterError(`invalid hardlink ${header.name}: target ${header.linkname} does not exist`, { cause: err });
          }
          throw err;
        }
        this.markUnpacked(resolvedParts);
        return; // the target inode already carries its own attributes
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
        mknod(path, kind | ((header.mode ?? 0) & 0o777), header.devmajor ?? 0, header.devminor ?? 0);
        break;
      }
      default:
        // Unknown or unsupported entry types (sockets cannot be archived; sparse files are not produced by layer tools).
        return;
    }
    this.markUnpacked(resolvedParts);
    await this.setAttributes(path, header, pax, { isDir: type === 'directory', isSymlink: type === 'symlink' });
  }

  private async whiteout(parentParts: string[], base: string, header: Header): Promise<void> {
    const overlay = this.format === 'overlay';
    if (base === WH_OPAQUE) {
      const dir = await this.resolveDir(parentParts, overlay);
      if (!dir) return;
      if (overlay) lsetxattr(dir.abs, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      else await this.removeLowerContent(dir);
      return;
    }
    if (base.startsWith(WH_META_PREFIX)) return; // other metadata markers (aufs hardlink dirs) carry nothing to apply
    const name = base.slice(WH_PREFIX.length);
    if (name === '' || name === '.' || name === '..') return;
    const dir = await this.resolveDir(parentParts, overlay);
    if (!dir) return;
    const path = join(dir.abs, name);
    await this.removeExisting(path);
    if (overlay) {
      mknod(path, S_IFCHR, 0, 0);
      const o = this.owner(header);
      await lchown(path, o.uid, o.gid);
    }
  }

  /** vfs opaque marker: delete everything under dir that this layer did not create. */
  private async removeLowerContent(dir: Resolved): Promise<void> {
    const walk = async (abs: string, rel: string[]): Promise<void> => {
      for (const name of await readdir(abs)) {
        const childRel = [...rel, name];
        const childAbs = join(abs, name);
        if (!this.unpacked.has(childRel.join('/'))) {
          await rm(childAbs, { recursive: true, force: true });
          continue;
        }
        const st = await lstat(childAbs);
        if (st.isDirectory()) await walk(childAbs, childRel);
      }
    };
    await walk(dir.abs, dir.parts);
    this.parentCache.clear();
  }

  private async setAttributes(
    path: string, header: Header, pax: Map<string, Buffer>, kind: { isDir: boolean; isSymlink: boolean },
  ): Promise<void> {
    const o = this.owner(header);
    lchownSync(path, o.uid, o.gid);
    // chmod after chown: chown clears setuid/setgid.
    if (!kind.isSymlink) chmodSync(path, (header.mode ?? (kind.isDir ? 0o755 : 0o644)) & 0o7777);
    for (const [key, value] of pax) {
      if (!key.startsWith('SCHILY.xattr.')) continue;
      const name = key.slice('SCHILY.xattr.'.length);
      if (name.startsWith('trusted.overlay.')) continue; // overlay's own bookkeeping is never taken from a tar
      try {
        lsetxattr(path, name, value);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EPERM') continue; // as Docker: not fatal
        throw err;
      }
    }
    const paxMtime = pax.get('mtime');
    const time = paxMtime ? new Date(Number.parseFloat(paxMtime.toString('ascii')) * 1000) : header.mtime ?? new Date(0);
    if (kind.isDir) this.dirTimes.push({ path, time });
    else lutimesSync(path, time, time);
  }

  /** Directory mtimes last: creating entries inside a directory changes its mtime. */
  async finish(): Promise<void> {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const { path, time } = this.dirTimes[i]!;
      try {
        await lutimes(path, time, time);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
  }
}

/**
 * Extracts a layer tar (uncompressed) into dest, preserving ownership, modes, times, xattrs,
 * links and device nodes, and translating whiteouts per `opts.whiteouts`.
 * Returns the bytes of regular file content written.
 */
export async function applyTar(input: Readable, dest: string, opts: ApplyTarOptions): Promise<number> {
  const applier = new Applier(dest, opts.whiteouts, opts.onFile, opts.idMap);
  const tap = new PaxTap();
  // allowUnknownFormat accepts pre-POSIX (v7) headers; the checksum is still verified.
  const extract = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
  let current: Promise<void> = Promise.resolve();
  // The entry's own failure (ENOSPC, EACCES...) is the cause; the pipeline may report only the
  // premature close it leads to.
  let entryError: unknown;
  extract.on('entry', (header, stream, next) => {
    const pax = tap.takeRecords();
    // A failing archive destroys the entry stream with the error; the handler sees it through its read.
    stream.on('error', () => undefined);
    current = applier.entry(header, stream, pax).then(() => next(), (err: unknown) => { entryError ??= err; next(err as Error); });
  });
  try {
    await pipeline(input, tap, extract);
  } catch (pipelineError) {
    await current.catch(() => undefined);
    // A filesystem error while writing an entry (ENOSPC, EACCES...) explains the failure better
    // than the pipeline's premature close; a broken archive is reported by the pipeline itself.
    const fsError = entryError instanceof EngineError || /^E[A-Z0-9]+$/.test(errnoCode(entryError) ?? '');
    const err = fsError ? entryError : pipelineError;
    if (err instanceof EngineError) throw err;
    const code = errnoCode(err);
    if (code === undefined) throw new InvalidParameterError(`invalid layer tar: ${errorMessage(err)}`, { cause: err });
    throw new SystemError(`applying layer tar to ${dest}: ${errorMessage(err)}`, { cause: err });
  }
  await current;
  await applier.finish();
  return applier.bytes;
}
