import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, openSync, readSync, realpathSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { InvalidParameterError, SystemError } from '../common/index.js';
import { decodePaxRecords, parseTarNumber, tarPadding } from './tar-header.js';
import { checkSpecialSize } from './pax-tap.js';

const BLOCK = 512;
const RAW_FLUSH = 64 * 1024;
const READ_CHUNK = 1 << 20;
const TAG_RAW = 0x52; // 'R'
const TAG_FILE = 0x46; // 'F'

/** Old-style archives mark directories by a trailing '/' on a regular entry's name (tar-stream follows). */
function namesDirectory(block: Buffer): boolean {
  const end = block.indexOf(0);
  const name = block.subarray(0, end < 0 || end > 100 ? 100 : end);
  return name.length > 0 && name[name.length - 1] === 0x2f;
}

/** Typeflags whose content tar-apply writes into a regular file. */
function isRegular(typeflag: string): boolean {
  return typeflag === '0' || typeflag === '\0' || typeflag === '7';
}

/**
 * A pass-through that follows the tar framing of a layer and records everything that is not
 * regular file content (headers, PAX and long-name records, padding, the end marker and
 * anything after it) byte for byte, with placeholders where file content goes. With the paths
 * tar-apply wrote that content to, `assembleTar` regenerates the exact original bytes, so a
 * layer keeps its diffID without keeping a second copy of its files.
 *
 * Layout of the record file: a sequence of `R <u32 length> <bytes>` and `F <u64 size>`.
 */
export class TarSplitRecorder extends Transform {
  private raw: Buffer[] = [];
  private rawLength = 0;
  private readonly out: Buffer[] = [];
  private skipContent = 0;
  private skipRaw = 0;
  private want: 'header' | 'pax' | 'global-pax' = 'header';
  private paxSize = 0;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private localSize: number | undefined;
  private ended = false;
  private written = Promise.resolve();
  fileEntries = 0;

  constructor(private readonly fh: FileHandle) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    if (this.out.length === 0) {
      cb(null, chunk);
      return;
    }
    const records = Buffer.concat(this.out.splice(0));
    this.written = this.written.then(() => this.fh.write(records).then(() => undefined));
    this.written.then(() => cb(null, chunk), (err: Error) => cb(err));
  }

  override _flush(cb: TransformCallback): void {
    this.flushRaw();
    const records = Buffer.concat(this.out.splice(0));
    this.written = this.written.then(() => this.fh.write(records).then(() => undefined));
    this.written.then(() => cb(), (err: Error) => cb(err));
  }

  private keepRaw(buf: Buffer): void {
    if (buf.length === 0) return;
    this.raw.push(Buffer.from(buf));
    this.rawLength += buf.length;
    if (this.rawLength >= RAW_FLUSH) this.flushRaw();
  }

  private flushRaw(): void {
    if (this.rawLength === 0) return;
    const head = Buffer.alloc(5);
    head[0] = TAG_RAW;
    head.writeUInt32BE(this.rawLength, 1);
    this.out.push(head, ...this.raw);
    this.raw = [];
    this.rawLength = 0;
  }

  private fileRecord(size: number): void {
    this.flushRaw();
    const rec = Buffer.alloc(9);
    rec[0] = TAG_FILE;
    rec.writeBigUInt64BE(BigInt(size), 1);
    this.out.push(rec);
    this.fileEntries++;
  }

  private consume(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.ended) {
        this.keepRaw(chunk.subarray(off));
        return;
      }
      if (this.skipContent > 0) {
        const n = Math.min(this.skipContent, chunk.length - off);
        this.skipContent -= n;
        off += n;
        continue;
      }
      if (this.skipRaw > 0) {
        const n = Math.min(this.skipRaw, chunk.length - off);
        this.keepRaw(chunk.subarray(off, off + n));
        this.skipRaw -= n;
        off += n;
        continue;
      }
      const needed = this.want === 'header' ? BLOCK : this.paxSize;
      const take = Math.min(needed - this.pendingLength, chunk.length - off);
      if (take > 0) {
        this.pending.push(chunk.subarray(off, off + take));
        this.pendingLength += take;
        off += take;
      }
      if (this.pendingLength < needed) break;
      const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
      this.keepRaw(data);
      if (this.want === 'header') this.onHeader(data);
      else this.onPax(data);
    }
  }

  private onHeader(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      // End of archive: the rest (second zero block, trailing padding) is kept as it comes.
      this.ended = true;
      return;
    }
    const typeflag = String.fromCharCode(block[156]!);
    const size = parseTarNumber(block, 124, 12);
    if ('xgLK'.includes(typeflag)) checkSpecialSize(typeflag, size);
    switch (typeflag) {
      case 'x':
      case 'g':
        this.want = typeflag === 'x' ? 'pax' : 'global-pax';
        this.paxSize = size;
        if (size === 0) this.onPax(Buffer.alloc(0));
        return;
      case 'L':
      case 'K':
        this.skipRaw = size + tarPadding(size);
        return;
      default: {
        const dataSize = this.localSize ?? size;
        this.localSize = undefined;
        if (dataSize <= 0) return;
        if (isRegular(typeflag) && !namesDirectory(block)) {
          this.fileRecord(dataSize);
          this.skipContent = dataSize;
          this.skipRaw = tarPadding(dataSize);
        } else if (typeflag !== '5') {
          this.skipRaw = dataSize + tarPadding(dataSize);
        }
      }
    }
  }

  private onPax(data: Buffer): void {
    const size = decodePaxRecords(data).get('size');
    if (this.want === 'pax' && size) this.localSize = Number.parseInt(size.toString('ascii'), 10);
    this.skipRaw = tarPadding(this.paxSize);
    this.want = 'header';
    this.paxSize = 0;
  }
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw new SystemError('tar layout record truncated');
    got += bytesRead;
  }
  return buf;
}

/** Files up to this size are read with synchronous calls (their round trips dominate otherwise). */
const SMALL_FILE = 256 * 1024;

/**
 * Checks that the directory holding `rel` is reached without symlinks (so reading can never leave
 * the layer); the file itself is opened with O_NOFOLLOW. Verified directories are remembered.
 */
function checkDir(root: string, rel: string, verified: Set<string>): void {
  const slash = rel.lastIndexOf('/');
  const dir = slash < 0 ? '' : rel.slice(0, slash);
  if (verified.has(dir)) return;
  const abs = dir === '' ? root : join(root, dir);
  let real: string | undefined;
  try {
    real = realpathSync.native(abs);
  } catch {
    real = undefined;
  }
  if (real !== abs) throw new SystemError(`layer content ${rel} is missing or moved`);
  verified.add(dir);
}

function readSmall(root: string, rel: string, size: number, verified: Set<string>): Buffer {
  const abs = join(root, rel);
  checkDir(root, rel, verified);
  const fd = openSync(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) throw new SystemError(`layer content ${rel} is shorter than recorded`);
      got += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Sequential reads of the record file through a 1 MiB window (records are small and many). */
class RecordReader {
  private buf = Buffer.alloc(0);
  private off = 0;
  private pos = 0;
  constructor(private readonly fh: FileHandle, private readonly total: number) {}

  get done(): boolean {
    return this.off >= this.buf.length && this.pos >= this.total;
  }

  async take(n: number): Promise<Buffer> {
    if (this.buf.length - this.off < n) {
      const rest = this.buf.subarray(this.off);
      const want = Math.max(n - rest.length, Math.min(READ_CHUNK, this.total - this.pos));
      const more = await readExactly(this.fh, Math.min(want, this.total - this.pos), this.pos);
      this.pos += more.length;
      this.buf = Buffer.concat([rest, more]);
      this.off = 0;
      if (this.buf.length < n) throw new SystemError('tar layout record truncated');
    }
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
}

async function* assemble(recordPath: string, paths: Array<string | null>, root: string): AsyncGenerator<Buffer> {
  const fh = await open(recordPath, 'r');
  try {
    const { size: total } = await fh.stat();
    const reader = new RecordReader(fh, total);
    let fileIndex = 0;
    const verified = new Set<string>();
    while (!reader.done) {
      const tag = (await reader.take(1))[0];
      if (tag === TAG_RAW) {
        const len = (await reader.take(4)).readUInt32BE(0);
        yield Buffer.from(await reader.take(len));
      } else if (tag === TAG_FILE) {
        const size = Number((await reader.take(8)).readBigUInt64BE(0));
        const rel = paths[fileIndex++];
        if (rel === undefined || rel === null) throw new SystemError('layer content was not kept for a file entry');
        if (size <= SMALL_FILE) {
          yield readSmall(root, rel, size, verified);
          continue;
        }
        checkDir(root, rel, verified);
        const file = await open(join(root, rel), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
        try {
          let done = 0;
          while (done < size) {
            const buf = Buffer.alloc(Math.min(READ_CHUNK, size - done));
            const { bytesRead } = await file.read(buf, 0, buf.length, done);
            if (bytesRead === 0) throw new SystemError(`layer content ${rel} is shorter than recorded`);
            done += bytesRead;
            yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
          }
        } finally {
          await file.close();
        }
      } else {
        throw new SystemError('tar layout record is corrupt');
      }
    }
  } finally {
    await fh.close();
  }
}

/** Regenerates a layer tar from its record file, the content paths and the layer's files. */
export function assembleTar(recordPath: string, paths: Array<string | null>, root: string): Readable {
  return Readable.from(assemble(recordPath, paths, root), { objectMode: false });
}

/** Passes `source` through, and fails the stream at its end when the bytes do not hash to `expected`. */
export function verifiedStream(source: AsyncIterable<Buffer>, expected: string, what: string): Readable {
  async function* run(): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    for await (const chunk of source) {
      hash.update(chunk);
      yield chunk;
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== expected) throw new InvalidParameterError(`${what}: digest mismatch: expected ${expected}, got ${got}`);
  }
  return Readable.from(run(), { objectMode: false });
}

/** The length of the tar `assembleTar` produces, from the record file alone. */
export async function assembledSize(recordPath: string): Promise<number> {
  const fh = await open(recordPath, 'r');
  try {
    const { size: total } = await fh.stat();
    const reader = new RecordReader(fh, total);
    let bytes = 0;
    while (!reader.done) {
      const tag = (await reader.take(1))[0];
      if (tag === TAG_RAW) {
        const len = (await reader.take(4)).readUInt32BE(0);
        await reader.take(len);
        bytes += len;
      } else if (tag === TAG_FILE) {
        bytes += Number((await reader.take(8)).readBigUInt64BE(0));
      } else {
        throw new SystemError('tar layout record is corrupt');
      }
    }
    return bytes;
  } finally {
    await fh.close();
  }
}
