import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, silentLogger, type Logger } from '../common/index.js';

/** conmon writes `<exitDir>/<id>.XXXXXX` and renames it to `<exitDir>/<id>`; skip the temporaries. */
const TEMP_NAME = /\.[A-Za-z0-9]{6}$/;

/** Parses an exit file: the exit code in decimal, no newline (conmon's format). */
export function parseExitFile(text: string): number | undefined {
  const t = text.trim();
  if (!/^-?[0-9]+$/.test(t)) return undefined;
  return Number(t);
}

export interface ExitWatcherOptions {
  exitDir: string;
  logger?: Logger;
  /** Rescan interval in ms, a backstop for missed inotify events. */
  pollMs?: number;
}

export interface ExitWatcherEvents {
  exit: [id: string, code: number];
}

/**
 * Watches conmon's exit directory and emits `exit(id, code)` once per exit file, as soon as it
 * appears. `waitForExit(id)` resolves with the code, also when the file was there before.
 */
export class ExitWatcher extends EventEmitter<ExitWatcherEvents> {
  readonly exitDir: string;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Exit codes seen, by id, so each file is reported once and waiters can look back. */
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, Array<(code: number) => void>>();
  private scanning: Promise<void> | undefined;
  private rescan = false;

  constructor(opts: ExitWatcherOptions) {
    super();
    this.exitDir = opts.exitDir;
    this.logger = opts.logger ?? silentLogger;
    this.pollMs = opts.pollMs ?? 1000;
  }

  async start(): Promise<void> {
    if (this.watcher) return;
    await mkdir(this.exitDir, { recursive: true });
    this.watcher = watch(this.exitDir, { persistent: false }, (_event, name) => {
      if (name) void this.check(name.toString());
      else void this.scan();
    });
    this.watcher.on('error', (err) => this.logger.warn('exit watcher error', { err }));
    this.timer = setInterval(() => void this.scan(), this.pollMs);
    this.timer.unref();
    await this.scan();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Resolves with the exit code of `id` once its exit file exists. */
  async waitForExit(id: string, opts: { signal?: AbortSignal } = {}): Promise<number> {
    const known = this.seen.get(id);
    if (known !== undefined) return known;
    return new Promise<number>((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      const onAbort = (): void => {
        const rest = (this.waiters.get(id) ?? []).filter((f) => f !== done);
        if (rest.length) this.waiters.set(id, rest); else this.waiters.delete(id);
        this.refTimer();
        reject(opts.signal?.reason ?? new Error('aborted'));
      };
      const done = (code: number): void => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(code);
      };
      if (opts.signal?.aborted) { onAbort(); return; }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      list.push(done);
      this.waiters.set(id, list);
      this.refTimer();
      // The file may have landed between the lookup above and now.
      void this.check(id);
    });
  }

  /** Forgets a reported exit, so that a restarted container with the same id is reported again. */
  forget(id: string): void {
    this.seen.delete(id);
  }

  /** The poll timer keeps the process alive only while someone waits for an exit. */
  private refTimer(): void {
    if (!this.timer) return;
    if (this.waiters.size > 0) this.timer.ref();
    else this.timer.unref();
  }

  private async scan(): Promise<void> {
    if (this.scanning) { this.rescan = true; return this.scanning; }
    this.scanning = (async () => {
      do {
        this.rescan = false;
        let names: string[] = [];
        try { names = await readdir(this.exitDir); } catch (err) {
          if (errnoCode(err) !== 'ENOENT') this.logger.warn('exit dir scan failed', { err });
        }
        const present = new Set(names);
        for (const id of [...this.seen.keys()]) if (!present.has(id)) this.seen.delete(id);
        for (const name of names) await this.check(name);
      } while (this.rescan);
    })();
    try { await this.scanning; } finally { this.scanning = undefined; }
  }

  private async check(name: string): Promise<void> {
    if (TEMP_NAME.test(name) || this.seen.has(name)) return;
    let text: string;
    try {
      text = await readFile(join(this.exitDir, name), 'utf8');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.logger.warn('reading exit file failed', { name, err });
      return;
    }
    const code = parseExitFile(text);
    if (code === undefined || this.seen.has(name)) return;
    this.seen.set(name, code);
    const waiting = this.waiters.get(name);
    this.waiters.delete(name);
    this.refTimer();
    for (const w of waiting ?? []) w(code);
    this.emit('exit', name, code);
  }
}
