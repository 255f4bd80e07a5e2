import { Transform, type TransformCallback } from 'node:stream';
import { InvalidParameterError } from '../common/index.js';
import { decodePaxRecords, parseTarNumber, tarPadding } from './tar-header.js';

const BLOCK = 512;
/** Largest PAX or GNU long-name record accepted (as Go's archive/tar): bigger ones are hostile. */
export const MAX_SPECIAL_RECORD = 1 << 20;

export function checkSpecialSize(typeflag: string, size: number): void {
  if (size > MAX_SPECIAL_RECORD) {
    throw new InvalidParameterError(`invalid tar header: ${typeflag === 'L' || typeflag === 'K' ? 'long name' : 'PAX'} record of ${size} bytes exceeds the limit of ${MAX_SPECIAL_RECORD}`);
  }
}

/**
 * A pass-through placed in front of tar-stream's extractor that follows the tar framing itself
 * and keeps each entry's PAX records as raw bytes (tar-stream decodes them as UTF-8, which
 * corrupts binary xattr values). Entries are queued in archive order; the extractor's consumer
 * takes one per entry with `take()`. Bytes reach the extractor only after this tap has parsed
 * them, so the record for an entry is always queued before tar-stream emits that entry.
 */
export class PaxTap extends Transform {
  private readonly queue: Array<Map<string, Buffer>> = [];
  private global = new Map<string, Buffer>();
  private local: Map<string, Buffer> | null = null;
  private skip = 0;
  private want: 'header' | 'pax' | 'global-pax' = 'header';
  private paxSize = 0;
  private pending: Buffer[] = [];
  private pendingLength = 0;

  /** The PAX records (global merged with local) of the next entry in archive order. */
  takeRecords(): Map<string, Buffer> {
    return this.queue.shift() ?? new Map();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }

  private consume(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length || (this.skip === 0 && this.want !== 'header' && this.paxSize === 0)) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
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
      if (this.want === 'header') this.onHeader(data);
      else this.onPax(data);
    }
  }

  private onHeader(block: Buffer): void {
    if (block.every((b) => b === 0)) return; // end-of-archive marker (or padding)
    const typeflag = String.fromCharCode(block[156]!);
    const size = parseTarNumber(block, 124, 12);
    if ('xgLK'.includes(typeflag)) checkSpecialSize(typeflag, size);
    switch (typeflag) {
      case 'x':
        this.want = 'pax';
        this.paxSize = size;
        return;
      case 'g':
        this.want = 'global-pax';
        this.paxSize = size;
        return;
      case 'L':
      case 'K':
        this.skip = size + tarPadding(size);
        return;
      default: {
        const records = new Map([...this.global, ...(this.local ?? [])]);
        this.local = null;
        this.queue.push(records);
        const paxSize = records.get('size');
        const dataSize = paxSize ? Number.parseInt(paxSize.toString('ascii'), 10) : size;
        // tar-stream reads no content for directories; mirror it to stay in step.
        if (typeflag !== '5' && dataSize > 0) this.skip = dataSize + tarPadding(dataSize);
      }
    }
  }

  private onPax(data: Buffer): void {
    const records = decodePaxRecords(data);
    if (this.want === 'pax') this.local = records;
    else this.global = new Map([...this.global, ...records]);
    this.skip = tarPadding(this.paxSize);
    this.want = 'header';
    this.paxSize = 0;
  }
}
