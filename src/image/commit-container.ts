import type { Readable } from 'node:stream';
import { NotFoundError } from '../common/errors.js';
import type { ChainId, ImageId } from '../common/ids.js';
import type { LayerStore } from '../layer/index.js';
import { applyConfigChanges } from './config-changes.js';
import { hostArchitecture, type HistoryEntry, type ImageConfig, type ImageRunConfig } from './image-config.js';
import type { ImageService } from './image-service.js';

/** What a commit reads: a read-write layer over an image. */
export interface CommitSource {
  /** The graph driver id of the read-write layer (a container's id). */
  rwLayer: string;
  /** The image the layer stands on (null for a container of `scratch`). */
  parentImage: ImageId | null;
  /** Recorded as `container` in the new config ('' for none). */
  containerId: string;
  /** The container's own config, recorded as `container_config` and the base of the new `config`. */
  containerConfig: ImageRunConfig;
}

export interface CommitOptions {
  /** Overrides merged over the container's config (the body of `POST /commit`). */
  config?: ImageRunConfig;
  /** `--change` Dockerfile instructions applied last. */
  changes?: string[];
  author?: string;
  comment?: string;
  /** The history line; Docker's default is the container's command. */
  createdBy?: string;
  /** Paths left out of the layer (files the engine mounts over, like `etc/hosts`). */
  exclude?: ReadonlySet<string>;
  /** Version string recorded as `docker_version`. */
  engineVersion?: string;
  signal?: AbortSignal;
}

export interface CommitDeps {
  layers: LayerStore;
  images: ImageService;
}

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/** Docker's commit merge: fields the user left empty come from the container's config. */
function mergeConfig(user: ImageRunConfig | undefined, container: ImageRunConfig): ImageRunConfig {
  const out: ImageRunConfig = { ...container };
  if (!user) return out;
  for (const [k, v] of Object.entries(user) as Array<[keyof ImageRunConfig, unknown]>) {
    if (isEmptyValue(v)) continue;
    if (k === 'Env' && Array.isArray(v)) {
      const env = [...(container.Env ?? [])];
      for (const e of v as string[]) {
        const key = e.split('=', 1)[0];
        const i = env.findIndex((x) => x.split('=', 1)[0] === key);
        if (i >= 0) env[i] = e; else env.push(e);
      }
      out.Env = env;
    } else if ((k === 'ExposedPorts' || k === 'Volumes' || k === 'Labels') && typeof v === 'object') {
      (out as Record<string, unknown>)[k] = { ...((container[k] as object | null | undefined) ?? {}), ...(v as object) };
    } else {
      (out as Record<string, unknown>)[k] = v;
    }
  }
  return out;
}

/**
 * Makes an image of a read-write layer: the parent image's layers plus the layer's changes as
 * one new layer, a history entry, and Docker's `container`/`container_config` fields. Returns the
 * new image id; tagging is the caller's. Nothing is left behind when it fails.
 * Reused by the builder for its RUN steps.
 */
export async function commitContainer(deps: CommitDeps, src: CommitSource, opts: CommitOptions = {}): Promise<ImageId> {
  const parent = src.parentImage === null ? null : deps.images.store.find(src.parentImage);
  if (src.parentImage !== null && !parent) throw new NotFoundError(`No such image: ${src.parentImage}`);
  const runConfig = applyConfigChanges(mergeConfig(opts.config, src.containerConfig), opts.changes ?? []);
  const tar: Readable = await deps.layers.diffRw(src.rwLayer, opts.exclude ? { exclude: opts.exclude } : {});
  const top: ChainId | null = parent?.topLayer ?? null;
  const layer = await deps.layers.register(tar, top, opts.signal ? { signal: opts.signal } : {});
  const created = new Date().toISOString();
  const entry: HistoryEntry = {
    created,
    created_by: opts.createdBy ?? (src.containerConfig.Cmd ?? []).join(' '),
    ...(opts.author ? { author: opts.author } : {}),
    ...(opts.comment ? { comment: opts.comment } : {}),
  };
  const base = parent?.config;
  const config: ImageConfig & { parent?: string } = {
    architecture: base?.architecture ?? hostArchitecture(),
    ...(base?.variant ? { variant: base.variant } : {}),
    os: base?.os ?? 'linux',
    author: opts.author ?? '',
    comment: opts.comment ?? '',
    config: runConfig,
    container: src.containerId,
    container_config: src.containerConfig,
    created,
    docker_version: opts.engineVersion ?? '',
    history: [...(base?.history ?? []), entry],
    ...(parent ? { parent: parent.id } : {}),
    rootfs: { type: 'layers', diff_ids: [...(base?.rootfs.diff_ids ?? []), layer.diffId] },
  };
  try {
    return await deps.images.registerConfig(JSON.stringify(config), layer.chainId);
  } catch (err) {
    if (deps.images.store.countUsingLayer(layer.chainId) === 0) await deps.layers.release(layer.chainId).catch(() => undefined);
    throw err;
  }
}
