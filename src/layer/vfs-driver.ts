import { mkdir, readFile, readdir, rm, stat, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { ConflictError, InvalidParameterError, NotFoundError, errnoCode, isIdMapping, type IdMapping } from '../common/index.js';
import { writeFileAtomic } from '../store/index.js';
import { runCommand } from '../sys/index.js';
import type { ApplyDiffOptions, CreateLayerOptions, GraphDriver } from './graph-driver.js';
import { applyTar } from './tar-apply.js';
import { shiftOwnership } from './id-shift.js';
import { changesSize, listChanges, tarDiff, type FileChange, type TarDiffOptions } from './tar-diff.js';

export interface VfsDriverOptions {
  /** `<data-root>/vfs` */
  root: string;
}

/** Kept beside each layer's tree: its parent (for diffs) and the size recorded when its diff was applied. */
interface VfsLayerMeta {
  parent: string | null;
  /** null until applyDiff; a layer written through mount() is measured by comparing with its parent. */
  size: number | null;
  /** A container layer in a user namespace: its copy's owners are shifted into it. */
  idMap?: IdMapping;
}

function checkId(id: string): void {
  if (id === '' || id === '.' || id === '..' || id.includes('/') || id.includes('\0')) {
    throw new InvalidParameterError(`invalid layer id ${JSON.stringify(id)}`);
  }
}

/**
 * Full copies: `<root>/dir/<id>` holds the complete tree of the layer and all its parents.
 * No mounts; works on any filesystem. Copies use `cp -a --reflink=auto` (cheap on btrfs/xfs).
 */
export class VfsDriver implements GraphDriver {
  readonly name = 'vfs' as const;
  readonly root: string;

  constructor(opts: VfsDriverOptions) {
    this.root = resolve(opts.root);
  }

  private dir(id: string): string {
    checkId(id);
    return join(this.root, 'dir', id);
  }

  private metaPath(id: string): string {
    checkId(id);
    return join(this.root, 'meta', `${id}.json`);
  }

  private async readMeta(id: string): Promise<VfsLayerMeta> {
    try {
      return JSON.parse(await readFile(this.metaPath(id), 'utf8')) as VfsLayerMeta;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      if (!existsSync(this.dir(id))) throw new NotFoundError(`layer ${id} not found`, { cause: err });
      return { parent: null, size: null };
    }
  }

  async create(id: string, parent: string | null, opts: CreateLayerOptions = {}): Promise<void> {
    const dir = this.dir(id);
    if (existsSync(dir)) throw new ConflictError(`layer ${id} already exists`);
    await mkdir(join(this.root, 'dir'), { recursive: true, mode: 0o700 });
    try {
      if (parent !== null) {
        const parentDir = this.dir(parent);
        if (!existsSync(parentDir)) throw new NotFoundError(`layer ${parent} not found`);
        await runCommand(['cp', '-a', '--reflink=auto', '--', parentDir, dir]);
      } else {
        await mkdir(dir);
        await chmod(dir, 0o755);
      }
      if (opts.idMap) {
        // A shifted copy (as dockerd's remapped root holds): the namespace's root owns what the
        // image's root owned, and walks down to it through the driver's root and `dir` (0711).
        await shiftOwnership(dir, opts.idMap);
        await chmod(this.root, 0o711);
        await chmod(join(this.root, 'dir'), 0o711);
      }
      const meta: VfsLayerMeta = { parent, size: null, ...(opts.idMap ? { idMap: opts.idMap } : {}) };
      await writeFileAtomic(this.metaPath(id), JSON.stringify(meta));
    } catch (err) {
      await this.remove(id).catch(() => undefined);
      throw err;
    }
  }

  async idMap(id: string): Promise<IdMapping | undefined> {
    let meta: VfsLayerMeta;
    try {
      meta = await this.readMeta(id);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    if (meta.idMap === undefined) return undefined;
    if (!isIdMapping(meta.idMap)) throw new InvalidParameterError(`layer ${id}: invalid user namespace mapping in its metadata`);
    return meta.idMap;
  }

  /** The diff source of `id`: its parent's tree, and its shift when it belongs to a user namespace. */
  private async source(id: string): Promise<{ kind: 'changes'; parent: string | null; idMap?: IdMapping }> {
    const meta = await this.readMeta(id);
    const parent = meta.parent === null ? null : this.dir(meta.parent);
    if (parent !== null && !existsSync(parent)) throw new NotFoundError(`parent layer ${meta.parent} of ${id} not found`);
    return { kind: 'changes', parent, ...(meta.idMap ? { idMap: meta.idMap } : {}) };
  }

  async applyDiff(id: string, tar: Readable, opts: ApplyDiffOptions = {}): Promise<number> {
    const dir = this.dir(id);
    const meta = await this.readMeta(id);
    const size = await applyTar(tar, dir, { whiteouts: 'vfs', ...(opts.onFile ? { onFile: opts.onFile } : {}) });
    await writeFileAtomic(this.metaPath(id), JSON.stringify({ ...meta, size } satisfies VfsLayerMeta));
    return size;
  }

  async mount(id: string): Promise<string> {
    const dir = this.dir(id);
    if (!existsSync(dir)) throw new NotFoundError(`layer ${id} not found`);
    return dir;
  }

  async unmount(id: string): Promise<void> {
    checkId(id);
  }

  async remove(id: string): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
    await rm(this.metaPath(id), { force: true });
  }

  async ids(): Promise<string[]> {
    return readdir(join(this.root, 'dir')).catch(() => [] as string[]);
  }

  async exists(id: string): Promise<boolean> {
    try {
      return (await stat(this.dir(id))).isDirectory();
    } catch {
      return false;
    }
  }

  async diffSize(id: string): Promise<number> {
    const meta = await this.readMeta(id);
    if (meta.size !== null) return meta.size;
    return changesSize(this.dir(id), { kind: 'changes', parent: meta.parent === null ? null : this.dir(meta.parent), ...(meta.idMap ? { idMap: meta.idMap } : {}) });
  }

  contentDir(id: string): string {
    return this.dir(id);
  }

  async diff(id: string, opts: TarDiffOptions = {}): Promise<Readable> {
    return tarDiff(this.dir(id), await this.source(id), opts);
  }

  async changes(id: string, opts: TarDiffOptions = {}): Promise<FileChange[]> {
    const source = await this.source(id);
    return listChanges(this.dir(id), source, source.parent === null ? [] : [source.parent], opts);
  }

  async metadata(id: string): Promise<Record<string, string>> {
    if (!existsSync(this.dir(id))) throw new NotFoundError(`layer ${id} not found`);
    return {};
  }

  async cleanup(): Promise<void> {
    // vfs never mounts anything.
  }
}
