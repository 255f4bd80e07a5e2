import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { NotFoundError } from '../common/errors.js';
import type { ChainId } from '../common/ids.js';
import { familiarString, formatReference, parseReference, withDefaultTag, repositoryName, familiarName } from '../common/reference.js';
import { encodeTarHeader, tarPadding, TAR_END_OF_ARCHIVE, type LayerStore } from '../layer/index.js';
import type { ImageRecord } from './image-store.js';
import type { ImageService } from './image-service.js';

/** One image to write, with the tags it is saved under (canonical references). */
interface SaveItem {
  image: ImageRecord;
  refs: string[];
}

export interface SaveDeps {
  images: ImageService;
  layers: LayerStore;
}

/** Fields of a legacy (v1) layer `json` file for layers below the top one, as Docker writes them. */
const EMPTY_V1_CONTAINER_CONFIG = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
  Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null,
  WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
};

function hex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Resolves what `docker save NAME...` means: a repository without tag saves all its tags, a
 * reference saves that tag, an id saves the image without tags. Unknown names throw before
 * anything is written.
 */
export function resolveSaveNames(images: ImageService, names: string[]): SaveItem[] {
  const byId = new Map<string, SaveItem>();
  const add = (image: ImageRecord, ref?: string): void => {
    const item = byId.get(image.id) ?? { image, refs: [] };
    if (ref && !item.refs.includes(ref)) item.refs.push(ref);
    byId.set(image.id, item);
  };
  const all = images.store.allRefs();
  for (const name of names) {
    let parsed;
    try {
      parsed = parseReference(name);
    } catch {
      parsed = undefined;
    }
    if (parsed && parsed.tag === undefined && parsed.digest === undefined) {
      // A bare repository: every tag of it.
      const repo = repositoryName(parsed);
      let found = false;
      for (const [id, refs] of all) {
        for (const r of refs) {
          if (r.startsWith(`${repo}:`)) {
            add(images.get(id), r);
            found = true;
          }
        }
      }
      if (found) continue;
    } else if (parsed && parsed.digest === undefined) {
      const canonical = formatReference(withDefaultTag(parsed));
      const id = images.store.findRef(canonical);
      if (id) {
        add(images.get(id), canonical);
        continue;
      }
    }
    const rec = images.store.findByName(name);
    if (!rec) throw new NotFoundError(`No such image: ${name}`);
    add(rec);
  }
  return [...byId.values()];
}

function fileHeader(name: string, size: number, mtime: number): Buffer {
  return encodeTarHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime });
}

function* smallFile(name: string, content: Buffer, mtime: number): Generator<Buffer> {
  yield fileHeader(name, content.length, mtime);
  yield content;
  const pad = tarPadding(content.length);
  if (pad) yield Buffer.alloc(pad);
}

/**
 * Streams `docker save`'s archive (the format Docker 20.10 writes and every `docker load`
 * reads): a directory per layer named by its legacy id with `VERSION`, `json` and `layer.tar`,
 * the config as `<hex>.json`, `manifest.json` and `repositories`. Layer tars stream from the
 * layer store, verified against their diffIDs; nothing is held in memory whole.
 */
export function dockerArchive(deps: SaveDeps, items: SaveItem[]): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    const written = new Set<string>();
    /** Chain id -> the v1 dir whose layer.tar holds it (later dirs link to it, as Docker does). */
    const layerFiles = new Map<string, string>();
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const { image, refs } of items) {
      const created = Math.floor(Date.parse(image.config.created ?? '') / 1000) || 0;
      const diffIds = image.config.rootfs.diff_ids;
      // The chain of layers, base first.
      const chain: ChainId[] = [];
      for (let c: ChainId | null = image.topLayer; c !== null; c = deps.layers.get(c).parent) chain.unshift(c);
      if (chain.length !== diffIds.length) throw new NotFoundError(`layers of image ${image.id} are missing`);
      const layerPaths: string[] = [];
      let parentV1 = '';
      for (let i = 0; i < chain.length; i++) {
        const top = i === chain.length - 1;
        // Legacy ids: stable per chain (and per config for the top layer), as Docker derives them.
        const v1 = sha256Hex(`${chain[i]}\n${parentV1}\n${top ? image.id : ''}`);
        const v1json = top
          ? { ...withoutRootfs(image.config), id: v1, ...(parentV1 ? { parent: parentV1 } : {}) }
          : { id: v1, ...(parentV1 ? { parent: parentV1 } : {}), created: '1970-01-01T00:00:00Z', container_config: EMPTY_V1_CONTAINER_CONFIG, os: image.config.os };
        layerPaths.push(`${v1}/layer.tar`);
        if (!written.has(v1)) {
          written.add(v1);
          yield encodeTarHeader({ name: `${v1}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: created });
          yield* smallFile(`${v1}/VERSION`, Buffer.from('1.0'), created);
          yield* smallFile(`${v1}/json`, Buffer.from(JSON.stringify(v1json)), created);
          const earlier = layerFiles.get(chain[i]!);
          if (earlier !== undefined) {
            yield encodeTarHeader({ name: `${v1}/layer.tar`, type: 'symlink', linkname: `../${earlier}/layer.tar`, mode: 0o777, uid: 0, gid: 0, size: 0, mtime: created });
            parentV1 = v1;
            continue;
          }
          layerFiles.set(chain[i]!, v1);
          const { size, stream } = await deps.layers.tarWithSize(chain[i]!);
          yield fileHeader(`${v1}/layer.tar`, size, created);
          let sent = 0;
          for await (const chunk of stream) {
            sent += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
          if (sent !== size) throw new Error(`layer ${diffIds[i]} changed size while being saved`);
          const pad = tarPadding(size);
          if (pad) yield Buffer.alloc(pad);
        }
        parentV1 = v1;
      }
      const configName = `${hex(image.id)}.json`;
      if (!written.has(configName)) {
        written.add(configName);
        yield* smallFile(configName, Buffer.from(image.configJson, 'utf8'), created);
      }
      const tags = refs.map((r) => familiarString(parseReference(r)));
      manifest.push({ Config: configName, RepoTags: tags.length ? tags : null, Layers: layerPaths });
      for (const r of refs) {
        const parsed = parseReference(r);
        const repo = familiarName(parsed);
        (repositories[repo] ??= {})[parsed.tag ?? 'latest'] = parentV1;
      }
    }
    const now = Math.floor(Date.now() / 1000);
    yield* smallFile('manifest.json', Buffer.from(JSON.stringify(manifest)), now);
    if (Object.keys(repositories).length) yield* smallFile('repositories', Buffer.from(JSON.stringify(repositories)), now);
    yield TAR_END_OF_ARCHIVE;
  }
  return Readable.from(generate(), { objectMode: false });
}

function withoutRootfs(config: ImageRecord['config']): Record<string, unknown> {
  const { rootfs: _r, history: _h, ...rest } = config;
  return rest;
}

