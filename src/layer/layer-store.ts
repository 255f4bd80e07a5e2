import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import {
  EngineError, InvalidParameterError, NotFoundError, SystemError, chainIdOf, errorMessage, randomId,
  type ChainId, type DiffId, type IdMapping,
} from '../common/index.js';
import type { Db } from '../store/index.js';
import { fsyncDir } from '../store/index.js';
import type { CreateLayerOptions, GraphDriver } from './graph-driver.js';
import type { FileChange, TarDiffOptions } from './tar-diff.js';
import { TarSplitRecorder, assembleTar, assembledSize, verifiedStream } from './tar-split.js';

export interface LayerStoreOptions {
  db: Db;
  driver: GraphDriver;
  /**
   * Where each layer's tar layout is kept (`<cache id>.tar-split` and `.paths`), so that the
   * exact layer tar can be produced again for save/push. Without it, layer tars are regenerated
   * from the files and must happen to hash to the diffID.
   */
  splitRoot?: string;
  /** Cap on a layer's uncompressed size (DEFAULT_MAX_UNCOMPRESSED when unset). */
  maxLayerBytes?: number;
}

export interface LayerRecord {
  chainId: ChainId;
  diffId: DiffId;
  parent: ChainId | null;
  /** The graph driver's id for this layer's files. */
  cacheId: string;
  /** Bytes of regular file content in this layer alone. */
  size: number;
  createdAt: string;
}

export interface RegisterResult {
  chainId: ChainId;
  diffId: DiffId;
  size: number;
}

/** A layer extracted before its parent is known (LayerStore.ingestDetached). */
export interface PendingLayer {
  cacheId: string;
  diffId: DiffId;
  size: number;
}

export interface RegisterOptions {
  /** When given, a tar whose digest differs is rejected (and nothing is kept). */
  expectedDiffId?: DiffId;
  signal?: AbortSignal;
}

interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  cache_id: string;
  size: number;
  incomplete: number;
  created_at: string;
}

/** Chain ids of rows still being written; never a real chain id (those start with `sha256:`). */
const PENDING_PREFIX = 'pending:';

function toRecord(row: LayerRow): LayerRecord {
  return {
    chainId: row.chain_id as ChainId,
    diffId: row.diff_id as DiffId,
    parent: row.parent as ChainId | null,
    cacheId: row.cache_id,
    size: row.size,
    createdAt: row.created_at,
  };
}

/** Hashes everything that passes through. */
class DigestTap extends Transform {
  private readonly hash = createHash('sha256');
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }
  digest(): DiffId {
    return `sha256:${this.hash.digest('hex')}` as DiffId;
  }
}

/** Fails the stream once more than `max` bytes went through. */
class SizeLimit extends Transform {
  private seen = 0;
  constructor(private readonly max: number, private readonly what: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      cb(new InvalidParameterError(`${this.what} exceeds the size limit of ${this.max} bytes`));
      return;
    }
    cb(null, chunk);
  }
}

/** Default cap on the uncompressed size of one layer (and of one archive being loaded). */
export const DEFAULT_MAX_UNCOMPRESSED = 64 * 1024 ** 3;

/**
 * Returns the stream's bytes uncompressed (gunzipped when it starts with the gzip magic 1f 8b),
 * failing once more than `maxBytes` come out: a decompression bomb stops there.
 */
export async function decompressedStream(
  input: Readable, opts: { signal?: AbortSignal; maxBytes?: number; what?: string } = {},
): Promise<Readable> {
  const plain = await decompressed(input, opts.signal);
  const limit = new SizeLimit(opts.maxBytes ?? DEFAULT_MAX_UNCOMPRESSED, opts.what ?? 'layer');
  plain.on('error', (err) => limit.destroy(err));
  return plain.pipe(limit);
}

/** Output chunk size of gunzip: larger than zlib's 16 KiB, fewer trips through the tar pipeline. */
const GUNZIP_CHUNK = 256 * 1024;

/** Returns the stream's bytes uncompressed: gunzips when it starts with the gzip magic 1f 8b. */
async function decompressed(input: Readable, signal: AbortSignal | undefined): Promise<Readable> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 2) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    head.push(chunk);
    headLength += chunk.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* head;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  const whole = Readable.from(replay(), { objectMode: false });
  const first = Buffer.concat(head);
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
    const out = new PassThrough();
    pipeline(whole, createGunzip({ chunkSize: GUNZIP_CHUNK }), out, signal ? { signal } : {}).catch((err: unknown) => out.destroy(err as Error));
    return out;
  }
  return whole;
}

/**
 * Layers by chain id over a graph driver: registration from tars (diffID computed while
 * extracting), the metadata rows, and the read-write layers of containers.
 */
export class LayerStore {
  private readonly db: Db;
  readonly driver: GraphDriver;
  private readonly splitRoot: string | undefined;
  private readonly releasedListeners: Array<(chainId: ChainId) => void> = [];

  constructor(opts: LayerStoreOptions) {
    this.db = opts.db;
    this.driver = opts.driver;
    this.splitRoot = opts.splitRoot;
    this.maxLayerBytes = opts.maxLayerBytes ?? DEFAULT_MAX_UNCOMPRESSED;
  }

  readonly maxLayerBytes: number;

  /** A scratch directory on the same filesystem as the layers (emptied at start-up). */
  scratchDir(): string {
    return this.splitRoot !== undefined ? join(this.splitRoot, '..', 'tmp') : join(tmpdir(), `berth-layer-scratch-${process.pid}`);
  }

  private splitPaths(cacheId: string): { records: string; paths: string } | undefined {
    if (this.splitRoot === undefined) return undefined;
    return { records: join(this.splitRoot, `${cacheId}.tar-split`), paths: join(this.splitRoot, `${cacheId}.paths`) };
  }

  private async removeSplit(cacheId: string): Promise<void> {
    const files = this.splitPaths(cacheId);
    if (!files) return;
    await rm(files.records, { force: true });
    await rm(files.paths, { force: true });
  }

  /**
   * Extracts a layer tar (plain or gzip) on top of `parent` and records it. When the resulting
   * chain id is already registered, the new extraction is discarded and the existing layer returned.
   */
  async register(tar: Readable, parent: ChainId | null, opts: RegisterOptions = {}): Promise<RegisterResult> {
    const parentRecord = parent === null ? null : this.get(parent);
    const cacheId = this.insertPending(parent);
    try {
      const { diffId, size } = await this.ingest(tar, cacheId, parentRecord?.cacheId ?? null, opts);
      return await this.finalize(cacheId, parentRecord, diffId, size, opts.expectedDiffId);
    } catch (err) {
      tar.destroy();
      await this.rollback(cacheId).catch(() => undefined);
      if (err instanceof EngineError) throw err;
      throw new SystemError(`registering layer: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** True when a layer's files can be written before its parent is known (see ingestDetached). */
  get supportsDetached(): boolean {
    return this.driver.setParent !== undefined;
  }

  /**
   * Extracts a layer tar before its place in a chain is known (an archive names the order of
   * its layers only at its end). The result is invisible (an incomplete row, swept at start-up)
   * until `attach` puts it on its parent, or `discard` drops it.
   */
  async ingestDetached(tar: Readable, opts: { signal?: AbortSignal } = {}): Promise<PendingLayer> {
    if (!this.supportsDetached) throw new SystemError(`the ${this.driver.name} driver cannot extract a layer before its parent`);
    const cacheId = this.insertPending(null);
    try {
      const { diffId, size } = await this.ingest(tar, cacheId, null, opts);
      return { cacheId, diffId, size };
    } catch (err) {
      tar.destroy();
      await this.rollback(cacheId).catch(() => undefined);
      if (err instanceof EngineError) throw err;
      throw new SystemError(`registering layer: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Puts a detached layer on `parent` and makes it visible (or drops it when that chain exists). */
  async attach(pending: PendingLayer, parent: ChainId | null, opts: { expectedDiffId?: DiffId } = {}): Promise<RegisterResult> {
    try {
      const parentRecord = parent === null ? null : this.get(parent);
      if (parentRecord) {
        await this.driver.setParent!(pending.cacheId, parentRecord.cacheId);
        this.db.prepare('UPDATE layers SET parent = ? WHERE cache_id = ?').run(parentRecord.chainId, pending.cacheId);
      }
      return await this.finalize(pending.cacheId, parentRecord, pending.diffId, pending.size, opts.expectedDiffId);
    } catch (err) {
      await this.rollback(pending.cacheId).catch(() => undefined);
      if (err instanceof EngineError) throw err;
      throw new SystemError(`registering layer: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Drops a detached layer that was not attached. */
  async discard(pending: PendingLayer): Promise<void> {
    const row = this.db.prepare('SELECT incomplete FROM layers WHERE cache_id = ?').get(pending.cacheId) as { incomplete: number } | undefined;
    if (row && row.incomplete === 1) await this.rollback(pending.cacheId);
  }

  private insertPending(parent: ChainId | null): string {
    const cacheId = randomId();
    this.db
      .prepare('INSERT INTO layers (chain_id, diff_id, parent, cache_id, size, incomplete, created_at) VALUES (?, ?, ?, ?, 0, 1, ?)')
      .run(`${PENDING_PREFIX}${cacheId}`, '', parent, cacheId, new Date().toISOString());
    return cacheId;
  }

  private async rollback(cacheId: string): Promise<void> {
    await this.driver.remove(cacheId);
    await this.removeSplit(cacheId);
    this.db.prepare('DELETE FROM layers WHERE cache_id = ?').run(cacheId);
  }

  /** Creates the driver layer and extracts the tar into it, keeping its layout; returns its diffID. */
  private async ingest(tar: Readable, cacheId: string, parentCacheId: string | null, opts: { signal?: AbortSignal }): Promise<{ diffId: DiffId; size: number }> {
    const split = this.splitPaths(cacheId);
    let recordFile: Awaited<ReturnType<typeof open>> | undefined;
    try {
      await this.driver.create(cacheId, parentCacheId);
      const tap = new DigestTap();
      // Its errors (a source that fails mid-way) reach the extraction through its pipeline; one
      // emitted while nothing listens yet must not bring the daemon down.
      tap.on('error', () => undefined);
      const plain = await decompressedStream(tar, { ...(opts.signal ? { signal: opts.signal } : {}), maxBytes: this.maxLayerBytes });
      let tapped: Readable = plain.pipe(tap);
      plain.on('error', (err) => tap.destroy(err));
      const written: Array<string | null> = [];
      let recorder: TarSplitRecorder | undefined;
      if (split) {
        await mkdir(this.splitRoot!, { recursive: true, mode: 0o700 });
        recordFile = await open(split.records, 'w', 0o600);
        recorder = new TarSplitRecorder(recordFile);
        // Errors are taken up by the extraction's pipeline (which may start a tick later).
        recorder.on('error', () => undefined);
        tap.on('error', (err) => recorder!.destroy(err));
        tapped = tap.pipe(recorder);
      }
      const size = await this.driver.applyDiff(cacheId, tapped, split ? { onFile: (rel) => written.push(rel) } : {});
      if (recorder && !recorder.writableFinished) {
        // The extractor stops reading at the end-of-archive marker; the rest must still be hashed and kept.
        recorder.resume();
        await new Promise<void>((resolve, reject) => {
          recorder!.once('end', resolve);
          recorder!.once('error', reject);
        });
      } else if (!recorder && !tap.writableFinished) {
        tap.resume();
        await new Promise<void>((resolve, reject) => {
          tap.once('end', resolve);
          tap.once('error', reject);
        });
      }
      if (recorder && recordFile && split) {
        if (recorder.fileEntries !== written.length) throw new InvalidParameterError('invalid layer tar: inconsistent file entries');
        await recordFile.sync();
        await recordFile.close();
        recordFile = undefined;
        await writeFile(split.paths, JSON.stringify(written), { mode: 0o600, flush: true });
        await fsyncDir(this.splitRoot!);
      }
      return { diffId: tap.digest(), size };
    } finally {
      await recordFile?.close().catch(() => undefined);
    }
  }

  /** Verifies the diffID and makes the row visible under its chain id (or drops it for an existing one). */
  private async finalize(cacheId: string, parentRecord: LayerRecord | null, diffId: DiffId, size: number, expected: DiffId | undefined): Promise<RegisterResult> {
    if (expected !== undefined && expected !== diffId) {
      throw new InvalidParameterError(`layer digest mismatch: expected ${expected}, got ${diffId}`);
    }
    const chainId = parentRecord === null ? (diffId as string as ChainId) : chainIdOf([parentRecord.chainId, diffId])!;
    const existing = this.db.transaction((): LayerRecord | undefined => {
      const row = this.db.prepare('SELECT * FROM layers WHERE chain_id = ?').get(chainId) as LayerRow | undefined;
      if (row) return toRecord(row);
      this.db
        .prepare('UPDATE layers SET chain_id = ?, diff_id = ?, size = ?, incomplete = 0 WHERE cache_id = ?')
        .run(chainId, diffId, size, cacheId);
      return undefined;
    })();
    if (existing) {
      await this.rollback(cacheId);
      return { chainId: existing.chainId, diffId: existing.diffId, size: existing.size };
    }
    return { chainId, diffId, size };
  }

  get(chainId: ChainId): LayerRecord {
    const found = this.find(chainId);
    if (!found) throw new NotFoundError(`layer ${chainId} not found`);
    return found;
  }

  find(chainId: ChainId): LayerRecord | undefined {
    const row = this.db.prepare('SELECT * FROM layers WHERE chain_id = ? AND incomplete = 0').get(chainId) as LayerRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(): LayerRecord[] {
    const rows = this.db.prepare('SELECT * FROM layers WHERE incomplete = 0 ORDER BY created_at, chain_id').all() as LayerRow[];
    return rows.map(toRecord);
  }

  /**
   * Deletes the layer when no other layer is built on it; returns whether it was deleted.
   * The row is marked incomplete before the files go, so a crash midway is finished by sweepIncomplete.
   */
  async release(chainId: ChainId): Promise<boolean> {
    const marked = this.db.transaction((): LayerRow | undefined => {
      const row = this.db.prepare('SELECT * FROM layers WHERE chain_id = ? AND incomplete = 0').get(chainId) as LayerRow | undefined;
      if (!row) return undefined;
      const child = this.db.prepare('SELECT 1 FROM layers WHERE parent = ? LIMIT 1').get(chainId);
      if (child) return undefined;
      this.db.prepare('UPDATE layers SET incomplete = 1 WHERE chain_id = ?').run(chainId);
      return row;
    })();
    if (!marked) return false;
    await this.driver.remove(marked.cache_id);
    await this.removeSplit(marked.cache_id);
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
    for (const fn of this.releasedListeners) fn(chainId);
    return true;
  }

  /** Calls `fn` with each chain id whose layer is deleted (so rows naming it elsewhere can go too). */
  onReleased(fn: (chainId: ChainId) => void): void {
    this.releasedListeners.push(fn);
  }

  /** Start-up: removes the rows (and files) of registrations and releases that did not finish. */
  async sweepIncomplete(): Promise<number> {
    let removed = 0;
    for (;;) {
      // Children first: a row can only go once nothing refers to it.
      const rows = this.db
        .prepare('SELECT * FROM layers l WHERE incomplete = 1 AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)')
        .all() as LayerRow[];
      if (rows.length === 0) break;
      for (const row of rows) {
        await this.driver.remove(row.cache_id);
        await this.removeSplit(row.cache_id);
        this.db.prepare('DELETE FROM layers WHERE cache_id = ?').run(row.cache_id);
        removed++;
      }
    }
    if (this.splitRoot !== undefined) await rm(this.scratchDir(), { recursive: true, force: true });
    // Layout files whose registration never got a row (a crash between the two).
    if (this.splitRoot !== undefined) {
      const known = new Set((this.db.prepare('SELECT cache_id FROM layers').all() as { cache_id: string }[]).map((r) => r.cache_id));
      const names = await readdir(this.splitRoot).catch(() => [] as string[]);
      for (const name of names) {
        const cacheId = name.replace(/\.(tar-split|paths)$/, '');
        if (!known.has(cacheId)) await rm(join(this.splitRoot, name), { force: true });
      }
    }
    return removed;
  }

  /**
   * The layer's tar exactly as it was registered (uncompressed), verified against its diffID
   * while it streams: a mismatch fails the stream at its end.
   */
  async tar(chainId: ChainId): Promise<Readable> {
    return (await this.tarWithSize(chainId, { needSize: false })).stream;
  }

  /**
   * As `tar`, with the tar's length known before the first byte (archives need it up front).
   * Layers without a kept layout are regenerated into a temp file first to learn it.
   */
  async tarWithSize(chainId: ChainId, opts: { needSize?: boolean } = {}): Promise<{ size: number; stream: Readable }> {
    const layer = this.get(chainId);
    const split = this.splitPaths(layer.cacheId);
    let paths: Array<string | null> | undefined;
    if (split) {
      paths = await readFile(split.paths, 'utf8').then((t) => JSON.parse(t) as Array<string | null>, () => undefined);
    }
    const what = `layer ${layer.diffId}`;
    if (split && paths) {
      const size = opts.needSize === false ? -1 : await assembledSize(split.records);
      return { size, stream: verifiedStream(assembleTar(split.records, paths, this.driver.contentDir(layer.cacheId)), layer.diffId, what) };
    }
    const generated = await this.driver.diff(layer.cacheId);
    if (opts.needSize === false) return { size: -1, stream: verifiedStream(generated, layer.diffId, what) };
    const spoolDir = this.scratchDir();
    await mkdir(spoolDir, { recursive: true, mode: 0o700 });
    const spool = join(spoolDir, `${layer.cacheId}-${randomId().slice(0, 12)}.tar`);
    try {
      const fh = await open(spool, 'w', 0o600);
      let size = 0;
      try {
        for await (const chunk of verifiedStream(generated, layer.diffId, what)) {
          size += (chunk as Buffer).length;
          await fh.write(chunk as Buffer);
        }
      } finally {
        await fh.close();
      }
      const stream = createReadStream(spool);
      stream.once('close', () => void rm(spool, { force: true }));
      return { size, stream };
    } catch (err) {
      await rm(spool, { force: true });
      throw err;
    }
  }

  /**
   * Start-up: releases complete layers that nothing stands on any more (an image removal or a
   * registration cut short between its steps). `keep` holds every chain id in use, parents included.
   */
  async releaseUnreferenced(keep: ReadonlySet<string>): Promise<number> {
    let released = 0;
    for (;;) {
      const leaves = (this.db
        .prepare('SELECT chain_id FROM layers l WHERE incomplete = 0 AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)')
        .all() as Array<{ chain_id: string }>).filter((r) => !keep.has(r.chain_id));
      if (leaves.length === 0) return released;
      for (const r of leaves) if (await this.release(r.chain_id as ChainId)) released++;
    }
  }

  /**
   * Creates a container's read-write layer (cache id = containerId) on top of `parent`; with
   * `idMap`, for a container in that user namespace (see CreateLayerOptions).
   */
  async createRwLayer(containerId: string, parent: ChainId | null, opts: CreateLayerOptions = {}): Promise<string> {
    const parentCacheId = parent === null ? null : this.get(parent).cacheId;
    await this.driver.create(containerId, parentCacheId, opts);
    return containerId;
  }

  /** The user namespace mapping a container's read-write layer was created for, if any. */
  rwIdMap(containerId: string): Promise<IdMapping | undefined> {
    return this.driver.idMap(containerId);
  }

  mountRw(containerId: string): Promise<string> {
    return this.driver.mount(containerId);
  }

  unmountRw(containerId: string): Promise<void> {
    return this.driver.unmount(containerId);
  }

  removeRwLayer(containerId: string): Promise<void> {
    return this.driver.remove(containerId);
  }

  rwSize(containerId: string): Promise<number> {
    return this.driver.diffSize(containerId);
  }

  /** The container's changes as a layer tar (for commit). */
  async diffRw(containerId: string, opts: TarDiffOptions = {}): Promise<Readable> {
    const idMap = await this.driver.idMap(containerId);
    return this.driver.diff(containerId, idMap ? { ...opts, idMap } : opts);
  }

  /** The container's changes as Docker's change list. */
  changesRw(containerId: string, opts: TarDiffOptions = {}): Promise<FileChange[]> {
    return this.driver.changes(containerId, opts);
  }

  /** Sum of the sizes of the layer and all its parents. */
  chainSize(chainId: ChainId): number {
    let total = 0;
    for (let id: ChainId | null = chainId; id !== null; ) {
      const layer = this.get(id);
      total += layer.size;
      id = layer.parent;
    }
    return total;
  }

  driverMetadata(cacheId: string): Promise<Record<string, string>> {
    return this.driver.metadata(cacheId);
  }
}
