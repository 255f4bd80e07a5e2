import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream, { type Header } from 'tar-stream';

type Headers = Partial<Header> & { name: string };
import { ForbiddenError, InvalidParameterError, NotFoundError, errnoCode } from '../common/errors.js';
import { containerOwnerOf, type IdMapping } from '../common/id-map.js';
import type { EventBus } from '../events/event-bus.js';
import { applyTar, type LayerStore } from '../layer/index.js';
import { resolveInRootfs } from '../runtime/index.js';
import type { VolumeService } from '../volume/index.js';
import type { ContainerRecord } from './container-record.js';
import type { ContainerService } from './container-service.js';
import { isActive } from './container-status.js';
import { parseBind } from './create-request.js';

/** What `X-Docker-Container-Path-Stat` carries (mode in Go's os.FileMode bits). */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface ArchiveServiceOptions {
  containers: ContainerService;
  layers: LayerStore;
  events: EventBus;
  /** Mounts device-backed volumes of stopped containers for the length of a copy. */
  volumes?: VolumeService;
}

interface Bind { source: string; destination: string; readonly: boolean }

/** A container's filesystem as the host sees it, for the length of one operation. */
interface RootView {
  root: string;
  /** Bind mounts to apply by hand (a stopped container; a running one shows them in its root). */
  binds: Bind[];
  readonlyRootfs: boolean;
  /** A running container's volumes and binds (seen through its root, so not mapped). */
  mounts?: Array<{ destination: string; rw: boolean }>;
  release(): Promise<void>;
}

interface Located {
  /** Host path. */
  host: string;
  /** The root the host path lies under (rootfs or a bind source). */
  root: string;
  /** The container path it stands for, symlinks resolved. */
  containerPath: string;
  readonly: boolean;
  /** Set when the path lies in a read-only volume or bind rather than the rootfs. */
  readonlyMount?: boolean;
}

// Go os.FileMode type bits.
const GO_DIR = 2 ** 31, GO_SYMLINK = 2 ** 27, GO_DEVICE = 2 ** 26, GO_PIPE = 2 ** 25, GO_SOCKET = 2 ** 24;
const GO_SETUID = 2 ** 23, GO_SETGID = 2 ** 22, GO_CHARDEV = 2 ** 21, GO_STICKY = 2 ** 20;

function goFileMode(st: { mode: number; isDirectory(): boolean; isSymbolicLink(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += GO_DIR;
  if (st.isSymbolicLink()) m += GO_SYMLINK;
  if (st.isBlockDevice()) m += GO_DEVICE;
  if (st.isCharacterDevice()) m += GO_DEVICE + GO_CHARDEV;
  if (st.isFIFO()) m += GO_PIPE;
  if (st.isSocket()) m += GO_SOCKET;
  if (st.mode & 0o4000) m += GO_SETUID;
  if (st.mode & 0o2000) m += GO_SETGID;
  if (st.mode & 0o1000) m += GO_STICKY;
  return m;
}

function rfc3339Nano(ms: number, ns: bigint | undefined): string {
  const iso = new Date(ms).toISOString().slice(0, 19);
  const frac = ns !== undefined ? String(ns % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '') : '';
  return `${iso}${frac ? '.' + frac : ''}Z`;
}

/** `docker cp`: stat, read and write paths inside a container, running or not. */
export class ArchiveService {
  private readonly mounts = new Map<string, number>();

  constructor(private readonly o: ArchiveServiceOptions) {}

  async stat(idOrName: string, path: string): Promise<PathStat> {
    const rec = this.o.containers.get(idOrName);
    const view = await this.view(rec);
    try {
      const loc = await this.locate(view, path, false);
      return await this.statOf(view, loc, path, idOrName);
    } finally {
      await view.release();
    }
  }

  /** A tar of path (entries named after its last element) and its stat. */
  async get(idOrName: string, path: string): Promise<{ stat: PathStat; tar: Readable }> {
    const rec = this.o.containers.get(idOrName);
    const view = await this.view(rec);
    let released = false;
    try {
      const loc = await this.locate(view, path, false);
      const stat = await this.statOf(view, loc, path, idOrName);
      const clean = posix.normalize('/' + path);
      const rebase = /\/\.$/.test(path) || clean === '/' ? '.' : posix.basename(clean);
      // A trailing "/." or "/" means the directory a symlink points at, not the link.
      const src = /\/\.?$/.test(path) && clean !== '/' ? await this.locate(view, path, true) : loc;
      const tar = packTree(src.host, rebase, await this.o.layers.rwIdMap(rec.id));
      released = true;
      tar.once('close', () => void view.release());
      this.event(rec, 'archive-path');
      return { stat, tar };
    } finally {
      if (!released) await view.release();
    }
  }

  /** Extracts a tar into the directory at path. */
  async put(idOrName: string, path: string, input: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    const rec = this.o.containers.get(idOrName);
    const view = await this.view(rec);
    try {
      const loc = await this.locate(view, path, true);
      let st;
      try {
        // The root of a running container is /proc/<pid>/root, a link to follow.
        st = loc.host === view.root ? await stat(loc.host) : await lstat(loc.host);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw new NotFoundError(`Could not find the file ${path} in container ${idOrName}`);
        throw err;
      }
      if (!st.isDirectory()) throw new InvalidParameterError('extraction point is not a directory');
      if (loc.readonlyMount) throw new ForbiddenError('mounted volume is marked read-only');
      if (loc.readonly) throw new ForbiddenError('container rootfs is marked read-only');
      const idMap = await this.o.layers.rwIdMap(rec.id);
      const filtered = rewriteEntries(input, loc.host, opts);
      await applyTar(filtered, loc.host, { whiteouts: 'none', ...(idMap ? { idMap } : {}) });
      this.event(rec, 'extract-to-dir');
    } finally {
      await view.release();
    }
  }

  private async statOf(view: RootView, loc: Located, path: string, shown: string): Promise<PathStat> {
    let st;
    try {
      st = loc.host === view.root ? await stat(loc.host, { bigint: true }) : await lstat(loc.host, { bigint: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw new NotFoundError(`Could not find the file ${path} in container ${shown}`);
      throw err;
    }
    let linkTarget = '';
    if (st.isSymbolicLink()) linkTarget = (await this.locate(view, path, true)).containerPath;
    const clean = posix.normalize('/' + path);
    return {
      name: clean === '/' ? '/' : posix.basename(clean),
      size: Number(st.size),
      mode: goFileMode({ ...st, mode: Number(st.mode), isDirectory: () => st.isDirectory(), isSymbolicLink: () => st.isSymbolicLink(), isBlockDevice: () => st.isBlockDevice(), isCharacterDevice: () => st.isCharacterDevice(), isFIFO: () => st.isFIFO(), isSocket: () => st.isSocket() }),
      mtime: rfc3339Nano(Number(st.mtimeMs), st.mtimeNs),
      linkTarget,
    };
  }

  /**
   * Finds the host path of a container path: symlinks resolve inside the container's root (never
   * out of it), bind mounts map to their sources. `followLast` resolves the last element too.
   */
  private async locate(view: RootView, path: string, followLast: boolean): Promise<Located> {
    const clean = posix.normalize('/' + path);
    if (!followLast && clean !== '/') {
      const parent = await this.locate(view, posix.dirname(clean), true);
      const base = posix.basename(clean);
      return { host: posix.join(parent.host, base), root: parent.root, containerPath: posix.join(parent.containerPath, base), readonly: parent.readonly, ...(parent.readonlyMount ? { readonlyMount: true } : {}) };
    }
    const inRoot = await resolveInRootfs(view.root, clean);
    const cpath = '/' + inRoot.slice(view.root.length).replace(/^\/+/, '');
    const bind = view.binds
      .filter((b) => cpath === b.destination || cpath.startsWith(b.destination.replace(/\/$/, '') + '/'))
      .sort((a, b) => b.destination.length - a.destination.length)[0];
    if (!bind) {
      // A running container: its volumes and binds show in its root; the innermost one decides.
      const mount = (view.mounts ?? [])
        .filter((m) => cpath === m.destination || cpath.startsWith(m.destination.replace(/\/$/, '') + '/'))
        .sort((a, b) => b.destination.length - a.destination.length)[0];
      if (mount) return { host: inRoot, root: view.root, containerPath: cpath, readonly: !mount.rw, ...(mount.rw ? {} : { readonlyMount: true }) };
      return { host: inRoot, root: view.root, containerPath: cpath, readonly: view.readonlyRootfs };
    }
    const rest = cpath.slice(bind.destination.replace(/\/$/, '').length);
    const host = await resolveInRootfs(bind.source, rest || '/');
    return { host, root: bind.source, containerPath: cpath, readonly: bind.readonly, ...(bind.readonly ? { readonlyMount: true } : {}) };
  }

  private opSeq = 0;

  private async view(rec: ContainerRecord): Promise<RootView> {
    const readonlyRootfs = Boolean(rec.hostConfig.ReadonlyRootfs);
    if (isActive(rec.state.status) && rec.state.pid > 0) {
      const mounts = rec.mountPoints ?? [];
      return {
        root: `/proc/${rec.state.pid}/root`, binds: [], readonlyRootfs,
        mounts: mounts.map((m) => ({ destination: posix.normalize(m.destination), rw: m.rw })),
        release: async () => undefined,
      };
    }
    const id = rec.id;
    this.mounts.set(id, (this.mounts.get(id) ?? 0) + 1);
    let root: string;
    try {
      root = await this.o.layers.mountRw(id);
    } catch (err) {
      this.mounts.set(id, (this.mounts.get(id) ?? 1) - 1);
      throw err;
    }
    const binds: Bind[] = [];
    // Binds and local volumes (their data directories); a device-backed volume is mounted for the
    // copy under a user of its own (the container's start mounts it under the container's id).
    const user = `${id}/archive/${++this.opSeq}`;
    const volumeMounts: string[] = [];
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      for (const name of volumeMounts.splice(0)) await this.o.volumes?.unmount(name, user, { quiet: true }).catch(() => undefined);
      const n = (this.mounts.get(id) ?? 1) - 1;
      if (n > 0) { this.mounts.set(id, n); return; }
      this.mounts.delete(id);
      const cur = this.o.containers.find(id);
      if (cur && !isActive(cur.state.status)) await this.o.layers.unmountRw(id).catch(() => undefined);
    };
    try {
      for (const m of rec.mountPoints ?? []) {
        if (m.type === 'volume' && m.name && this.o.volumes && deviceBacked(this.o.volumes, m.name)) {
          const path = await this.o.volumes.mount(m.name, user, {}, { quiet: true });
          volumeMounts.push(m.name);
          binds.push({ source: path, destination: m.destination, readonly: !m.rw });
          continue;
        }
        if ((m.type === 'bind' || m.type === 'volume') && m.source) binds.push({ source: m.source, destination: m.destination, readonly: !m.rw });
      }
    } catch (err) {
      await release();
      throw err;
    }
    if (!rec.mountPoints) {
      for (const b of rec.hostConfig.Binds ?? []) {
        try { binds.push(parseBind(b)); } catch { /* validated at create */ }
      }
    }
    return { root, binds, readonlyRootfs, release };
  }

  private event(rec: ContainerRecord, action: string): void {
    this.o.events.publish('container', action, rec.id, { ...rec.config.Labels, image: rec.config.Image, name: rec.name });
  }
}

/**
 * Tars a file or tree (never following symlinks), its top entry named `rebase`; owners as the
 * container's user namespace sees them when it has one.
 */
function packTree(hostPath: string, rebase: string, idMap: IdMapping | undefined): Readable {
  const pack = tarStream.pack();
  const add = async (p: string, name: string): Promise<void> => {
    const st = await lstat(p);
    const owner = idMap ? containerOwnerOf(idMap, st.uid, st.gid) : { uid: st.uid, gid: st.gid };
    const header: Headers = { name, mode: st.mode & 0o7777, ...owner, mtime: st.mtime };
    if (st.isDirectory()) {
      await entry(pack, { ...header, name: name === '.' ? './' : name, type: 'directory' });
      const children = (await readdir(p)).sort();
      for (const c of children) await add(posix.join(p, c), name === '.' ? c : `${name}/${c}`);
    } else if (st.isSymbolicLink()) {
      await entry(pack, { ...header, type: 'symlink', linkname: await readlink(p) });
    } else if (st.isFile()) {
      await new Promise<void>((resolve, reject) => {
        const w = pack.entry({ ...header, type: 'file', size: st.size }, (err) => (err ? reject(err) : resolve()));
        pipeline(createReadStream(p), w).catch(reject);
      });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const rdev = st.rdev;
      await entry(pack, { ...header, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: (rdev >> 8) & 0xfff, devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) });
    } else if (st.isFIFO()) {
      await entry(pack, { ...header, type: 'fifo' });
    }
  };
  add(hostPath, rebase).then(() => pack.finalize(), (err: Error) => pack.destroy(err));
  const out = new PassThrough();
  pipeline(pack, out).catch((err: Error) => out.destroy(err));
  return out;
}

function entry(pack: tarStream.Pack, header: Headers): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
}

/**
 * Passes a tar through: ownership becomes root's unless copyUIDGID, and with noOverwriteDirNonDir
 * an entry may not replace a directory with a non-directory or the reverse.
 */
function rewriteEntries(input: Readable, dest: string, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Readable {
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  extract.on('entry', (header, stream, next) => {
    void (async () => {
      if (opts.noOverwriteDirNonDir) {
        const target = await resolveInRootfs(dest, header.name).catch(() => undefined);
        const existing = target ? await lstat(target).catch(() => undefined) : undefined;
        const isDir = header.type === 'directory';
        if (existing && existing.isDirectory() && !isDir) throw new InvalidParameterError(`cannot overwrite directory "${header.name}" with non-directory "${header.name}"`);
        if (existing && !existing.isDirectory() && isDir) throw new InvalidParameterError(`cannot overwrite non-directory "${header.name}" with directory "${header.name}"`);
      }
      const h: Headers = { ...header };
      if (!opts.copyUIDGID) { h.uid = 0; h.gid = 0; h.uname = ''; h.gname = ''; }
      await new Promise<void>((resolve, reject) => {
        const w = pack.entry(h, (err) => (err ? reject(err) : resolve()));
        pipeline(stream, w).catch(reject);
      });
    })().then(() => next(), (err: Error) => next(err));
  });
  extract.on('finish', () => pack.finalize());
  const out = new PassThrough();
  pipeline(input, extract).catch((err: Error) => out.destroy(err));
  pipeline(pack, out).catch((err: Error) => out.destroy(err));
  return out;
}

function deviceBacked(volumes: VolumeService, name: string): boolean {
  try {
    const o = volumes.get(name).options;
    return Boolean(o && (o['type'] || o['device']));
  } catch {
    return false;
  }
}
