import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { InvalidParameterError, NotFoundError, errnoCode } from '../common/errors.js';
import { isDigest, type Digest } from '../common/ids.js';
import { fsyncDir } from './atomic-file.js';

/**
 * Content-addressed blobs (image configs, and later manifests and compressed layers) under
 * `<root>/sha256/<hex>`. Every write goes to a temp name, is hashed while written, fsynced,
 * verified against the expected digest and only then renamed into place: a reader sees a whole
 * verified blob or none.
 */
/** Chunk size of blob reads. */
const READ_CHUNK = 1024 * 1024;
/** Bytes gathered before one write while ingesting. */
const WRITE_BATCH = 1024 * 1024;

export class BlobStore {
  constructor(private readonly root: string) {}

  path(digest: Digest): string {
    return join(this.root, 'sha256', digest.slice('sha256:'.length));
  }

  async has(digest: Digest): Promise<boolean> {
    return stat(this.path(digest)).then(() => true, () => false);
  }

  async get(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new NotFoundError(`blob ${digest} not found`);
      throw err;
    }
  }

  /** Reads a blob in large chunks (fewer round trips through the stream pipeline). */
  open(digest: Digest): Readable {
    return createReadStream(this.path(digest), { highWaterMark: READ_CHUNK });
  }

  /** Stores data; with `expected`, a mismatch is refused and nothing is kept. Returns the digest. */
  /**
   * `durable: false` skips the fsyncs, for blobs that are a cache of content verified again when
   * used (pulled layer blobs: their diffID is checked on extraction, a registry checks the digest
   * on push); a crash may then leave such a blob short, and its user finds that out.
   */
  async ingest(data: Buffer | AsyncIterable<Buffer>, opts: { expected?: Digest; durable?: boolean } = {}): Promise<Digest> {
    if (opts.expected !== undefined && !isDigest(opts.expected)) throw new InvalidParameterError(`invalid digest ${opts.expected}`);
    const dir = join(this.root, 'sha256');
    const tmpDir = join(this.root, 'ingest');
    await mkdir(dir, { recursive: true });
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    const fh = await open(tmp, 'w', 0o644);
    try {
      const chunks: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(data) ? [data] : data;
      // Network chunks are small: they are hashed as they come and written in batches.
      let batch: Buffer[] = [];
      let batched = 0;
      for await (const chunk of chunks) {
        hash.update(chunk);
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) {
          await fh.writev(batch);
          batch = [];
          batched = 0;
        }
      }
      if (batch.length) await fh.writev(batch);
      if (opts.durable !== false) await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const digest = `sha256:${hash.digest('hex')}` as Digest;
    if (opts.expected && opts.expected !== digest) {
      await rm(tmp, { force: true });
      throw new InvalidParameterError(`digest mismatch: expected ${opts.expected}, got ${digest}`);
    }
    await rename(tmp, this.path(digest));
    if (opts.durable !== false) await fsyncDir(dir);
    return digest;
  }

  async remove(digest: Digest): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Every stored blob's digest. */
  async list(): Promise<Digest[]> {
    const names = await readdir(join(this.root, 'sha256')).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  /** Files under the blob root that are not blobs: temp files of writes that did not finish. */
  async strays(): Promise<string[]> {
    const ingest = await readdir(join(this.root, 'ingest')).catch(() => [] as string[]);
    const odd = (await readdir(join(this.root, 'sha256')).catch(() => [] as string[])).filter((n) => !/^[0-9a-f]{64}$/.test(n));
    return [...ingest.map((n) => `ingest/${n}`), ...odd.map((n) => `sha256/${n}`)];
  }

  async size(digest: Digest): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  /** Drops temp files left by writes that never finished (start-up). */
  async sweep(): Promise<void> {
    await rm(join(this.root, 'ingest'), { recursive: true, force: true });
  }
}
