import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { errnoCode } from '../common/index.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  stream: LogStream;
  /** RFC3339 in UTC with all nine fractional digits, e.g. 2026-11-24T03:37:04.123456789Z. */
  time: string;
  data: Buffer;
}

export interface ReadLogOptions {
  follow: boolean;
  /** Unix seconds (fractional allowed); entries before it are skipped. */
  since?: number;
  /** Unix seconds; reading ends at the first entry after it. */
  until?: number;
  /** Number of lines from the end; undefined means all. */
  tail?: number;
  stdout: boolean;
  stderr: boolean;
  signal?: AbortSignal;
  /** In follow mode, reading ends at end of file once this returns true. */
  isDone?: () => boolean;
  /**
   * Lets the caller wake a follower when `isDone` may have changed (the container exited), so it
   * does not wait for the next poll. Called once with the wake function; returns an unsubscribe.
   */
  onWake?: (wake: () => void) => () => void;
  /** Polling interval in follow mode, a backstop for fs.watch (ms). */
  pollMs?: number;
}

/** One parsed line of conmon's k8s-file log. */
export interface K8sLogLine {
  stream: LogStream;
  time: string;
  /** Seconds since the epoch (whole) and the nanoseconds within it, for exact comparison. */
  seconds: number;
  nanos: number;
  /** false for a P (partial) line: no newline follows its text. */
  full: boolean;
  text: Buffer;
}

const CHUNK = 64 * 1024;
const NL = 0x0a;
const SP = 0x20;
const TS_RE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/;

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** Parses an RFC3339(Nano) timestamp with any zone offset into UTC seconds and nanoseconds. */
export function parseRfc3339Nano(ts: string): { seconds: number; nanos: number; utc: string } | undefined {
  const m = TS_RE.exec(ts);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let offsetSec = 0;
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    const digits = zone!.slice(1).replace(':', '');
    offsetSec = sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4)) * 60);
  }
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000 - offsetSec;
  const nanos = Number((frac ?? '').padEnd(9, '0'));
  const dt = new Date(seconds * 1000);
  const utc = `${pad(dt.getUTCFullYear(), 4)}-${pad(dt.getUTCMonth() + 1, 2)}-${pad(dt.getUTCDate(), 2)}T` +
    `${pad(dt.getUTCHours(), 2)}:${pad(dt.getUTCMinutes(), 2)}:${pad(dt.getUTCSeconds(), 2)}.${pad(nanos, 9)}Z`;
  return { seconds, nanos, utc };
}

/** Parses one line (without its trailing newline); undefined when it is not a k8s-file line. */
export function parseK8sLogLine(line: Buffer): K8sLogLine | undefined {
  const a = line.indexOf(SP);
  if (a < 0) return undefined;
  const b = line.indexOf(SP, a + 1);
  if (b < 0) return undefined;
  let c = line.indexOf(SP, b + 1);
  if (c < 0) c = line.length;
  const ts = parseRfc3339Nano(line.subarray(0, a).toString('latin1'));
  const stream = line.subarray(a + 1, b).toString('latin1');
  const tags = line.subarray(b + 1, c).toString('latin1').split(':');
  if (!ts || (stream !== 'stdout' && stream !== 'stderr')) return undefined;
  return {
    stream, time: ts.utc, seconds: ts.seconds, nanos: ts.nanos,
    full: !tags.includes('P'),
    text: c < line.length ? line.subarray(c + 1) : Buffer.alloc(0),
  };
}

function entryOf(l: K8sLogLine): LogEntry {
  const data = l.full ? Buffer.concat([l.text, Buffer.from('\n')]) : Buffer.from(l.text);
  return { stream: l.stream, time: l.time, data };
}

function wanted(l: K8sLogLine, opts: ReadLogOptions): boolean {
  return l.stream === 'stdout' ? opts.stdout : opts.stderr;
}

/** true when the line is before `since` (seconds, fractional). */
function beforeSince(l: K8sLogLine, since: number | undefined): boolean {
  if (since === undefined) return false;
  const whole = Math.floor(since);
  const ns = Math.round((since - whole) * 1e9);
  return l.seconds < whole || (l.seconds === whole && l.nanos < ns);
}

function afterUntil(l: K8sLogLine, until: number | undefined): boolean {
  if (until === undefined) return false;
  const whole = Math.floor(until);
  const ns = Math.round((until - whole) * 1e9);
  return l.seconds > whole || (l.seconds === whole && l.nanos > ns);
}

/**
 * Finds the offset where the last `tail` lines begin (counting a run of P lines and the F line
 * ending it as one line, and only lines of the selected streams), reading backwards from `end`.
 */
async function tailOffset(fh: FileHandle, end: number, tail: number, opts: ReadLogOptions): Promise<number> {
  if (tail <= 0 || end === 0) return end;
  let pos = end;
  let carry = Buffer.alloc(0);
  let count = 0;
  // A last line still being written (no newline yet) is not a line yet.
  const last = Buffer.alloc(1);
  await readFully(fh, last, end - 1);
  let skipSegment = last[0] !== NL;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const buf = Buffer.alloc(len);
    await readFully(fh, buf, pos);
    let block = carry.length ? Buffer.concat([buf, carry]) : buf;
    // Complete lines are those after a newline in `block`; the head stays as carry.
    let lineEnd = block.length;
    for (let i = block.length - 1; i >= 0; i--) {
      if (block[i] !== NL) continue;
      if (skipSegment) {
        skipSegment = false;
      } else if (i + 1 < lineEnd) {
        const parsed = parseK8sLogLine(block.subarray(i + 1, lineEnd));
        if (parsed && parsed.full && wanted(parsed, opts)) {
          if (count === tail) return pos + lineEnd + 1;
          count++;
        }
      }
      lineEnd = i;
    }
    carry = Buffer.from(block.subarray(0, lineEnd));
    block = Buffer.alloc(0);
  }
  // The first line of the file (no newline before it).
  if (carry.length > 0 && !skipSegment) {
    const parsed = parseK8sLogLine(carry);
    if (parsed && parsed.full && wanted(parsed, opts) && count === tail) return carry.length + 1;
  }
  return 0;
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) throw new Error('file shrank while reading');
    off += bytesRead;
  }
}

/**
 * Remembers that something happened (the file changed, or the caller woke us) between two waits,
 * so that an event arriving while the reader is busy is not lost.
 */
class ChangeSignal {
  private pending = false;
  private waiter: (() => void) | undefined;

  notify = (): void => {
    this.pending = true;
    this.waiter?.();
  };

  /** Resolves at the next change (at once if one came since the last wait), the poll, or abort. */
  wait(pollMs: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiter = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      this.waiter = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/** true when `path` now names another file than the inode being read (or none yet). */
async function rotatedAway(path: string, ino: number): Promise<boolean> {
  try {
    return (await stat(path)).ino !== ino;
  } catch {
    return false;
  }
}

/**
 * Reads a conmon k8s-file log: `<RFC3339Nano> stdout|stderr F|P <text>` per line. With follow,
 * keeps reading as the file grows until `isDone()` holds at end of file, or the signal aborts.
 */
export async function* readLog(path: string, opts: ReadLogOptions): AsyncGenerator<LogEntry> {
  const pollMs = opts.pollMs ?? 250;
  let fh: FileHandle | undefined;
  let watcher: FSWatcher | undefined;
  const changes = new ChangeSignal();
  const unsubscribe = opts.follow && opts.onWake ? opts.onWake(changes.notify) : undefined;
  try {
    while (!fh) {
      try {
        fh = await open(path, 'r');
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' || !opts.follow) {
          if (errnoCode(err) === 'ENOENT') return;
          throw err;
        }
        if (opts.signal?.aborted) return;
        if (opts.isDone?.()) return;
        await changes.wait(pollMs, opts.signal);
      }
    }
    if (opts.follow) {
      try {
        watcher = watch(path, { persistent: false });
        watcher.on('change', changes.notify);
        watcher.on('error', () => { watcher?.close(); watcher = undefined; });
      } catch {
        watcher = undefined;
      }
    }
    const size = (await fh.stat()).size;
    let pos = opts.tail === undefined ? 0 : await tailOffset(fh, size, opts.tail, opts);
    let pending = Buffer.alloc(0);
    let drained = false;
    let switchedAtEnd = false;
    const buf = Buffer.alloc(CHUNK);
    /** Closes the rotated-away file and opens the one now at `path`; false when aborted. */
    const moveToNewFile = async (): Promise<boolean> => {
      await fh?.close();
      fh = undefined;
      watcher?.close();
      watcher = undefined;
      while (!fh) {
        try {
          fh = await open(path, 'r');
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw err;
          if (opts.signal?.aborted) return false;
          await changes.wait(20, opts.signal);
        }
      }
      try {
        watcher = watch(path, { persistent: false });
        watcher.on('change', changes.notify);
        watcher.on('error', () => { watcher?.close(); watcher = undefined; });
      } catch {
        watcher = undefined;
      }
      pos = 0;
      pending = Buffer.alloc(0);
      return true;
    };
    for (;;) {
      if (opts.signal?.aborted) return;
      // Checked before reading, so that everything written before "done" is still read.
      const done = !opts.follow || (opts.isDone?.() ?? false);
      let gotData = false;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        gotData = true;
        pos += bytesRead;
        const data = pending.length ? Buffer.concat([pending, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        let start = 0;
        let nl: number;
        while ((nl = data.indexOf(NL, start)) >= 0) {
          const parsed = parseK8sLogLine(data.subarray(start, nl));
          start = nl + 1;
          if (!parsed || !wanted(parsed, opts) || beforeSince(parsed, opts.since)) continue;
          if (afterUntil(parsed, opts.until)) return;
          yield entryOf(parsed);
          if (opts.signal?.aborted) return;
        }
        pending = Buffer.from(data.subarray(start));
      }
      if (done) {
        // Rotated just before the end: the last lines are in the new file.
        const st = opts.follow && !switchedAtEnd ? await fh.stat().catch(() => undefined) : undefined;
        if (!st || !(await rotatedAway(path, st.ino))) return;
        switchedAtEnd = true;
        if (!(await moveToNewFile())) return;
        continue;
      }
      if (!gotData) {
        const st = await fh.stat().catch(() => undefined);
        if (st && st.size < pos) { pos = 0; pending = Buffer.alloc(0); continue; } // truncated
        if (opts.follow && st && !drained && (await rotatedAway(path, st.ino))) {
          drained = true; // read the old file once more: the writer may have added to it meanwhile
          continue;
        }
        if (opts.follow && st && drained) {
          drained = false;
          // The log was rotated: what was written to the old file is read above; go on with the new one.
          if (!(await moveToNewFile())) return;
          continue;
        }
        await changes.wait(pollMs, opts.signal);
      }
    }
  } finally {
    unsubscribe?.();
    watcher?.close();
    await fh?.close();
  }
}
