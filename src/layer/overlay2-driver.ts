import { chmod, chown, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  ConflictError, InvalidParameterError, NotFoundError, SystemError, errnoCode, errorMessage, hostRootOf, isIdMapping, type IdMapping,
} from '../common/index.js';
import { KeyedMutex } from '../store/index.js';
import { MNT_DETACH, closeFd, lsetxattr, mount, mountIdmapped, openUserNamespace, umount2 } from '../sys/index.js';
import type { ApplyDiffOptions, CreateLayerOptions, GraphDriver } from './graph-driver.js';
import { isMountPoint, mountPoints, unmountPath } from './mount-table.js';
import { applyTar } from './tar-apply.js';
import { changesSize, listChanges, tarDiff, type FileChange, type TarDiffOptions } from './tar-diff.js';

export interface Overlay2DriverOptions {
  /** `<data-root>/overlay2` */
  root: string;
}

const LINK_DIR = 'l';
/** Beside a container layer's `diff`: the user namespace mapping it was created for (JSON). */
const IDMAP_FILE = 'idmap';
/** mount(2) copies at most one page of options. */
const MAX_MOUNT_DATA = 4096;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 26 characters of base32 from 16 random bytes, like Docker's short link names. */
function randomLinkName(): string {
  const bytes = randomBytes(17);
  let out = '';
  for (let i = 0; i < 26; i++) {
    const bit = i * 5;
    const byte = bit >> 3;
    const word = (bytes[byte]! << 8) | bytes[byte + 1]!;
    out += BASE32[(word >> (11 - (bit & 7))) & 31];
  }
  return out;
}

function checkId(id: string): void {
  if (id === '' || id === '.' || id === '..' || id === LINK_DIR || id.includes('/') || id.includes('\0')) {
    throw new InvalidParameterError(`invalid layer id ${JSON.stringify(id)}`);
  }
}

/**
 * Kernel overlayfs, with Docker's on-disk layout:
 * `<root>/<id>/{diff,link,lower,work,merged}` and `<root>/l/<link> -> ../<id>/diff`.
 * A layer without parents is never overlay-mounted: its diff dir is used as is.
 */
export class Overlay2Driver implements GraphDriver {
  readonly name = 'overlay2' as const;
  readonly root: string;
  private readonly counts = new Map<string, number>();
  private readonly locks = new KeyedMutex();
  private indexOff: boolean | undefined;
  /** Open user namespaces by mapping, for idmapped views of the layers. */
  private readonly usernsFds = new Map<string, Promise<number>>();

  constructor(opts: Overlay2DriverOptions) {
    this.root = resolve(opts.root);
  }

  /** True when an overlay mount (with a trusted.* xattr on the upper dir) works under root. */
  static async supported(root: string): Promise<boolean> {
    await mkdir(root, { recursive: true, mode: 0o710 });
    const dir = await mkdtemp(join(root, '.check-'));
    try {
      const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => join(dir, n)) as [string, string, string, string];
      for (const d of [lower, upper, work, merged]) await mkdir(d);
      await mkdir(join(upper, 'opaque'));
      lsetxattr(join(upper, 'opaque'), 'trusted.overlay.opaque', Buffer.from('y'));
      mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
      unmountPath(merged);
      return true;
    } catch {
      return false;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private dir(id: string): string {
    checkId(id);
    return join(this.root, id);
  }

  async create(id: string, parent: string | null, opts: CreateLayerOptions = {}): Promise<void> {
    const dir = this.dir(id);
    if (existsSync(dir)) throw new ConflictError(`layer ${id} already exists`);
    let lower: string | null = null;
    if (parent !== null) {
      const parentLink = await this.readLink(parent);
      const parentLower = await this.readLower(parent);
      lower = [`${LINK_DIR}/${parentLink}`, ...parentLower].join(':');
    }
    await mkdir(join(this.root, LINK_DIR), { recursive: true, mode: 0o700 });
    await mkdir(dir, { mode: 0o710 });
    try {
      await mkdir(join(dir, 'diff'), { mode: 0o755 });
      const link = randomLinkName();
      await symlink(`../${id}/diff`, join(this.root, LINK_DIR, link));
      await writeFile(join(dir, 'link'), link, { mode: 0o644 });
      if (lower !== null) {
        await writeFile(join(dir, 'lower'), lower, { mode: 0o644 });
        await mkdir(join(dir, 'work'), { mode: 0o700 });
        await mkdir(join(dir, 'merged'), { mode: 0o700 });
      }
      if (opts.idMap) await this.ownForNamespace(dir, opts.idMap);
    } catch (err) {
      await this.remove(id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * A layer for a user namespace: its `diff` (the rootfs's top directory) belongs to the
   * namespace's root, whose group may enter the layer's directory (0710) down to the mounted
   * rootfs, which the runtime reaches from inside the namespace. The driver's root becomes
   * 0711 rather than group-owned: it is also seen through the idmapped view, where only ids the
   * namespace maps (root's) leave host root its access.
   */
  private async ownForNamespace(dir: string, m: IdMapping): Promise<void> {
    const root = hostRootOf(m);
    await writeFile(join(dir, IDMAP_FILE), JSON.stringify(m), { mode: 0o644 });
    await chown(join(dir, 'diff'), root.uid, root.gid);
    await chown(dir, 0, root.gid);
    await chmod(this.root, 0o711);
  }

  async idMap(id: string): Promise<IdMapping | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir(id), IDMAP_FILE), 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    const m = JSON.parse(text) as unknown;
    if (!isIdMapping(m)) throw new SystemError(`layer ${id}: invalid ${IDMAP_FILE} file`);
    return m;
  }

  /** The user namespace (an open fd) that idmapped views for `m` use; made once per mapping. */
  private usernsFd(m: IdMapping): Promise<number> {
    const key = JSON.stringify(m);
    let fd = this.usernsFds.get(key);
    if (!fd) {
      fd = openUserNamespace(m);
      this.usernsFds.set(key, fd);
      fd.catch(() => this.usernsFds.delete(key));
    }
    return fd;
  }

  /** Start-up check for remapping: an idmapped view of the layers can be made here. */
  async checkIdmappedView(m: IdMapping): Promise<void> {
    const view = this.viewDir(m);
    await mkdir(view, { recursive: true, mode: 0o700 });
    try {
      mountIdmapped(this.root, view, await this.usernsFd(m));
    } catch (err) {
      throw new SystemError(`user namespace remapping needs idmapped mounts of ${this.root} (or the vfs storage driver): ${errorMessage(err)}`, { cause: err });
    }
    umount2(view, MNT_DETACH);
  }

  /** Where the idmapped view of the driver's root is attached while an overlay is mounted. */
  private viewDir(m: IdMapping): string {
    const root = hostRootOf(m);
    return join(dirname(this.root), `${root.uid}.${root.gid}`, 'overlay2');
  }

  async setParent(id: string, parent: string): Promise<void> {
    const dir = this.dir(id);
    if (!existsSync(dir)) throw new NotFoundError(`layer ${id} not found`);
    const lower = [`${LINK_DIR}/${await this.readLink(parent)}`, ...(await this.readLower(parent))].join(':');
    await writeFile(join(dir, 'lower'), lower, { mode: 0o644 });
    await mkdir(join(dir, 'work'), { recursive: true, mode: 0o700 });
    await mkdir(join(dir, 'merged'), { recursive: true, mode: 0o700 });
  }

  private async readLink(id: string): Promise<string> {
    try {
      return (await readFile(join(this.dir(id), 'link'), 'utf8')).trim();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new NotFoundError(`layer ${id} not found`, { cause: err });
      throw err;
    }
  }

  /** The `l/<link>` entries of all parents, nearest first (empty for a base layer). */
  private async readLower(id: string): Promise<string[]> {
    try {
      const text = (await readFile(join(this.dir(id), 'lower'), 'utf8')).trim();
      return text === '' ? [] : text.split(':');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        if (!existsSync(this.dir(id))) throw new NotFoundError(`layer ${id} not found`, { cause: err });
        return [];
      }
      throw err;
    }
  }

  async applyDiff(id: string, tar: Readable, opts: ApplyDiffOptions = {}): Promise<number> {
    const diff = join(this.dir(id), 'diff');
    if (!existsSync(diff)) throw new NotFoundError(`layer ${id} not found`);
    return applyTar(tar, diff, { whiteouts: 'overlay', ...(opts.onFile ? { onFile: opts.onFile } : {}) });
  }

  contentDir(id: string): string {
    return join(this.dir(id), 'diff');
  }

  private overlayIndexOff(): boolean {
    // With the module's `index` feature on, remounting an upper dir over other lowers fails; Docker turns it off.
    this.indexOff ??= existsSync('/sys/module/overlay/parameters/index');
    return this.indexOff;
  }

  async mount(id: string): Promise<string> {
    const dir = this.dir(id);
    return this.locks.run(id, async () => {
      const lower = await this.readLower(id);
      if (lower.length === 0) {
        this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
        return join(dir, 'diff');
      }
      const merged = join(dir, 'merged');
      const count = this.counts.get(id) ?? 0;
      if (count > 0 || (await isMountPoint(merged))) {
        // Already mounted (by us, or before a restart: adopt it).
        this.counts.set(id, count + 1);
        return merged;
      }
      const idMap = await this.idMap(id);
      if (idMap) {
        const view = this.viewDir(idMap);
        await mkdir(view, { recursive: true, mode: 0o700 });
        this.overlayMountShifted(id, lower, view, await this.usernsFd(idMap));
      } else {
        this.overlayMount(id, lower);
      }
      this.counts.set(id, 1);
      return merged;
    });
  }

  private overlayMount(id: string, lower: string[]): void {
    const extra = this.overlayIndexOff() ? ',index=off' : '';
    const absolute =
      `lowerdir=${lower.map((l) => join(this.root, l)).join(':')},` +
      `upperdir=${join(this.root, id, 'diff')},workdir=${join(this.root, id, 'work')}${extra}`;
    const target = join(this.root, id, 'merged');
    try {
      if (Buffer.byteLength(absolute) < MAX_MOUNT_DATA) {
        mount('overlay', target, 'overlay', 0, absolute);
        return;
      }
      // Too long for one page: name everything relative to root, which mount(2) resolves against the cwd.
      const relative = `lowerdir=${lower.join(':')},upperdir=${id}/diff,workdir=${id}/work${extra}`;
      if (Buffer.byteLength(relative) >= MAX_MOUNT_DATA) {
        throw new SystemError(`overlay mount options for ${id} exceed one page (${lower.length} lower layers)`);
      }
      const cwd = process.cwd();
      process.chdir(this.root);
      try {
        mount('overlay', target, 'overlay', 0, relative);
      } finally {
        process.chdir(cwd);
      }
    } catch (err) {
      if (err instanceof SystemError) throw err;
      throw new SystemError(`mounting overlay for ${id}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The overlay of a user namespace's container: its lower layers seen through an idmapped view
   * of the driver's root (files owned by 0 show as owned by the namespace's root), its own `diff`
   * as is (what the container writes is owned on the host by the ids it has there). The view is
   * attached only while the overlay is mounted: overlayfs keeps its own reference to the layers.
   */
  private overlayMountShifted(id: string, lower: string[], view: string, usernsFd: number): void {
    const extra = this.overlayIndexOff() ? ',index=off' : '';
    const own = `upperdir=${join(this.root, id, 'diff')},workdir=${join(this.root, id, 'work')}${extra}`;
    const target = join(this.root, id, 'merged');
    try {
      mountIdmapped(this.root, view, usernsFd);
    } catch (err) {
      throw new SystemError(`mounting an idmapped view of ${this.root} (user namespace remapping needs idmapped mounts): ${errorMessage(err)}`, { cause: err });
    }
    try {
      const absolute = `lowerdir=${lower.map((l) => join(view, l)).join(':')},${own}`;
      if (Buffer.byteLength(absolute) < MAX_MOUNT_DATA) {
        mount('overlay', target, 'overlay', 0, absolute);
        return;
      }
      const relative = `lowerdir=${lower.join(':')},${own}`;
      if (Buffer.byteLength(relative) >= MAX_MOUNT_DATA) {
        throw new SystemError(`overlay mount options for ${id} exceed one page (${lower.length} lower layers)`);
      }
      const cwd = process.cwd();
      process.chdir(view);
      try {
        mount('overlay', target, 'overlay', 0, relative);
      } finally {
        process.chdir(cwd);
      }
    } catch (err) {
      if (err instanceof SystemError && !('syscall' in err)) throw err;
      throw new SystemError(`mounting overlay for ${id}: ${errorMessage(err)}`, { cause: err });
    } finally {
      umount2(view, MNT_DETACH);
    }
  }

  async unmount(id: string): Promise<void> {
    const dir = this.dir(id);
    await this.locks.run(id, async () => {
      const count = this.counts.get(id) ?? 0;
      if (count > 1) {
        this.counts.set(id, count - 1);
        return;
      }
      this.counts.delete(id);
      const merged = join(dir, 'merged');
      if (existsSync(merged) && (await isMountPoint(merged))) unmountPath(merged);
    });
  }

  async remove(id: string): Promise<void> {
    const dir = this.dir(id);
    await this.locks.run(id, async () => {
      this.counts.delete(id);
      const merged = join(dir, 'merged');
      if (existsSync(merged) && (await isMountPoint(merged))) unmountPath(merged);
      try {
        const link = (await readFile(join(dir, 'link'), 'utf8')).trim();
        if (link !== '' && !link.includes('/')) await rm(join(this.root, LINK_DIR, link), { force: true });
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      await rm(dir, { recursive: true, force: true });
    });
  }

  async ids(): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    return names.filter((n) => n !== LINK_DIR && !n.startsWith('.'));
  }

  async exists(id: string): Promise<boolean> {
    try {
      return (await stat(join(this.dir(id), 'diff'))).isDirectory();
    } catch {
      return false;
    }
  }

  async diffSize(id: string): Promise<number> {
    const diff = join(this.dir(id), 'diff');
    if (!existsSync(diff)) throw new NotFoundError(`layer ${id} not found`);
    return changesSize(diff, { kind: 'overlay-upper' });
  }

  async diff(id: string, opts: TarDiffOptions = {}): Promise<Readable> {
    const diff = join(this.dir(id), 'diff');
    if (!existsSync(diff)) throw new NotFoundError(`layer ${id} not found`);
    return tarDiff(diff, { kind: 'overlay-upper' }, opts);
  }

  async changes(id: string, opts: TarDiffOptions = {}): Promise<FileChange[]> {
    const diff = join(this.dir(id), 'diff');
    if (!existsSync(diff)) throw new NotFoundError(`layer ${id} not found`);
    const lowers = (await this.readLower(id)).map((l) => join(this.root, l));
    return listChanges(diff, { kind: 'overlay-upper' }, lowers, opts);
  }

  async metadata(id: string): Promise<Record<string, string>> {
    const dir = this.dir(id);
    const lower = await this.readLower(id);
    const out: Record<string, string> = {};
    if (lower.length > 0) {
      const dirs: string[] = [];
      for (const l of lower) dirs.push(resolve(join(this.root, LINK_DIR), await readlink(join(this.root, l))));
      out['LowerDir'] = dirs.join(':');
    }
    out['MergedDir'] = join(dir, 'merged');
    out['UpperDir'] = join(dir, 'diff');
    out['WorkDir'] = join(dir, 'work');
    return out;
  }

  async cleanup(): Promise<void> {
    const prefix = `${this.root}/`;
    for (const mp of await mountPoints()) {
      if (mp.startsWith(prefix) && mp.endsWith('/merged')) unmountPath(mp);
    }
    this.counts.clear();
    for (const fd of this.usernsFds.values()) void fd.then(closeFd, () => undefined);
    this.usernsFds.clear();
  }
}
