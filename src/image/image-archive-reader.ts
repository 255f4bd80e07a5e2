import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { EngineError, InvalidParameterError, SystemError, errorMessage } from '../common/errors.js';
import { chainIdOf, shortId, type ChainId, type DiffId, type ImageId } from '../common/ids.js';
import { familiarString, formatReference, parseReference, withDefaultTag } from '../common/reference.js';
import { PaxTap, cleanMemberName, decompressedStream, type LayerStore, type PendingLayer } from '../layer/index.js';

import type { ImageConfig } from './image-config.js';
import { hostArchitecture } from './image-config.js';
import type { ImageService } from './image-service.js';

export interface LoadDeps {
  images: ImageService;
  layers: LayerStore;
}

export interface LoadOptions {
  /** Progress and result lines, as Docker's JSON messages. */
  onMessage?: (msg: Record<string, unknown>) => void;
  /** Cap on the uncompressed archive (DEFAULT_MAX_UNCOMPRESSED when unset). */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface LoadedImage {
  id: ImageId;
  tags: string[];
}

/** What an archive holds, checked before anything is registered. */
interface PlannedImage {
  configJson: string;
  config: ImageConfig;
  layers: Array<{ path: string; diffId: DiffId; blobDigest?: string }>;
  /** Canonical references. */
  refs: string[];
}

/** The archive unpacked in a scratch dir: member paths (cleaned) to files; links resolved lazily. */
class UnpackedArchive {
  readonly files = new Set<string>();
  readonly links = new Map<string, string>();
  /** Layer tars already extracted as they streamed by (`<dir>/layer.tar` of docker save). */
  readonly detached = new Map<string, PendingLayer>();
  constructor(readonly dir: string) {}

  /** The member a path names, following the archive's own links (never the disk's). */
  member(name: string): string | undefined {
    let path = cleanMemberName(name).join('/');
    for (let hops = 0; hops < 16; hops++) {
      if (this.files.has(path) || this.detached.has(path)) return path;
      const target = this.links.get(path);
      if (target === undefined) return undefined;
      path = target;
    }
    return undefined;
  }

  /** The on-disk file for a member path. */
  resolve(name: string): string | undefined {
    const m = this.member(name);
    return m !== undefined && this.files.has(m) ? join(this.dir, 'files', m) : undefined;
  }

  async read(member: string, what: string): Promise<Buffer> {
    const p = this.resolve(member);
    if (!p) throw new InvalidParameterError(`invalid archive: ${what} ${member} not found`);
    const st = await stat(p);
    if (st.size > 64 * 1024 * 1024) throw new InvalidParameterError(`invalid archive: ${what} ${member} is too large`);
    return readFile(p);
  }
}

/** Unpacks only regular files and directories (links are recorded, never created), names contained. */
async function unpack(input: Readable, dir: string, opts: LoadOptions, layers: LayerStore, archive: UnpackedArchive): Promise<void> {
  const filesRoot = join(dir, 'files');
  await mkdir(filesRoot, { recursive: true, mode: 0o700 });
  const plain = await decompressedStream(input, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    maxBytes: opts.maxBytes ?? layers.maxLayerBytes,
    what: 'archive',
  });
  const extract = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
  const madeDirs = new Set<string>();
  const ensureDir = async (parts: string[]): Promise<void> => {
    const key = parts.join('/');
    if (parts.length === 0 || madeDirs.has(key)) return;
    if (archive.files.has(key)) throw new InvalidParameterError(`invalid archive: ${key} is both a file and a directory`);
    await mkdir(join(filesRoot, ...parts), { recursive: true, mode: 0o700 });
    for (let i = 1; i <= parts.length; i++) madeDirs.add(parts.slice(0, i).join('/'));
  };
  let current: Promise<void> = Promise.resolve();
  extract.on('entry', (header, stream, next) => {
    stream.on('error', () => undefined);
    const handle = async (): Promise<void> => {
      const parts = cleanMemberName(header.name);
      const key = parts.join('/');
      const type = header.type ?? 'file';
      if (parts.length === 0) return;
      if (type === 'directory') {
        await ensureDir(parts);
        return;
      }
      if (type === 'symlink' || type === 'link') {
        const linkname = header.linkname ?? '';
        // Symlinks resolve from their own directory; hardlinks name a member from the root.
        const target = type === 'symlink'
          ? posix.normalize(posix.join(parts.slice(0, -1).join('/'), linkname))
          : posix.normalize(linkname.replace(/^(\.?\/)+/, ''));
        if (linkname.startsWith('/') || target === '..' || target.startsWith('../')) {
          throw new InvalidParameterError(`invalid archive: link ${header.name} points outside the archive`);
        }
        archive.links.set(key, target);
        return;
      }
      if (type !== 'file' && type !== 'contiguous-file') return; // nothing else belongs in an image archive
      if (madeDirs.has(key)) throw new InvalidParameterError(`invalid archive: ${key} is both a file and a directory`);
      if (parts.length === 2 && parts[1] === 'layer.tar' && layers.supportsDetached && !archive.detached.has(key) && !archive.files.has(key)) {
        // docker save's layer: extract it now, straight from the stream, and place it once the manifest says where.
        opts.onMessage?.({ status: 'Loading layer', progressDetail: { current: 0, total: header.size ?? 0 }, id: shortId(key) });
        const pending = await layers.ingestDetached(stream as unknown as Readable, opts.signal ? { signal: opts.signal } : {});
        archive.detached.set(key, pending);
        archive.links.delete(key);
        opts.onMessage?.({ status: 'Loading layer', progressDetail: { current: header.size ?? 0, total: header.size ?? 0 }, id: shortId(key) });
        return;
      }
      await ensureDir(parts.slice(0, -1));
      const fh = await open(join(filesRoot, ...parts), 'w', 0o600);
      try {
        for await (const chunk of stream) await fh.write(chunk as Buffer);
      } finally {
        await fh.close();
      }
      archive.files.add(key);
      archive.links.delete(key);
    };
    current = handle();
    current.then(async () => {
      for await (const _ of stream) { /* drain */ }
      next();
    }, (err: unknown) => next(err as Error));
  });
  try {
    await pipeline(plain, new PaxTap(), extract);
  } catch (err) {
    // An entry still being written (a layer mid-extraction) finishes its own cleanup first.
    await current.catch(() => undefined);
    if (err instanceof EngineError) throw err;
    throw new InvalidParameterError(`invalid archive: ${errorMessage(err)}`, { cause: err });
  }
}

function parseJson<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw new InvalidParameterError(`invalid archive: ${what} is not valid JSON`);
  }
}

function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

function canonicalTag(tag: string): string {
  try {
    const ref = parseReference(tag);
    if (ref.digest !== undefined) throw new Error('digest');
    return formatReference(withDefaultTag(ref));
  } catch {
    throw new InvalidParameterError(`invalid archive: invalid reference format: ${tag}`);
  }
}

function checkConfig(configJson: string, layerCount: number, what: string): ImageConfig {
  const config = parseJson<ImageConfig>(Buffer.from(configJson), what);
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d))) {
    throw new InvalidParameterError(`invalid archive: ${what} has no valid rootfs.diff_ids`);
  }
  if (diffIds.length !== layerCount) {
    throw new InvalidParameterError(`invalid archive: ${what} names ${diffIds.length} layers, the manifest ${layerCount}`);
  }
  return config;
}

/** `manifest.json` (docker save, from any Docker version). */
async function planDockerArchive(a: UnpackedArchive): Promise<PlannedImage[]> {
  const manifest = parseJson<Array<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }>>(await a.read('manifest.json', 'manifest'), 'manifest.json');
  if (!Array.isArray(manifest)) throw new InvalidParameterError('invalid archive: manifest.json is not a list');
  const out: PlannedImage[] = [];
  for (const m of manifest) {
    if (typeof m?.Config !== 'string' || !Array.isArray(m.Layers)) throw new InvalidParameterError('invalid archive: manifest.json entry without Config or Layers');
    const configJson = (await a.read(m.Config, 'config')).toString('utf8');
    const config = checkConfig(configJson, m.Layers.length, m.Config);
    const layers = m.Layers.map((path, i) => {
      if (a.member(path) === undefined) throw new InvalidParameterError(`invalid archive: layer ${path} not found`);
      return { path, diffId: config.rootfs.diff_ids[i] as DiffId };
    });
    out.push({ configJson, config, layers, refs: (m.RepoTags ?? []).map(canonicalTag) });
  }
  return out;
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

function blobPath(digest: string): string {
  const m = /^(sha256):([0-9a-f]{64})$/.exec(digest ?? '');
  if (!m) throw new InvalidParameterError(`invalid archive: unsupported digest ${JSON.stringify(digest)}`);
  return `blobs/${m[1]}/${m[2]}`;
}

async function readBlob(a: UnpackedArchive, d: Descriptor, what: string): Promise<Buffer> {
  const data = await a.read(blobPath(d.digest!), what);
  if (sha256(data) !== d.digest) throw new InvalidParameterError(`invalid archive: ${what} ${d.digest}: digest mismatch`);
  return data;
}

/** The name an OCI layout gives a manifest: containerd's full name, else a full reference in ref.name. */
function ociRef(d: Descriptor): string | undefined {
  const full = d.annotations?.['io.containerd.image.name'];
  if (full) return canonicalTag(full);
  const refName = d.annotations?.['org.opencontainers.image.ref.name'];
  if (refName && /[/:]/.test(refName)) {
    try {
      return canonicalTag(refName);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** `index.json` + `oci-layout` + `blobs/` (OCI image layout, e.g. skopeo's oci-archive). */
async function planOciLayout(a: UnpackedArchive): Promise<PlannedImage[]> {
  const index = parseJson<{ manifests?: Descriptor[] }>(await a.read('index.json', 'index'), 'index.json');
  const out = new Map<string, PlannedImage>();
  const arch = hostArchitecture();
  for (const top of index.manifests ?? []) {
    let desc = top;
    let depth = 0;
    while (desc.mediaType !== undefined && INDEX_TYPES.has(desc.mediaType)) {
      if (++depth > 4) throw new InvalidParameterError('invalid archive: indexes nested too deep');
      const nested = parseJson<{ manifests?: Descriptor[] }>(await readBlob(a, desc, 'index'), 'index');
      const pick = (nested.manifests ?? []).find((m) => (m.platform?.os ?? 'linux') === 'linux' && (m.platform?.architecture ?? arch) === arch);
      if (!pick) throw new InvalidParameterError(`invalid archive: no manifest for linux/${arch}`);
      desc = pick;
    }
    const manifest = parseJson<{ config?: Descriptor; layers?: Descriptor[] }>(await readBlob(a, desc, 'manifest'), 'manifest');
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw new InvalidParameterError('invalid archive: manifest without config or layers');
    const configJson = (await readBlob(a, manifest.config, 'config')).toString('utf8');
    const config = checkConfig(configJson, manifest.layers.length, `config ${manifest.config.digest}`);
    const layers = manifest.layers.map((l, i) => {
      const path = blobPath(l.digest!);
      if (!a.resolve(path)) throw new InvalidParameterError(`invalid archive: layer ${l.digest} not found`);
      return { path, diffId: config.rootfs.diff_ids[i] as DiffId, blobDigest: l.digest! };
    });
    const key = sha256(Buffer.from(configJson));
    const item = out.get(key) ?? { configJson, config, layers, refs: [] };
    const ref = ociRef(top);
    if (ref && !item.refs.includes(ref)) item.refs.push(ref);
    out.set(key, item);
  }
  if (out.size === 0) throw new InvalidParameterError('invalid archive: index.json lists no images');
  return [...out.values()];
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * `docker load`: unpacks the archive (plain or gzip) into a scratch dir, reads `manifest.json`
 * (docker save) or `index.json` (OCI layout), checks every config and layer before anything is
 * registered, registers the layers (each verified against its diffID, blobs against their
 * digests), then the images, and tags them last. A failure removes what this load added.
 */
export async function loadArchive(deps: LoadDeps, input: Readable, opts: LoadOptions = {}): Promise<LoadedImage[]> {
  const scratch = deps.layers.scratchDir();
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(scratch, 'load-'));
  const newLayers: ChainId[] = [];
  const newImages: ImageId[] = [];
  const archive = new UnpackedArchive(dir);
  /** Detached layers already placed: the chain each went to. */
  const attached = new Map<string, ChainId>();
  try {
    await unpack(input, dir, opts, deps.layers, archive);
    let plan: PlannedImage[];
    if (archive.resolve('manifest.json')) plan = await planDockerArchive(archive);
    else if (archive.resolve('index.json')) plan = await planOciLayout(archive);
    else throw new InvalidParameterError('invalid archive: it holds neither manifest.json nor index.json');

    const loaded: LoadedImage[] = [];
    for (const item of plan) {
      let parent: ChainId | null = null;
      for (let i = 0; i < item.layers.length; i++) {
        const layer = item.layers[i]!;
        const chainId = chainIdOf(item.config.rootfs.diff_ids.slice(0, i + 1))!;
        const short = shortId(layer.diffId);
        const member = archive.member(layer.path)!;
        const pending = archive.detached.get(member);
        if (!deps.layers.find(chainId) && pending) {
          const placed = attached.get(member);
          // The same tar under two parents: the second copy comes from the first, byte for byte.
          const res: { chainId: ChainId } = placed === undefined
            ? await deps.layers.attach(pending, parent, { expectedDiffId: layer.diffId })
            : await deps.layers.register(await deps.layers.tar(placed), parent, { expectedDiffId: layer.diffId });
          if (placed === undefined) attached.set(member, res.chainId);
          if (res.chainId !== chainId) throw new SystemError(`layer ${layer.diffId} registered as ${res.chainId}, expected ${chainId}`);
          newLayers.push(chainId);
        } else if (!deps.layers.find(chainId)) {
          const file = archive.resolve(layer.path)!;
          if (layer.blobDigest && (await fileDigest(file)) !== layer.blobDigest) {
            throw new InvalidParameterError(`invalid archive: layer ${layer.blobDigest}: digest mismatch`);
          }
          const size = (await stat(file)).size;
          opts.onMessage?.({ status: 'Loading layer', progressDetail: { current: 0, total: size }, id: short });
          const res = await deps.layers.register(createReadStream(file), parent, {
            expectedDiffId: layer.diffId,
            ...(opts.signal ? { signal: opts.signal } : {}),
          });
          if (res.chainId !== chainId) throw new SystemError(`layer ${layer.diffId} registered as ${res.chainId}, expected ${chainId}`);
          newLayers.push(chainId);
          opts.onMessage?.({ status: 'Loading layer', progressDetail: { current: size, total: size }, id: short });
        }
        parent = chainId;
      }
      const id = (`sha256:${createHash('sha256').update(item.configJson).digest('hex')}`) as ImageId;
      const existed = deps.images.store.find(id) !== undefined;
      await deps.images.registerConfig(item.configJson, parent);
      if (!existed) newImages.push(id);
      loaded.push({ id, tags: item.refs });
    }
    // Everything is in place: tags last, so a failed load never moves a name.
    for (const l of loaded) {
      for (const ref of l.tags) {
        const prev = deps.images.store.findRef(ref);
        const fam = familiarString(parseReference(ref));
        if (prev && prev !== l.id) {
          opts.onMessage?.({ stream: `The image ${fam} already exists, renaming the old one with ID ${prev} to empty string\n` });
        }
        deps.images.tag(l.id, ref);
        opts.onMessage?.({ stream: `Loaded image: ${fam}\n` });
      }
      if (l.tags.length === 0) opts.onMessage?.({ stream: `Loaded image ID: ${l.id}\n` });
      deps.images.announce({ action: 'load', id: l.id, name: l.tags.length ? familiarString(parseReference(l.tags[0]!)) : l.id });
    }
    return loaded;
  } catch (err) {
    for (const id of newImages.reverse()) {
      await deps.images.remove(id, { force: true, prune: true }).catch(() => undefined);
    }
    for (const chain of newLayers.reverse()) {
      if (deps.images.store.countUsingLayer(chain) === 0) await deps.layers.release(chain).catch(() => undefined);
    }
    if (err instanceof EngineError) throw err;
    throw new SystemError(`loading archive: ${errorMessage(err)}`, { cause: err });
  } finally {
    for (const [member, pending] of archive.detached) {
      if (!attached.has(member)) await deps.layers.discard(pending).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  }
}
