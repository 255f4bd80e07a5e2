import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, createGzip } from 'node:zlib';
import { readLog, parseK8sLogLine, type LogEntry, type ReadLogOptions } from './k8s-file-log.js';
import type { RotationPolicy } from './log-config.js';

/** The rotated files of a log, newest first: `<path>.1[.gz]`, `<path>.2[.gz]`, ... */
export function rotatedFiles(path: string): string[] {
  const out: string[] = [];
  for (let i = 1; i < 1000; i++) {
    if (existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
    else if (existsSync(`${path}.${i}.gz`)) out.push(`${path}.${i}.gz`);
    else break;
  }
  return out;
}

/** Every entry of a (bounded) rotated file that the options select, oldest first. */
async function entriesOf(file: string, opts: ReadLogOptions): Promise<{ entries: LogEntry[]; pastUntil: boolean }> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch {
    return { entries: [], pastUntil: false };
  }
  if (file.endsWith('.gz')) {
    try { raw = gunzipSync(raw); } catch { return { entries: [], pastUntil: false }; }
  }
  const entries: LogEntry[] = [];
  let start = 0;
  let nl: number;
  const sinceS = opts.since;
  while ((nl = raw.indexOf(0x0a, start)) >= 0) {
    const l = parseK8sLogLine(raw.subarray(start, nl));
    start = nl + 1;
    if (!l) continue;
    if (l.stream === 'stdout' ? !opts.stdout : !opts.stderr) continue;
    const t = l.seconds + l.nanos / 1e9;
    if (sinceS !== undefined && t < sinceS) continue;
    if (opts.until !== undefined && t > opts.until) return { entries, pastUntil: true };
    entries.push({ stream: l.stream, time: l.time, data: l.full ? Buffer.concat([l.text, Buffer.from('\n')]) : Buffer.from(l.text) });
  }
  return { entries, pastUntil: false };
}

/** The last `n` lines of entries (a partial line counts with the line that completes it). */
function lastLines(entries: LogEntry[], n: number): LogEntry[] {
  if (n <= 0) return [];
  let count = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    const full = entries[i]!.data.at(-1) === 0x0a;
    if (full) {
      if (count === n) return entries.slice(i + 1);
      count++;
    }
  }
  return entries;
}

async function countLines(path: string, opts: ReadLogOptions): Promise<number> {
  const { entries } = await entriesOf(path, { ...opts, since: undefined, until: undefined });
  return entries.filter((e) => e.data.at(-1) === 0x0a).length;
}

/**
 * Reads a container's log across its rotated files (oldest first), then the current file, which
 * it follows when asked; `tail` counts across files. A follower moves to the new file when the
 * log rotates (readLog handles that).
 */
export async function* readLogFiles(path: string, opts: ReadLogOptions): AsyncGenerator<LogEntry> {
  const rotated = rotatedFiles(path).reverse();
  if (rotated.length === 0) {
    yield* readLog(path, opts);
    return;
  }
  let older: LogEntry[] = [];
  let pastUntil = false;
  let currentTail = opts.tail;
  if (opts.tail !== undefined) {
    const inCurrent = await countLines(path, opts);
    if (inCurrent < opts.tail) {
      let need = opts.tail - inCurrent;
      for (let i = rotated.length - 1; i >= 0 && need > 0; i--) {
        const { entries } = await entriesOf(rotated[i]!, opts);
        const picked = lastLines(entries, need);
        need -= picked.filter((e) => e.data.at(-1) === 0x0a).length;
        older = [...picked, ...older];
      }
      currentTail = undefined;
    }
  } else {
    for (const f of rotated) {
      const r = await entriesOf(f, opts);
      older.push(...r.entries);
      if (r.pastUntil) { pastUntil = true; break; }
    }
  }
  for (const e of older) {
    if (opts.signal?.aborted) return;
    yield e;
  }
  if (pastUntil) return;
  const rest: ReadLogOptions = { ...opts };
  if (currentTail === undefined) delete rest.tail;
  else rest.tail = currentTail;
  yield* readLog(path, rest);
}

/** Removes a log and its rotated files. */
export async function removeLogFiles(path: string): Promise<void> {
  await Promise.all([path, ...rotatedFiles(path)].map((f) => rm(f, { force: true })));
}

/**
 * Rotates `path`: shifts `.1`..`.N-2` up (dropping the oldest), renames the current file to `.1`,
 * asks the writer to reopen, then compresses `.1` when asked. With max-file 1 the old content is
 * dropped, as Docker truncates.
 */
export async function rotateLog(path: string, policy: RotationPolicy, reopen: () => Promise<void>): Promise<void> {
  const keep = Math.max(1, policy.maxFile) - 1;
  if (keep === 0) {
    await rename(path, `${path}.1`);
    try {
      await reopen();
    } catch (err) {
      await rename(`${path}.1`, path).catch(() => undefined);
      throw err;
    }
    await waitForNewFile(path);
    await rm(`${path}.1`, { force: true });
    return;
  }
  for (const suffix of ['', '.gz']) await rm(`${path}.${keep}${suffix}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    for (const suffix of ['', '.gz']) {
      if (existsSync(`${path}.${i}${suffix}`)) await rename(`${path}.${i}${suffix}`, `${path}.${i + 1}${suffix}`);
    }
  }
  await rename(path, `${path}.1`);
  try {
    await reopen();
  } catch (err) {
    // The writer is gone (the container just exited): put the file back, it stays the current one.
    await rename(`${path}.1`, path).catch(() => undefined);
    throw err;
  }
  await waitForNewFile(path);
  if (policy.compress) {
    // The writer may still flush a last line into the old file: give it a moment.
    await new Promise((r) => setTimeout(r, 200));
    const tmp = `${path}.1.gz.tmp`;
    await pipeline(createReadStream(`${path}.1`), createGzip(), createWriteStream(tmp));
    await rename(tmp, `${path}.1.gz`);
    await rm(`${path}.1`, { force: true });
  }
}

async function waitForNewFile(path: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await stat(path).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
