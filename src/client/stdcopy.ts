import type { Readable, Writable } from 'node:stream';

export type StdcopyStream = 'stdin' | 'stdout' | 'stderr' | 'system';

export interface StdcopyFrame {
  stream: StdcopyStream;
  payload: Buffer;
}

const HEADER = 8;
const KINDS: Record<number, StdcopyStream> = { 0: 'stdin', 1: 'stdout', 2: 'stderr', 3: 'system' };

/**
 * Incremental parser of the Engine API's multiplexed stream: 8-byte headers
 * `[type, 0, 0, 0, size uint32 BE]` followed by `size` bytes. Frames may be split across chunks.
 */
export class StdcopyParser {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes and returns the complete frames they finish. Throws on an unknown stream type. */
  push(chunk: Buffer): StdcopyFrame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: StdcopyFrame[] = [];
    let off = 0;
    while (this.pending.length - off >= HEADER) {
      const type = this.pending[off] as number;
      const kind = KINDS[type];
      if (!kind) throw new Error(`Unrecognized input header: ${type}`);
      const size = this.pending.readUInt32BE(off + 4);
      if (this.pending.length - off - HEADER < size) break;
      frames.push({ stream: kind, payload: this.pending.subarray(off + HEADER, off + HEADER + size) });
      off += HEADER + size;
    }
    this.pending = off === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(off));
    return frames;
  }

  /** Bytes of an incomplete frame still buffered. */
  get buffered(): number {
    return this.pending.length;
  }
}

function writeWithBackpressure(dest: Writable, data: Buffer): Promise<void> | undefined {
  if (dest.write(data)) return undefined;
  return new Promise((resolve) => dest.once('drain', resolve));
}

/**
 * Copies a multiplexed stream to stdout and stderr until the source ends. Rejects with
 * `error from daemon in stream: ...` on a system-error frame.
 */
export async function demuxStdcopy(source: Readable, dests: { stdout: Writable; stderr: Writable }): Promise<void> {
  const parser = new StdcopyParser();
  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    for (const frame of parser.push(buf)) {
      if (frame.stream === 'system') {
        throw new Error(`error from daemon in stream: ${frame.payload.toString('utf8')}`);
      }
      const dest = frame.stream === 'stderr' ? dests.stderr : dests.stdout;
      const wait = writeWithBackpressure(dest, frame.payload);
      if (wait) await wait;
    }
  }
}

/** Builds one frame (used by tests and fakes). */
export function encodeStdcopyFrame(stream: StdcopyStream, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(HEADER);
  header[0] = { stdin: 0, stdout: 1, stderr: 2, system: 3 }[stream];
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}
