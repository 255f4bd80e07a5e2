import type { Readable } from 'node:stream';
import type { IdMapping } from '../common/index.js';
import type { FileChange, TarDiffOptions } from './tar-diff.js';

export interface ApplyDiffOptions {
  /** See ApplyTarOptions.onFile. */
  onFile?: (rel: string | null) => void;
}

export interface CreateLayerOptions {
  /**
   * A container's read-write layer in a user namespace: its own files belong to the mapping's
   * ids, and its parents' files show shifted by it when mounted (owned by 0 in the image, owned by
   * the namespace's root on the host).
   */
  idMap?: IdMapping;
}

/**
 * A graph driver keeps layer contents on disk, one directory tree per layer id (the "cache id"),
 * and builds a container's root filesystem by stacking a layer on its parents.
 * Implementations: Overlay2Driver (kernel overlayfs), VfsDriver (full copies).
 */
export interface GraphDriver {
  readonly name: 'overlay2' | 'vfs';
  /** Creates an empty layer `id` on top of `parent` (null for a base layer). */
  create(id: string, parent: string | null, opts?: CreateLayerOptions): Promise<void>;
  /** The user namespace mapping `id` was created with; undefined for a plain layer. */
  idMap(id: string): Promise<IdMapping | undefined>;
  /**
   * Puts `id`, created without a parent and filled by applyDiff, on top of `parent` afterwards.
   * Only drivers whose layers hold their own changes alone (overlay2) can; vfs cannot.
   */
  setParent?(id: string, parent: string): Promise<void>;
  /** Applies a layer tar (uncompressed) into `id`'s diff, translating whiteouts. Returns bytes unpacked. */
  applyDiff(id: string, tar: Readable, opts?: ApplyDiffOptions): Promise<number>;
  /** The directory holding the files `applyDiff` wrote for `id` (where `onFile` paths are relative to). */
  contentDir(id: string): string;
  /** Mounts (or prepares) the stacked rootfs of `id` and returns its path. Reference-counted. */
  mount(id: string): Promise<string>;
  unmount(id: string): Promise<void>;
  /** Unmounts if needed and deletes the layer's files. Missing layers are not an error. */
  remove(id: string): Promise<void>;
  exists(id: string): Promise<boolean>;
  /** Every layer id with files under the driver's root (for the consistency check). */
  ids(): Promise<string[]>;
  /** Bytes used by `id`'s own diff (not its parents). */
  diffSize(id: string): Promise<number>;
  /** Streams `id`'s own changes as a layer tar with whiteouts in the `.wh.` form. */
  diff(id: string, opts?: TarDiffOptions): Promise<Readable>;
  /** `id`'s own changes as Docker's change list (sorted by path, as the layer tar). */
  changes(id: string, opts?: TarDiffOptions): Promise<FileChange[]>;
  /** GraphDriver.Data for inspect (LowerDir, MergedDir, UpperDir, WorkDir for overlay2). */
  metadata(id: string): Promise<Record<string, string>>;
  /** Unmounts every mount this driver left (start-up sweep and shutdown). */
  cleanup(): Promise<void>;
}
