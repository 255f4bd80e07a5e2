import { PassThrough, Transform, type TransformCallback, type Readable } from 'node:stream';
import {
  EngineError, InvalidParameterError, NotImplementedError, SystemError, errorMessage,
} from '../common/errors.js';
import { chainIdOf, sha256Digest, type ChainId, type DiffId, type Digest, type ImageId } from '../common/ids.js';
import type { Logger } from '../common/log.js';
import {
  familiarName, familiarString, formatReference, parseReference, repositoryName, type Reference,
} from '../common/reference.js';
import type { ImageService } from '../image/index.js';
import type { LayerStore, PendingLayer } from '../layer/index.js';
import type { BlobStore } from '../store/index.js';
import { KeyedMutex } from '../store/index.js';
import type { AuthConfig } from './auth-config.js';
import type { BlobRecords } from './blob-records.js';
import {
  hostPlatform, parseManifest, parsePlatform, selectManifest, type Descriptor, type ImageManifest, type Platform,
} from './manifest.js';
import { MANIFEST_ACCEPT, layerCompression } from './media-types.js';
import { ByteProgress, shortDigest, type ProgressSink } from './progress.js';
import { pullError, type RegistryAccess } from './registry-access.js';
import { RegistryError, isTransient, readBody, registryError, sleep, withRetry, type RegistrySession } from './registry-client.js';

export interface PullServiceOptions {
  access: RegistryAccess;
  images: ImageService;
  layers: LayerStore;
  blobs: BlobStore;
  records: BlobRecords;
  maxConcurrentDownloads: number;
  logger: Logger;
}

export interface PullOptions {
  auth: AuthConfig;
  platform?: string;
  signal?: AbortSignal;
}

/** What `prepare` found: the manifest to pull, resolved before any progress is written. */
export interface PreparedPull {
  ref: Reference;
  session: RegistrySession;
  manifestDigest: Digest;
  manifest: ImageManifest;
  /** Tags to pull when the request named none (`pull -a`). */
  tags?: string[];
}

/** A stream that receives a blob's bytes as they are downloaded, if this pull downloads it. */
interface LiveTap {
  stream: PassThrough;
  used: Promise<boolean>;
  decide: (used: boolean) => void;
}

/** Waits until a writable can take more (or is gone). */
function drained(w: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

async function writeBoth(a: PassThrough, b: PassThrough | undefined, chunk: Buffer): Promise<void> {
  const waits: Array<Promise<void>> = [];
  if (!a.write(chunk)) waits.push(drained(a));
  if (b && !b.destroyed && !b.write(chunk)) waits.push(drained(b));
  if (a.destroyed) throw new SystemError('blob store write failed');
  await Promise.all(waits);
}

/** Counts bytes, fails past `limit`. */
class ByteCounter extends Transform {
  count = 0;
  constructor(private readonly limit: number, private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.limit) {
      cb(new InvalidParameterError(`blob is larger than the ${this.limit} bytes its descriptor declares`));
      return;
    }
    this.onBytes(this.count);
    cb(null, chunk);
  }
}

/**
 * Pulls images from registries: manifests (lists resolved for the platform), the config, then
 * the layers, downloaded a few at a time into the blob store (each verified by digest while it
 * streams) and registered in order through the layer store. The image becomes visible only once
 * every layer is in place; a failed pull releases the layers it added.
 */
export class PullService {
  /** Downloads in flight by digest: two pulls of the same blob share one transfer. */
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly registering = new KeyedMutex();
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly o: PullServiceOptions) {}

  private running = 0;

  /** Is any pull between its first download and its image registration? */
  busy(): boolean {
    return this.running > 0;
  }

  /** Resolves the reference and manifest; throws (before any output) when that fails. */
  async prepare(refText: string, opts: PullOptions): Promise<PreparedPull> {
    const ref = parseReference(refText);
    const want = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
    const sessions = this.o.access.sessions(ref, opts.auth, { push: false });
    let lastErr: unknown;
    for (const session of sessions) {
      try {
        if (ref.tag === undefined && ref.digest === undefined) {
          const tags = await this.listTags(session, ref, opts.signal);
          return { ref, session, manifestDigest: '' as Digest, manifest: { kind: 'image', mediaType: '', config: { mediaType: '', digest: '' as Digest, size: 0 }, layers: [] }, tags };
        }
        const { digest, manifest } = await this.resolveManifest(session, ref, want, opts.signal);
        return { ref, session, manifestDigest: digest, manifest };
      } catch (err) {
        lastErr = err;
        if (!session.endpoint.mirror) break;
        this.o.logger.warn('mirror failed, trying the next endpoint', { mirror: session.endpoint.url, err: errorMessage(err) });
      }
    }
    throw pullError(lastErr, ref, familiarString(ref));
  }

  private async listTags(session: RegistrySession, ref: Reference, signal?: AbortSignal): Promise<string[]> {
    const res = await session.request('GET', `/v2/${ref.path}/tags/list`, signal ? { signal } : {});
    if (res.status !== 200) throw await registryError(res, 'listing tags');
    const doc = JSON.parse((await readBody(res.body)).toString('utf8')) as { tags?: string[] | null };
    return (doc.tags ?? []).slice().sort();
  }

  private async fetchManifest(session: RegistrySession, ref: Reference, reference: string, signal?: AbortSignal): Promise<{ body: Buffer; contentType: string | undefined; digest: Digest }> {
    const res = await session.request('GET', `/v2/${ref.path}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT }, ...(signal ? { signal } : {}) });
    if (res.status !== 200) throw await registryError(res, 'fetching manifest');
    const body = await readBody(res.body, 8 << 20);
    const digest = sha256Digest(body);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new InvalidParameterError(`manifest verification failed for digest ${reference}`);
    }
    const ct = res.headers['content-type'];
    return { body, contentType: Array.isArray(ct) ? ct[0] : ct, digest };
  }

  private async resolveManifest(session: RegistrySession, ref: Reference, want: Platform, signal?: AbortSignal): Promise<{ digest: Digest; manifest: ImageManifest }> {
    const top = await this.fetchManifest(session, ref, ref.digest ?? ref.tag!, signal);
    let parsed = parseManifest(top.body, top.contentType);
    if (parsed.kind === 'index') {
      const chosen: Descriptor = selectManifest(parsed, want, familiarString(ref));
      const inner = await this.fetchManifest(session, ref, chosen.digest, signal);
      parsed = parseManifest(inner.body, inner.contentType);
      if (parsed.kind !== 'image') throw new InvalidParameterError('invalid manifest list: nested lists are not supported');
    }
    for (const l of parsed.layers) {
      const c = layerCompression(l.mediaType);
      if (c === undefined) throw new NotImplementedError(`unsupported layer media type ${l.mediaType}`);
      if (c === 'zstd') throw new NotImplementedError(`zstd compressed layers are not supported by this berthd (layer ${l.digest})`);
    }
    return { digest: top.digest, manifest: parsed };
  }

  /**
   * Runs a prepared pull, writing Docker's progress messages. `-a` pulls each tag in turn.
   * Returns the image ids made visible.
   */
  async run(p: PreparedPull, out: ProgressSink, opts: PullOptions): Promise<ImageId[]> {
    if (p.tags) {
      const ids: ImageId[] = [];
      const want = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
      let newer = false;
      for (const tag of p.tags) {
        const ref = { ...p.ref, tag };
        const { digest, manifest } = await this.resolveManifest(p.session, ref, want, opts.signal).catch((err: unknown) => {
          throw pullError(err, ref, familiarString(ref));
        });
        const r = await this.pullImage({ ...p, ref, manifestDigest: digest, manifest }, out, opts);
        ids.push(r.id);
        newer ||= r.newer;
      }
      out.write({ status: `Status: ${newer ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString({ ...p.ref })}` });
      return ids;
    }
    const r = await this.pullImage(p, out, opts);
    out.write({ status: `Digest: ${p.manifestDigest}` });
    out.write({ status: `Status: ${r.newer ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(p.ref)}` });
    return [r.id];
  }

  private async pullImage(p: PreparedPull, out: ProgressSink, opts: PullOptions): Promise<{ id: ImageId; newer: boolean }> {
    const { ref, session, manifest } = p;
    const signal = opts.signal;
    out.write({ status: `Pulling from ${familiarRepo(ref)}`, id: ref.tag ?? ref.digest! });
    const configBytes = await this.fetchConfig(session, ref, manifest.config, signal);
    const configJson = configBytes.toString('utf8');
    let diffIds: DiffId[];
    try {
      diffIds = (JSON.parse(configJson) as { rootfs?: { diff_ids?: DiffId[] } }).rootfs?.diff_ids ?? [];
    } catch {
      throw new InvalidParameterError('invalid image config: not JSON');
    }
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidParameterError(`invalid manifest: ${manifest.layers.length} layers but the config names ${diffIds.length}`);
    }
    const chains = diffIds.map((_, i) => chainIdOf(diffIds.slice(0, i + 1))!);
    const present = chains.map((c) => this.o.layers.find(c) !== undefined);
    const ids = manifest.layers.map((l) => shortDigest(l.digest));
    for (let i = 0; i < manifest.layers.length; i++) {
      out.write({ status: present[i] ? 'Already exists' : 'Pulling fs layer', progressDetail: {}, id: ids[i]! });
    }
    const added: ChainId[] = [];
    // Blobs this pull fetched, and the downloads: a failed pull removes what it fetched for nothing.
    const fetched = new Set<Digest>();
    let downloads: Array<Promise<void>> = [];
    this.running++;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Downloads start at once, N at a time; registration follows in layer order.
      const parallel = this.o.layers.supportsDetached;
      // Extraction reads each blob once it is stored and verified (the layer store's detached
      // ingest is not fed from a live download: an aborted download must not strand it).
      const taps: Array<LiveTap | undefined> = manifest.layers.map(() => undefined);
      downloads = manifest.layers.map((l, i) => {
        if (present[i]) return Promise.resolve();
        return this.download(session, ref, l, ids[i]!, out, controller.signal, taps[i], fetched);
      });
      downloads.forEach((d) => d.catch(() => undefined));
      const firstMissing = present.indexOf(false);
      if (firstMissing >= 0 && parallel) {
        // overlay2: every missing layer is extracted at once, before its parent is in place,
        // while its blob downloads; then they are put on each other in order.
        const missing = manifest.layers.map((_, i) => i).filter((i) => i >= firstMissing);
        const pendings = missing.map((i) => (async (): Promise<PendingLayer> => {
          // The bytes as they arrive when this pull fetches the blob, else the stored blob.
          let stream: Readable;
          const tap = taps[i];
          if (tap && await tap.used) {
            stream = tap.stream;
          } else {
            await downloads[i];
            stream = this.extractionStream(manifest.layers[i]!, ids[i]!, out);
          }
          // No signal here: an abort ends the stream (the download stops), which ends the extraction.
          let pending: PendingLayer;
          try {
            pending = await this.o.layers.ingestDetached(stream);
          } catch (err) {
            stream.destroy();
            throw err;
          }
          try {
            await downloads[i];
            if (pending.diffId !== diffIds[i]) throw new InvalidParameterError(`layer digest mismatch: expected ${diffIds[i]}, got ${pending.diffId}`);
          } catch (err) {
            await this.o.layers.discard(pending).catch(() => undefined);
            throw err;
          }
          return pending;
        })());
        const settled = await Promise.allSettled(pendings);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) {
          for (const r of settled) if (r.status === 'fulfilled') await this.o.layers.discard(r.value).catch(() => undefined);
          // A download that failed (a blob whose digest is wrong) explains an extraction that broke.
          for (const r of await Promise.allSettled(downloads)) {
            if (r.status === 'rejected' && r.reason instanceof EngineError) throw r.reason;
          }
          const err: unknown = failed.reason;
          if (err instanceof EngineError && /layer digest mismatch/.test(err.message)) {
            throw new InvalidParameterError(`failed to register layer: ${err.message}`, { cause: err });
          }
          throw err;
        }
        const ready = settled.map((r) => (r as PromiseFulfilledResult<PendingLayer>).value);
        await this.registering.run('chain', async () => {
          let parent: ChainId | null = firstMissing === 0 ? null : chains[firstMissing - 1]!;
          for (let k = 0; k < missing.length; k++) {
            const i = missing[k]!;
            const fresh = !this.o.layers.find(chains[i]!);
            let r;
            try {
              r = await this.o.layers.attach(ready[k]!, parent, { expectedDiffId: diffIds[i]! });
            } catch (err) {
              for (const rest of ready.slice(k + 1)) await this.o.layers.discard(rest).catch(() => undefined);
              throw err;
            }
            if (r.chainId !== chains[i]) throw new InvalidParameterError(`layer chain mismatch: expected ${chains[i]}, got ${r.chainId}`);
            if (fresh) added.push(chains[i]!);
            parent = r.chainId;
            out.write({ status: 'Pull complete', progressDetail: {}, id: ids[i]! });
          }
        });
      } else {
        let parent: ChainId | null = null;
        for (let i = 0; i < manifest.layers.length; i++) {
          if (present[i]) {
            parent = chains[i]!;
            continue;
          }
          await downloads[i];
          const layer = manifest.layers[i]!;
          const fresh = await this.registerLayer(layer, diffIds[i]!, chains[i]!, parent, ids[i]!, out, controller.signal);
          if (fresh) added.push(chains[i]!);
          parent = chains[i]!;
          out.write({ status: 'Pull complete', progressDetail: {}, id: ids[i]! });
        }
      }
      const top = chains.length ? chains[chains.length - 1]! : null;
      const canonical = ref.tag !== undefined ? formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag }) : undefined;
      const before = canonical ? this.o.images.store.findRef(canonical) : undefined;
      const id = await this.o.images.registerConfig(configJson, top);
      if ((id as string) !== manifest.config.digest) throw new InvalidParameterError(`image config digest mismatch: expected ${manifest.config.digest}, got ${id}`);
      for (let i = 0; i < manifest.layers.length; i++) {
        const l = manifest.layers[i]!;
        this.o.records.add({ diffId: diffIds[i]!, digest: l.digest, mediaType: l.mediaType, size: l.size, registry: ref.domain, repository: ref.path });
      }
      this.o.images.store.addRepoDigest(id, `${repositoryName(ref)}@${p.manifestDigest}`);
      if (canonical) this.o.images.tag(id, canonical);
      const shown = familiarString(ref);
      this.o.images.announce({ action: 'pull', id: shown, name: familiarName(ref) });
      return { id, newer: before !== id };
    } catch (err) {
      controller.abort(err);
      await this.removeFetched(fetched, downloads);
      for (const c of added.reverse()) {
        if (this.o.images.store.countUsingLayer(c) === 0) await this.o.layers.release(c).catch(() => undefined);
      }
      throw err;
    } finally {
      this.running--;
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async fetchConfig(session: RegistrySession, ref: Reference, d: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    if (await this.o.blobs.has(d.digest)) return this.o.blobs.get(d.digest);
    return withRetry(async () => {
      const res = await session.request('GET', `/v2/${ref.path}/blobs/${d.digest}`, signal ? { signal } : {});
      if (res.status !== 200) throw await registryError(res, 'fetching image config');
      const body = await readBody(res.body, 16 << 20);
      if (sha256Digest(body) !== d.digest) throw new InvalidParameterError(`image config verification failed for digest ${d.digest}`);
      return body;
    }, signal ? { signal } : {});
  }

  /** Changes the number of concurrent downloads; a raised limit starts waiting downloads now. */
  setMaxConcurrentDownloads(n: number): void {
    this.o.maxConcurrentDownloads = n;
    while (this.queue.length && this.active < n) {
      this.active++;
      this.queue.shift()!();
    }
  }

  /** A slot among the N concurrent downloads. */
  private async slot<T>(fn: () => Promise<T>, onWait: () => void): Promise<T> {
    if (this.active >= this.o.maxConcurrentDownloads) {
      onWait();
      await new Promise<void>((r) => this.queue.push(r));
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }

  /** Downloads a layer blob into the blob store (shared with any concurrent pull of it). */
  /**
   * After a failed pull: the layer blobs it downloaded that no layer holds (a full disk during
   * extraction, a later layer that failed) are removed, so that the space comes back as with
   * Docker's temporary downloads. Skipped while another pull runs (it may be reading them).
   */
  private async removeFetched(fetched: Set<Digest>, downloads: Array<Promise<void>>): Promise<void> {
    await Promise.allSettled(downloads);
    if (this.running > 1 || fetched.size === 0) return;
    const kept = this.o.records.knownDigests();
    for (const d of fetched) {
      if (!kept.has(d)) await this.o.blobs.remove(d).catch((err: unknown) => this.o.logger.warn('could not remove a blob of a failed pull', { digest: d, err: errorMessage(err) }));
    }
  }

  private async download(session: RegistrySession, ref: Reference, l: Descriptor, id: string, out: ProgressSink, signal: AbortSignal, live?: LiveTap, fetched?: Set<Digest>): Promise<void> {
    try {
      if (await this.o.blobs.has(l.digest)) {
        out.write({ status: 'Download complete', progressDetail: {}, id });
        return;
      }
      let shared = this.inflight.get(l.digest);
      if (!shared) {
        shared = this.slot(() => {
          live?.decide(true);
          fetched?.add(l.digest);
          return this.fetchBlob(session, ref, l, id, out, signal, live?.stream);
        }, () => out.write({ status: 'Waiting', progressDetail: {}, id }));
        this.inflight.set(l.digest, shared);
        shared.then(() => this.inflight.delete(l.digest), () => this.inflight.delete(l.digest));
        await shared;
      } else {
        out.write({ status: 'Waiting', progressDetail: {}, id });
        await shared;
      }
      out.write({ status: 'Download complete', progressDetail: {}, id });
    } finally {
      live?.decide(false);
    }
  }

  /**
   * Fetches a blob into the blob store, verified by digest as it streams. A dropped connection is
   * resumed with a Range request (with back-off); `live`, when given, receives the same bytes as
   * they arrive (extraction while downloading).
   */
  private async fetchBlob(session: RegistrySession, ref: Reference, l: Descriptor, id: string, out: ProgressSink, signal: AbortSignal, live?: PassThrough): Promise<void> {
    const bar = new ByteProgress(out, id, 'Downloading', l.size);
    const toIngest = new PassThrough();
    // Its errors reach the blob store's reader; one after that reader stopped is moot.
    toIngest.on('error', () => undefined);
    const ingested = this.o.blobs.ingest(toIngest as AsyncIterable<Buffer>, { expected: l.digest, durable: false });
    ingested.catch(() => undefined);
    const fail = (err: unknown): void => {
      toIngest.destroy(err as Error);
      live?.destroy(err as Error);
    };
    let received = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await session.request('GET', `/v2/${ref.path}/blobs/${l.digest}`, { signal, ...(received > 0 ? { headers: { Range: `bytes=${received}-` } } : {}) });
        if (received > 0 && res.status !== 206) {
          res.body.resume();
          throw new InvalidParameterError(`the registry cannot resume the download of ${l.digest} (status ${res.status})`);
        }
        if (received === 0 && res.status !== 200) throw await registryError(res, 'fetching layer');
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (l.size && received > l.size) throw new InvalidParameterError(`filesystem layer verification failed for digest ${l.digest}: more than ${l.size} bytes`);
          bar.update(received);
          await writeBoth(toIngest, live, chunk);
        }
        break;
      } catch (err0) {
        // The blob store gave up (a full disk): its own error says why, not the write that saw it.
        let err = toIngest.destroyed ? await ingested.then(() => err0, (e: unknown) => e) : err0;
        if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC') {
          err = new SystemError(`failed to download layer ${l.digest}: write: no space left on device`, { cause: err });
        }
        if (toIngest.destroyed || attempt + 1 >= 5 || !isTransient(err) || signal.aborted) {
          fail(err);
          throw err;
        }
        this.o.logger.warn('download interrupted, resuming', { digest: l.digest, at: received, attempt: attempt + 1, err: errorMessage(err) });
        try {
          await sleep(250 * 2 ** attempt, signal);
        } catch (e) {
          fail(e);
          throw e;
        }
      }
    }
    toIngest.end();
    try {
      await ingested;
    } catch (err) {
      const mapped = err instanceof InvalidParameterError && /digest mismatch/.test(err.message)
        ? new InvalidParameterError(`filesystem layer verification failed for digest ${l.digest}`, { cause: err })
        : err;
      live?.destroy(mapped as Error);
      throw mapped;
    }
    live?.end();
    if (l.size && received !== l.size) throw new InvalidParameterError(`filesystem layer verification failed for digest ${l.digest}: short read`);
    bar.update(received, true);
    out.write({ status: 'Verifying Checksum', progressDetail: {}, id });
  }

  /** The downloaded blob as a stream, reporting Extracting progress as it is read. */
  private extractionStream(l: Descriptor, id: string, out: ProgressSink): Readable {
    const bar = new ByteProgress(out, id, 'Extracting', l.size);
    const src: Readable = this.o.blobs.open(l.digest);
    const counter = new ByteCounter(Number.MAX_SAFE_INTEGER, (n) => bar.update(n));
    counter.on('error', () => undefined);
    counter.on('end', () => bar.update(l.size, true));
    src.on('error', (err) => counter.destroy(err));
    // A reader that stopped (a full disk during extraction) must not keep the blob file open:
    // its space would not come back when the blob is removed.
    counter.on('close', () => src.destroy());
    src.pipe(counter);
    return counter;
  }

  /** Registers the layer unless an equal chain appeared meanwhile; true when this call added it. */
  private async registerLayer(l: Descriptor, diffId: DiffId, chain: ChainId, parent: ChainId | null, id: string, out: ProgressSink, signal: AbortSignal): Promise<boolean> {
    return this.registering.run(chain, async () => {
      if (this.o.layers.find(chain)) return false;
      const bar = new ByteProgress(out, id, 'Extracting', l.size);
      const src: Readable = this.o.blobs.open(l.digest);
      const counter = new ByteCounter(Number.MAX_SAFE_INTEGER, (n) => bar.update(n));
      counter.on('error', () => undefined);
      src.on('error', (err) => counter.destroy(err));
      counter.on('close', () => src.destroy());
      src.pipe(counter);
      try {
        const r = await this.o.layers.register(counter, parent, { expectedDiffId: diffId, signal });
        bar.update(l.size, true);
        if (r.chainId !== chain) throw new InvalidParameterError(`layer chain mismatch: expected ${chain}, got ${r.chainId}`);
        return true;
      } catch (err) {
        if (err instanceof EngineError && /layer digest mismatch/.test(err.message)) {
          await this.o.blobs.remove(l.digest);
          throw new InvalidParameterError(`failed to register layer: ${err.message}`, { cause: err });
        }
        if (err instanceof EngineError) throw err;
        throw new SystemError(`failed to register layer: ${errorMessage(err)}`, { cause: err });
      }
    });
  }
}

/** The repository path Docker names in "Pulling from ...": library/busybox, x for localhost:5000/x. */
function familiarRepo(ref: Reference): string {
  return ref.path;
}

export { RegistryError };
