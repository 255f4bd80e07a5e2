import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { InvalidParameterError, NotFoundError, errorMessage } from '../common/errors.js';
import { sha256Digest, type ChainId, type Digest } from '../common/ids.js';
import type { Logger } from '../common/log.js';
import { familiarName, familiarString, formatReference, parseReference, repositoryName, type Reference } from '../common/reference.js';
import type { ImageRecord, ImageService } from '../image/index.js';
import type { LayerStore } from '../layer/index.js';
import type { BlobStore } from '../store/index.js';
import type { AuthConfig } from './auth-config.js';
import type { BlobRecords, LayerBlob } from './blob-records.js';
import { MEDIA, layerCompression } from './media-types.js';
import { ByteProgress, shortDigest, type ProgressSink } from './progress.js';
import type { RegistryAccess } from './registry-access.js';
import { RegistryError, asEngineError, registryError, repositoryScope, type RegistrySession } from './registry-client.js';

export interface PushServiceOptions {
  access: RegistryAccess;
  images: ImageService;
  layers: LayerStore;
  blobs: BlobStore;
  records: BlobRecords;
  maxConcurrentUploads: number;
  /** Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT. */
  chunkSize: number;
  logger: Logger;
}

export interface PushOptions {
  auth: AuthConfig;
  signal?: AbortSignal;
}

interface LayerPlan {
  diffId: string;
  chainId: ChainId;
  id: string;
  blob?: { digest: Digest; size: number; mediaType: string };
}

/** Sends images to registries: blobs (skipped, mounted or uploaded), config, then the manifest. */
export class PushService {
  constructor(private readonly o: PushServiceOptions) {}

  /** Changes the number of concurrent layer uploads for pushes that start from now on. */
  setMaxConcurrentUploads(n: number): void {
    this.o.maxConcurrentUploads = n;
  }

  /** The local tags a push of `name` (with or without a tag) covers; throws before any output. */
  resolve(name: string, tag: string | undefined): { ref: Reference; tags: Array<{ tag: string; image: ImageRecord }> } {
    const ref = parseReference(name);
    const repo = repositoryName(ref);
    const wanted = tag || ref.tag;
    const tags: Array<{ tag: string; image: ImageRecord }> = [];
    if (wanted) {
      const image = this.o.images.store.findByName(`${repo}:${wanted}`);
      if (!image) throw new NotFoundError(`tag does not exist: ${familiarName(ref)}:${wanted}`);
      tags.push({ tag: wanted, image });
    } else {
      for (const [imageId, names] of this.o.images.store.allRefs()) {
        for (const n of names) {
          const r = parseReference(n);
          if (repositoryName(r) === repo && r.tag) tags.push({ tag: r.tag, image: this.o.images.store.get(imageId) });
        }
      }
      if (!tags.length) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(ref)}`);
      tags.sort((a, b) => a.tag.localeCompare(b.tag));
    }
    return { ref: { domain: ref.domain, path: ref.path }, tags };
  }

  async push(ref: Reference, tags: Array<{ tag: string; image: ImageRecord }>, out: ProgressSink, opts: PushOptions): Promise<void> {
    const sameRegistryRepos = new Set<string>();
    for (const t of tags) {
      for (const d of t.image.config.rootfs.diff_ids) {
        for (const b of this.o.records.forDiffId(d)) if (b.registry === ref.domain && b.repository !== ref.path) sameRegistryRepos.add(b.repository);
      }
    }
    const extraScopes = [...sameRegistryRepos].slice(0, 5).map((r) => repositoryScope(r, ['pull']));
    const session = this.o.access.sessions(ref, opts.auth, { push: true, extraScopes })[0]!;
    out.write({ status: `The push refers to repository [${repositoryName(ref) === `docker.io/${ref.path}` ? `docker.io/${ref.path}` : repositoryName(ref)}]` });
    for (const t of tags) {
      await this.pushTag(session, ref, t.tag, t.image, out, opts.signal);
    }
  }

  private async pushTag(session: RegistrySession, ref: Reference, tag: string, image: ImageRecord, out: ProgressSink, signal?: AbortSignal): Promise<void> {
    const diffIds = image.config.rootfs.diff_ids;
    const chains: ChainId[] = [];
    for (let c: ChainId | null = image.topLayer; c; c = this.o.layers.get(c).parent) chains.unshift(c);
    if (chains.length !== diffIds.length) throw new InvalidParameterError(`image ${image.id} has ${chains.length} layers but its config names ${diffIds.length}`);
    const plans: LayerPlan[] = diffIds.map((d, i) => ({ diffId: d, chainId: chains[i]!, id: shortDigest(d) }));
    // Docker lists the layers top first.
    for (const p of [...plans].reverse()) out.write({ status: 'Preparing', progressDetail: {}, id: p.id });
    const seen = new Map<string, Promise<void>>();
    let active = 0;
    const waiters: Array<() => void> = [];
    const runLimited = async (p: LayerPlan): Promise<void> => {
      if (active >= this.o.maxConcurrentUploads) {
        out.write({ status: 'Waiting', progressDetail: {}, id: p.id });
        await new Promise<void>((r) => waiters.push(r));
      } else active++;
      try {
        await this.pushLayer(session, ref, p, out, signal);
      } finally {
        const next = waiters.shift();
        if (next) next();
        else active--;
      }
    };
    const jobs = [...plans].reverse().map((p) => {
      let j = seen.get(p.diffId);
      if (!j) {
        j = runLimited(p);
        seen.set(p.diffId, j);
      }
      return j;
    });
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // The config, then the manifest (exact bytes; their digest is what the tag names).
    const configBytes = Buffer.from(image.configJson, 'utf8');
    const configDigest = sha256Digest(configBytes);
    if (!(await this.exists(session, ref, configDigest, signal))) {
      await this.upload(session, ref, configDigest, configBytes.length, () => Readable.from([configBytes]), undefined, signal);
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, size: configBytes.length, digest: configDigest },
      layers: plans.map((p) => ({ mediaType: p.blob!.mediaType, size: p.blob!.size, digest: p.blob!.digest })),
    };
    const body = Buffer.from(JSON.stringify(manifest, null, 3), 'utf8');
    const res = await session.request('PUT', `/v2/${ref.path}/manifests/${tag}`, { headers: { 'Content-Type': MEDIA.dockerManifest }, body, ...(signal ? { signal } : {}) });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw asEngineError(await registryError(res, 'putting manifest'));
    res.body.resume();
    const digest = sha256Digest(body);
    this.o.images.store.addRepoDigest(image.id, `${repositoryName(ref)}@${digest}`);
    const shown = familiarString({ ...ref, tag });
    this.o.images.announce({ action: 'push', id: shown, name: familiarName(ref) });
    out.write({ status: `${tag}: digest: ${digest} size: ${body.length}` });
    out.write({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: body.length } });
  }

  private async exists(session: RegistrySession, ref: Reference, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await session.request('HEAD', `/v2/${ref.path}/blobs/${digest}`, signal ? { signal } : {});
    res.body.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw asEngineError(new RegistryError(`checking blob ${digest}: unexpected status ${res.status}`, res.status, undefined));
  }

  private async pushLayer(session: RegistrySession, ref: Reference, p: LayerPlan, out: ProgressSink, signal?: AbortSignal): Promise<void> {
    // A schema2 manifest names gzip layers with Docker's media type (an OCI gzip blob is the same bytes).
    const known = this.o.records.forDiffId(p.diffId)
      .filter((b) => layerCompression(b.mediaType) === 'gzip')
      .map((b) => ({ ...b, mediaType: MEDIA.dockerLayer }));
    // A blob already in the target repository (recorded, then confirmed by HEAD).
    for (const b of known.filter((k) => k.registry === ref.domain && k.repository === ref.path)) {
      if (await this.exists(session, ref, b.digest, signal)) {
        p.blob = { digest: b.digest as Digest, size: b.size, mediaType: b.mediaType };
        out.write({ status: 'Layer already exists', progressDetail: {}, id: p.id });
        return;
      }
    }
    // The same blob in another repository of this registry: mount it.
    for (const b of known.filter((k) => k.registry === ref.domain && k.repository !== ref.path)) {
      const res = await session.request('POST', `/v2/${ref.path}/blobs/uploads/?mount=${encodeURIComponent(b.digest)}&from=${encodeURIComponent(b.repository)}`, {
        extraScopes: [repositoryScope(b.repository, ['pull'])], ...(signal ? { signal } : {}),
      });
      res.body.resume();
      if (res.status === 201) {
        p.blob = { digest: b.digest as Digest, size: b.size, mediaType: b.mediaType };
        this.o.records.add({ ...b, repository: ref.path });
        out.write({ status: `Mounted from ${b.repository}`, progressDetail: {}, id: p.id });
        return;
      }
      if (res.status === 202 && res.headers.location) {
        // Mount refused; the registry opened an upload instead. Cancel it and upload normally.
        await session.request('DELETE', new URL(res.headers.location, session.baseUrl).toString(), signal ? { signal } : {}).then((r) => r.body.resume(), () => undefined);
      }
    }
    const blob = await this.localBlob(p, known);
    if (await this.exists(session, ref, blob.digest, signal)) {
      p.blob = blob;
      this.o.records.add({ diffId: p.diffId, digest: blob.digest, mediaType: blob.mediaType, size: blob.size, registry: ref.domain, repository: ref.path });
      out.write({ status: 'Layer already exists', progressDetail: {}, id: p.id });
      return;
    }
    const bar = new ByteProgress(out, p.id, 'Pushing', blob.size);
    await this.upload(session, ref, blob.digest, blob.size, () => this.o.blobs.open(blob.digest), (n) => bar.update(n), signal);
    bar.update(blob.size, true);
    p.blob = blob;
    this.o.records.add({ diffId: p.diffId, digest: blob.digest, mediaType: blob.mediaType, size: blob.size, registry: ref.domain, repository: ref.path });
    out.write({ status: 'Pushed', progressDetail: {}, id: p.id });
  }

  /**
   * The compressed blob for a layer: the one pulled (kept in the blob store), else one made now
   * by gzipping the layer's tar (recorded, so the next push sends the same bytes).
   */
  private async localBlob(p: LayerPlan, known: LayerBlob[]): Promise<{ digest: Digest; size: number; mediaType: string }> {
    for (const b of known) {
      if (await this.o.blobs.has(b.digest as Digest)) return { digest: b.digest as Digest, size: b.size, mediaType: b.mediaType };
    }
    // The layer's tar exactly as it was registered (the layer store keeps its layout).
    const tar = await this.o.layers.tar(p.chainId);
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    const gz = createGzip({ level: 6 });
    const done = pipeline(tar, tap, gz).catch((err: unknown) => { gz.destroy(err as Error); });
    let size = 0;
    const counted = (async function* (): AsyncGenerator<Buffer> {
      for await (const c of gz as AsyncIterable<Buffer>) {
        size += c.length;
        yield c;
      }
    })();
    const digest = await this.o.blobs.ingest(counted);
    await done;
    const diffId = `sha256:${hash.digest('hex')}`;
    if (diffId !== p.diffId) {
      await this.o.blobs.remove(digest);
      throw new InvalidParameterError(`layer ${p.diffId} cannot be reproduced from its files (got ${diffId}); it cannot be pushed`);
    }
    const blob = { digest, size, mediaType: MEDIA.dockerLayer };
    this.o.records.add({ diffId: p.diffId, digest, mediaType: blob.mediaType, size, registry: '', repository: '' });
    return blob;
  }

  /** POST an upload, then either one PUT with the body (small blobs) or PATCH chunks and a closing PUT. */
  private async upload(session: RegistrySession, ref: Reference, digest: Digest, size: number, open: () => Readable, onBytes: ((n: number) => void) | undefined, signal?: AbortSignal): Promise<void> {
    const sig = signal ? { signal } : {};
    const start = await session.request('POST', `/v2/${ref.path}/blobs/uploads/`, sig);
    start.body.resume();
    if (start.status !== 202 || !start.headers.location) throw asEngineError(await registryError(start, 'starting upload'));
    let location = new URL(start.headers.location, session.baseUrl).toString();
    const withDigest = (loc: string): string => {
      const u = new URL(loc);
      u.searchParams.set('digest', digest);
      return u.toString();
    };
    if (size <= this.o.chunkSize) {
      const chunks: Buffer[] = [];
      for await (const c of open() as AsyncIterable<Buffer>) chunks.push(c);
      const body = Buffer.concat(chunks);
      const res = await session.request('PUT', withDigest(location), { headers: { 'Content-Type': 'application/octet-stream' }, body, ...sig });
      res.body.resume();
      if (res.status !== 201) throw asEngineError(await registryError(res, 'uploading blob'));
      onBytes?.(body.length);
      return;
    }
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const sendChunk = async (): Promise<void> => {
      const body = Buffer.concat(pending, pendingLen);
      pending = [];
      pendingLen = 0;
      const res = await session.request('PATCH', location, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + body.length - 1}` }, body, ...sig,
      });
      res.body.resume();
      if (res.status !== 202) throw asEngineError(await registryError(res, 'uploading blob chunk'));
      offset += body.length;
      onBytes?.(offset);
      if (res.headers.location) location = new URL(res.headers.location, location).toString();
    };
    for await (const c of open() as AsyncIterable<Buffer>) {
      pending.push(c);
      pendingLen += c.length;
      if (pendingLen >= this.o.chunkSize) await sendChunk();
    }
    if (pendingLen > 0) await sendChunk();
    const res = await session.request('PUT', withDigest(location), { ...sig, body: Buffer.alloc(0) });
    res.body.resume();
    if (res.status !== 201) throw asEngineError(await registryError(res, 'finishing upload'));
  }
}

export function pushErrorMessage(err: unknown): string {
  return errorMessage(err);
}

export { formatReference };
