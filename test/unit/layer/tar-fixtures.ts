import { Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tarStream, { type Header } from 'tar-stream';
import { encodeTarHeader, tarPadding, TAR_END_OF_ARCHIVE, type TarHeader } from '../../../src/layer/tar-header.js';

export interface FixtureEntry extends Partial<Omit<Header, 'pax'>> {
  name: string;
  content?: string | Buffer;
  pax?: Record<string, string>;
}

/** Builds a tar in memory with tar-stream's packer. */
export async function packTar(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const e of entries) {
    const { content, ...header } = e;
    const type = header.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      const h = { mtime: new Date(1_600_000_000_000), uid: 0, gid: 0, ...header, type };
      if (type === 'file') pack.entry(h, content ?? '', cb);
      else pack.entry(h, cb);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** Builds a tar byte for byte with the layer package's own header encoder (binary PAX values). */
export function rawTar(entries: Array<TarHeader & { content?: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = e.content ?? Buffer.alloc(0);
    parts.push(encodeTarHeader({ ...e, size: content.length }), content, Buffer.alloc(tarPadding(content.length)));
  }
  parts.push(TAR_END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export function streamOf(buf: Buffer): Readable {
  return Readable.from([buf], { objectMode: false });
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface ListedEntry {
  name: string;
  type: string;
  size: number;
  linkname: string | null;
}

/** Lists a tar's entries (names as written). */
export async function listTar(buf: Buffer): Promise<ListedEntry[]> {
  const out: ListedEntry[] = [];
  const extract = tarStream.extract();
  extract.on('entry', (header, stream, next) => {
    out.push({ name: header.name, type: header.type, size: header.size, linkname: header.linkname ?? null });
    stream.on('end', () => next());
    stream.resume();
  });
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
    extract.end(buf);
  });
  return out;
}

export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
