import type { Readable } from 'node:stream';
import { ConflictError, InvalidParameterError, NotFoundError } from '../common/errors.js';
import { chainIdOf, shortId, type ChainId, type Digest, type ImageId } from '../common/ids.js';
import type { BlobStore } from '../store/blob-store.js';
import type { LayerStore } from '../layer/index.js';
import type { ImageConfig, HistoryEntry } from './image-config.js';
import { hostArchitecture } from './image-config.js';
import { applyConfigChanges } from './config-changes.js';
import type { ImageRecord } from './image-store.js';
import { ImageStore } from './image-store.js';
import { parseReference, withDefaultTag, formatReference, familiarString } from '../common/reference.js';

/** Tells the image service which container (if any) uses an image; plugged in by the daemon. */
export interface ImageUsage {
  containersUsing(imageId: string): Array<{ id: string; running: boolean }>;
}

export interface ImportOptions {
  repo?: string;
  tag?: string;
  message?: string;
  changes?: string[];
}

export type RemoveResult = Array<{ Untagged: string } | { Deleted: string }>;

export interface ImageEvent {
  action: 'import' | 'tag' | 'untag' | 'delete' | 'load' | 'save' | 'pull' | 'push';
  id: string;
  name: string;
}

export class ImageService {
  private usage: ImageUsage = { containersUsing: () => [] };
  private listeners: Array<(e: ImageEvent) => void> = [];

  constructor(
    readonly store: ImageStore,
    private readonly layers: LayerStore,
    private readonly blobs: BlobStore,
  ) {}

  setUsage(usage: ImageUsage): void {
    this.usage = usage;
  }

  onEvent(fn: (e: ImageEvent) => void): void {
    this.listeners.push(fn);
  }

  /** Publishes an image event for work done outside this service (load, save, pull, push). */
  announce(e: ImageEvent): void {
    this.emit(e);
  }

  private emit(e: ImageEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  resolve(name: string): ImageRecord {
    return this.store.resolve(name);
  }

  /** `import`: one layer from a rootfs tar (plain or gzip), config from the changes. */
  async importRootfs(tar: Readable, opts: ImportOptions): Promise<ImageId> {
    // Validate the name before touching disk, so a bad name leaves nothing behind.
    let canonical: string | undefined;
    if (opts.repo) {
      const ref = parseReference(opts.tag ? `${opts.repo}:${opts.tag}` : opts.repo);
      canonical = formatReference(withDefaultTag(ref));
    }
    const runConfig = applyConfigChanges({}, opts.changes ?? []);
    const layer = await this.layers.register(tar, null);
    const created = new Date().toISOString();
    const history: HistoryEntry = { created, created_by: '', comment: opts.message || 'Imported from -' };
    const config: ImageConfig = {
      architecture: hostArchitecture(),
      os: 'linux',
      created,
      comment: opts.message ?? '',
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [history],
    };
    let id: ImageId;
    try {
      id = await this.registerConfig(JSON.stringify(config), layer.chainId);
    } catch (err) {
      if (this.store.countUsingLayer(layer.chainId) === 0) await this.layers.release(layer.chainId).catch(() => undefined);
      throw err;
    }
    this.emit({ action: 'import', id, name: id });
    if (canonical) this.tag(id, canonical);
    return id;
  }

  /**
   * Makes an image visible from its exact config bytes (the id is their digest) over a layer chain
   * that is already registered. The config's rootfs must name exactly that chain. The config blob
   * is stored and verified before the row appears. Idempotent; emits no event (callers do).
   */
  async registerConfig(configJson: string, topLayer: ChainId | null): Promise<ImageId> {
    let parsed: ImageConfig;
    try {
      parsed = JSON.parse(configJson) as ImageConfig;
    } catch {
      throw new InvalidParameterError('invalid image config: not JSON');
    }
    const diffIds = parsed.rootfs?.diff_ids ?? [];
    if (chainIdOf(diffIds) !== topLayer) {
      throw new InvalidParameterError('invalid image config: rootfs.diff_ids do not match the layers');
    }
    await this.blobs.ingest(Buffer.from(configJson, 'utf8'));
    return this.store.create(configJson, topLayer);
  }

  /** The canonical reference for `repo[:tag]` (tag defaults to latest); invalid names throw. */
  canonicalName(repo: string, tag?: string): string {
    return formatReference(withDefaultTag(parseReference(tag ? `${repo}:${tag}` : repo)));
  }

  tag(id: ImageId, canonical: string): void {
    this.store.tag(id, canonical);
    this.emit({ action: 'tag', id, name: familiarString(parseReference(canonical)) });
  }

  /** `docker tag SOURCE repo:tag`. */
  tagByName(source: string, repo: string, tag: string | undefined): void {
    const rec = this.store.resolve(source);
    const ref = parseReference(tag ? `${repo}:${tag}` : repo);
    this.tag(rec.id, formatReference(withDefaultTag(ref)));
  }

  /**
   * Docker's rmi: a name removes that reference, and the image once no reference is left;
   * an id removes the image with its references. Conflicts are Docker's.
   */
  async remove(name: string, opts: { force: boolean; prune: boolean }): Promise<RemoveResult> {
    const rec = this.store.resolve(name);
    let refs = this.store.refsOf(rec.id);
    const users = this.usage.containersUsing(rec.id);
    const out: RemoveResult = [];
    const untag = (canonical: string): void => {
      this.store.untag(canonical);
      const fam = familiarString(parseReference(canonical));
      this.emit({ action: 'untag', id: rec.id, name: fam });
      out.push({ Untagged: fam });
    };
    const canonical = safeCanonical(name);
    let quiet = false;
    // `name@sha256:..`: that digest reference goes; the image only once nothing else names it.
    const digestRef = canonical?.includes('@') ? canonical.replace(/:[^/@]+@/, '@') : undefined;
    if (digestRef && this.store.repoDigestsOf(rec.id).includes(digestRef)) {
      this.store.removeRepoDigest(digestRef);
      const fam = familiarString(parseReference(digestRef));
      this.emit({ action: 'untag', id: rec.id, name: fam });
      out.push({ Untagged: fam });
      if (refs.length || this.store.repoDigestsOf(rec.id).length) return out;
      quiet = true;
    }
    const byId = !quiet && !(canonical && refs.includes(canonical));
    if (!byId && !quiet) {
      if (!opts.force && refs.length === 1 && users.length) {
        throw new ConflictError(`conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(rec.id)}`);
      }
      untag(canonical!);
      refs = this.store.refsOf(rec.id);
      if (refs.length) return out;
      quiet = true;
    }
    const running = users.find((u) => u.running);
    const conflict = running
      ? `conflict: unable to delete ${shortId(rec.id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`
      : !opts.force && users.length
        ? `conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is being used by stopped container ${shortId(users[0]!.id)}`
        : !opts.force && refs.length > 1
          ? `conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`
          : undefined;
    if (conflict) {
      if (quiet) return out;
      throw new ConflictError(conflict);
    }
    for (const r of refs) untag(r);
    // A stopped container still stands on the image's layers: keep the image, untagged.
    if (users.length) return out;
    // Its digest references go with it, as Docker lists them.
    for (const d of this.store.repoDigestsOf(rec.id)) out.push({ Untagged: familiarString(parseReference(d)) });
    const top = this.store.delete(rec.id);
    await this.blobs.remove(rec.id as string as Digest);
    out.push({ Deleted: rec.id });
    if (top && opts.prune) await this.releaseChain(top);
    this.emit({ action: 'delete', id: rec.id, name: rec.id });
    return out;
  }

  /** Releases layers from the top down while no image still stands on them. */
  private async releaseChain(top: ChainId): Promise<void> {
    let cur: ChainId | null = top;
    while (cur) {
      if (this.store.countUsingLayer(cur) > 0) return;
      const layer = this.layers.find(cur);
      if (!layer) return;
      const parent = layer.parent;
      const deleted = await this.layers.release(cur);
      if (!deleted) return;
      cur = parent;
    }
  }

  /**
   * Start-up: releases layers no image stands on (what a load, commit or pull killed between
   * its layers and its image row left). Every container stands on an image, so this never
   * touches a container's parents; `keep` names other tops to keep (the build cache's).
   * Returns how many went.
   */
  async sweepUnusedLayers(opts: { keep?: Iterable<ChainId> } = {}): Promise<number> {
    let removed = 0;
    const keep = [...(opts.keep ?? [])];
    for (;;) {
      const tops = new Set([...this.store.list().map((r) => r.topLayer).filter((t): t is ChainId => t !== null), ...keep]);
      const parents = new Set(this.layers.list().map((l) => l.parent).filter((p): p is ChainId => p !== null));
      const unused = this.layers.list().filter((l) => !tops.has(l.chainId) && !parents.has(l.chainId));
      if (unused.length === 0) return removed;
      let round = 0;
      for (const l of unused) if (await this.layers.release(l.chainId)) round++;
      if (round === 0) return removed;
      removed += round;
    }
  }

  /**
   * `image prune`: removes images no container uses; only untagged ones unless `all`. `until`
   * (unix seconds) keeps newer images; `labels`/`notLabels` are `key` or `key=value`.
   */
  async prune(opts: { all: boolean; until?: number; labels?: string[]; notLabels?: string[] }): Promise<{ deleted: RemoveResult; spaceReclaimed: number }> {
    const layerBytes = (): number => this.layers.list().reduce((n, l) => n + l.size, 0);
    const before = layerBytes();
    const refs = this.store.allRefs();
    const matches = (labels: Record<string, string>, l: string): boolean => {
      const eq = l.indexOf('=');
      return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
    };
    const deleted: RemoveResult = [];
    for (const rec of this.store.list()) {
      if (!opts.all && (refs.get(rec.id)?.length ?? 0) > 0) continue;
      if (this.usage.containersUsing(rec.id).length > 0) continue;
      const created = Date.parse(rec.config.created ?? '') / 1000;
      if (opts.until !== undefined && !(created < opts.until)) continue;
      const labels = rec.config.config?.Labels ?? {};
      if (opts.labels?.some((l) => !matches(labels, l))) continue;
      if (opts.notLabels?.some((l) => matches(labels, l))) continue;
      if (!this.store.find(rec.id)) continue;
      deleted.push(...(await this.remove(rec.id, { force: true, prune: true })));
    }
    return { deleted, spaceReclaimed: Math.max(0, before - layerBytes()) };
  }

  /** Sum of the image's layer sizes. */
  size(rec: ImageRecord): number {
    return rec.topLayer ? this.layers.chainSize(rec.topLayer) : 0;
  }

  history(name: string): Array<{ Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string }> {
    const rec = this.store.resolve(name);
    const hist = rec.config.history ?? [];
    // Layer sizes, base first, to pair with the history entries that made a layer.
    const layerSizes: number[] = [];
    for (let chain: ChainId | null = rec.topLayer; chain;) {
      const l = this.layers.find(chain);
      if (!l) break;
      layerSizes.unshift(l.size);
      chain = l.parent;
    }
    const out = [];
    let li = 0;
    for (let i = 0; i < hist.length; i++) {
      const h = hist[i]!;
      const size = h.empty_layer ? 0 : layerSizes[li++] ?? 0;
      out.push({
        Id: i === hist.length - 1 ? rec.id : '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: i === hist.length - 1 ? this.store.refsOf(rec.id).map((r) => familiarString(parseReference(r))) : null,
        Size: size,
        Comment: h.comment ?? '',
      });
    }
    return out.reverse();
  }

  /** RepoDigests as Docker shows them: `busybox@sha256:..`, `localhost:5000/x@sha256:..`. */
  familiarRepoDigests(id: string): string[] {
    return this.store.repoDigestsOf(id).map((r) => familiarString(parseReference(r)));
  }

  familiarRefs(id: string): string[] {
    return this.store.refsOf(id).map((r) => familiarString(parseReference(r)));
  }

  get(id: string): ImageRecord {
    const rec = this.store.find(id);
    if (!rec) throw new NotFoundError(`No such image: ${id}`);
    return rec;
  }
}

function safeCanonical(name: string): string | undefined {
  try {
    return formatReference(withDefaultTag(parseReference(name)));
  } catch {
    return undefined;
  }
}
