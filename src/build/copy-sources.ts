import { createHash } from 'node:crypto';
import { lstat, mkdir, open, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidParameterError, errorMessage } from '../common/errors.js';
import { sha256Digest } from '../common/ids.js';
import { applyTar } from '../layer/index.js';
import { BuildContext, resolveInRoot } from './context/build-context.js';
import { checksumTree, copyInto, writeInto, type CopyOptions } from './file-copy.js';
import type { Heredoc } from './parser/index.js';

/** One COPY/ADD source, resolved. */
export type CopyItem =
  | { kind: 'path'; host: string; rel: string }
  | { kind: 'heredoc'; name: string; content: string }
  | { kind: 'url'; url: string };

export interface CopySpec {
  kind: 'copy' | 'add';
  sources: string[];
  heredocs: Heredoc[];
  /** Absolute destination in the image (a trailing `/` kept). */
  dest: string;
  /** Sources come from another stage's or image's layers (ADD's archive unpacking is off). */
  fromLayers: boolean;
  checksum?: string;
}

/** Resolves the sources against `root` (the context, or a mounted stage): globs, heredocs, URLs. */
export async function resolveCopyItems(spec: CopySpec, root: string): Promise<CopyItem[]> {
  const upper = spec.kind.toUpperCase();
  const items: CopyItem[] = [];
  for (const src of spec.sources) {
    if (src.startsWith('<<')) {
      const name = src.replace(/^<<-?/, '').replace(/^["']|["']$/g, '');
      const hd = spec.heredocs.find((h) => h.name === name);
      if (hd) { items.push({ kind: 'heredoc', name, content: hd.content }); continue; }
    }
    if (/^https?:\/\//i.test(src)) {
      if (spec.kind === 'copy') throw new InvalidParameterError('source can\'t be a URL for COPY');
      items.push({ kind: 'url', url: src });
      continue;
    }
    if (spec.checksum !== undefined) throw new InvalidParameterError('checksum can\'t be specified for non-HTTP(S) sources');
    for (const rel of await BuildContext.at(root).sources(src)) {
      const { path } = await resolveInRoot(root, rel, { followLast: true });
      items.push({ kind: 'path', host: path, rel });
    }
  }
  if (items.length > 1 && !spec.dest.endsWith('/')) {
    throw new InvalidParameterError(`When using ${upper} with more than one source file, the destination must be a directory and end with a /`);
  }
  return items;
}

/** The checksum the cache key and the history line use, and Docker's word for the sources. */
export async function checksumItems(items: CopyItem[]): Promise<{ hash: string; kind: 'file' | 'dir' | 'multi' }> {
  const parts: string[] = [];
  for (const it of items) {
    if (it.kind === 'path') parts.push(`${it.rel}:${await checksumTree(it.host)}`);
    else if (it.kind === 'heredoc') parts.push(`heredoc:${it.name}:${sha256Digest(it.content)}`);
    else parts.push(`url:${it.url}`);
  }
  const first = items[0];
  const kind = items.length > 1 ? 'multi' : first?.kind === 'path' && (await lstat(first.host)).isDirectory() ? 'dir' : 'file';
  return { hash: createHash('sha256').update(parts.join('\n')).digest('hex'), kind };
}

/** Writes the items into the rootfs at `root` with Docker's COPY/ADD semantics. */
export async function applyCopyItems(spec: CopySpec, items: CopyItem[], root: string, opts: CopyOptions, signal?: AbortSignal): Promise<void> {
  for (const it of items) {
    if (it.kind === 'heredoc') {
      await writeInto(it.name, Buffer.from(it.content), root, spec.dest, { ...opts, fileMode: 0o644 });
    } else if (it.kind === 'url') {
      const { body, name, mtime } = await download(it.url, signal);
      if (spec.checksum !== undefined) {
        const got = sha256Digest(body);
        if (got !== spec.checksum) throw new InvalidParameterError(`digest mismatch ${spec.checksum}: ${got}`);
      }
      await writeInto(name, body, root, spec.dest, { ...opts, fileMode: 0o600, ...(mtime ? { mtime } : {}) });
    } else if (spec.kind === 'add' && !spec.fromLayers && (await lstat(it.host)).isFile() && (await archiveKind(it.host))) {
      await extractArchive(it.host, root, spec.dest);
    } else {
      await copyInto(it.host, root, spec.dest, opts);
    }
  }
}

function isArchive(head: Buffer): 'gzip' | 'tar' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

async function archiveKind(path: string): Promise<'gzip' | 'tar' | undefined> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(262);
    const { bytesRead } = await fh.read(buf, 0, 262, 0);
    return isArchive(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** ADD of a local archive: its contents are unpacked into the destination directory. */
async function extractArchive(path: string, root: string, dest: string): Promise<void> {
  const { path: dir } = await resolveInRoot(root, dest, { followLast: true });
  await mkdir(dir, { recursive: true });
  const kind = await archiveKind(path);
  const input = Readable.from([await readFile(path)]);
  await applyTar(kind === 'gzip' ? input.pipe(createGunzip()) : input, dir, { whiteouts: 'vfs' });
}

async function download(url: string, signal?: AbortSignal): Promise<{ body: Buffer; name: string; mtime?: Date }> {
  let res: Response;
  try {
    const timeout = AbortSignal.timeout(30_000);
    res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw new InvalidParameterError(`failed to download ${url}: ${errorMessage(cause ?? err)}`);
  }
  if (!res.ok) throw new InvalidParameterError(`failed to download ${url}: unexpected status ${res.status} ${res.statusText}`);
  const body = Buffer.from(await res.arrayBuffer());
  const name = posix.basename(new URL(url).pathname) || 'index.html';
  const lm = res.headers.get('last-modified');
  return lm ? { body, name, mtime: new Date(lm) } : { body, name };
}
