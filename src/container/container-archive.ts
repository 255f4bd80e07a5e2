import type { Readable } from 'node:stream';
import { ConflictError } from '../common/errors.js';
import type { ImageId } from '../common/ids.js';
import { commitContainer, type ImageRunConfig, type ImageService } from '../image/index.js';
import type { FileChange, LayerStore } from '../layer/index.js';
import { tarDiff } from '../layer/index.js';
import type { ContainerRecord } from './container-record.js';
import type { ContainerService } from './container-service.js';

/** Pauses a running container while its layer is committed (the daemon plugs in the container service's pause/unpause). */
export interface ContainerFreezer {
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
}

export interface ContainerArchiveOptions {
  containers: ContainerService;
  layers: LayerStore;
  images: ImageService;
  freezer?: ContainerFreezer;
  engineVersion: string;
  /** Publishes a container event (`commit`, `export`). */
  event?: (rec: ContainerRecord, action: string, extra?: Record<string, string>) => void;
}

/** Files berth mounts over in every container: never part of its changes, as with Docker. */
export const ENGINE_MOUNTED_FILES: ReadonlySet<string> = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf', '.dockerenv']);

export interface CommitRequest {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause: boolean;
  changes: string[];
  config?: ImageRunConfig;
}

/** What a container's read-write layer gives: changes (diff), a filesystem tar (export), an image (commit). */
export class ContainerArchive {
  constructor(private readonly o: ContainerArchiveOptions) {}

  /** The engine's own mount points; user mounts' mount points show, as with Docker. */
  private excluded(_rec: ContainerRecord): ReadonlySet<string> {
    return ENGINE_MOUNTED_FILES;
  }

  async changes(idOrName: string): Promise<FileChange[]> {
    const rec = this.o.containers.get(idOrName);
    return this.o.layers.changesRw(rec.id, { exclude: this.excluded(rec) });
  }

  /** The container's whole filesystem as a tar; the mount is held until the stream ends. */
  async export(idOrName: string): Promise<Readable> {
    const rec = this.o.containers.get(idOrName);
    const idMap = await this.o.layers.rwIdMap(rec.id);
    const rootfs = await this.o.layers.mountRw(rec.id);
    const tar = tarDiff(rootfs, { kind: 'tree' }, idMap ? { idMap } : {});
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      void this.o.layers.unmountRw(rec.id).catch(() => undefined);
    };
    tar.once('close', release);
    tar.once('end', release);
    tar.once('error', release);
    this.o.event?.(rec, 'export');
    return tar;
  }

  async commit(idOrName: string, req: CommitRequest): Promise<ImageId> {
    const rec = this.o.containers.get(idOrName);
    let canonical: string | undefined;
    if (req.repo) canonical = this.o.images.canonicalName(req.repo, req.tag);
    const freeze = req.pause && rec.state.status === 'running' && this.o.freezer !== undefined;
    if (freeze) await this.o.freezer!.pause(rec.id);
    try {
      const id = await commitContainer(
        { layers: this.o.layers, images: this.o.images },
        {
          rwLayer: rec.id,
          parentImage: rec.imageId === '' ? null : (rec.imageId as ImageId),
          containerId: rec.id,
          containerConfig: rec.config as ImageRunConfig,
        },
        {
          ...(req.config ? { config: req.config } : {}),
          changes: req.changes,
          ...(req.author ? { author: req.author } : {}),
          ...(req.comment ? { comment: req.comment } : {}),
          exclude: this.excluded(rec),
          engineVersion: this.o.engineVersion,
        },
      );
      if (!this.o.containers.find(rec.id)) throw new ConflictError(`container ${rec.id} was removed during commit`);
      if (canonical) this.o.images.tag(id, canonical);
      // Inside the pause, as Docker orders them: pause, commit, unpause.
      this.o.event?.(rec, 'commit', { comment: req.comment ?? '' });
      return id;
    } finally {
      if (freeze) await this.o.freezer!.resume(rec.id).catch(() => undefined);
    }
  }
}

