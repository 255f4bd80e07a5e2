import { spawn } from 'node:child_process';
import { constants as fsConstants, readSync, openSync, closeSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SubprocessError, SystemError, errnoCode, silentLogger, type Logger } from '../common/index.js';
import { closeFd, connectSeqpacket, writeFd } from '../sys/index.js';
import { parseExitFile } from './exit-watcher.js';
import { readSyncMessages, type SyncMessage } from './sync-pipe.js';

export interface ConmonMonitorOptions {
  conmonPath: string;
  /** The OCI runtime conmon runs (runc or crun). */
  runtimePath: string;
  /** What conmon runs for `create`, when not the runtime itself (a launcher around it). */
  createRuntimePath?: string;
  /** The launcher's own arguments, before the runtime's (e.g. the runtime's path). */
  createRuntimePrefix?: string[];
  /** The runtime's --root, shared with RuncRuntime. */
  runtimeRoot: string;
  /** Further global arguments for the runtime. */
  runtimeArgs?: string[];
  logger?: Logger;
  /** Seconds to wait for conmon's answer after create. */
  createTimeoutSec?: number;
}

export interface ConmonCreateOptions {
  id: string;
  bundle: string;
  logPath: string;
  exitDir: string;
  persistDir: string;
  socketDir: string;
  pidFile: string;
  conmonPidFile: string;
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

export interface ConmonCreated {
  conmonPid: number;
  /** The container's init process, on the host. */
  pid: number;
}

/** conmon's ctl fifo message types. */
const CTL_RESIZE = 1;
const CTL_REOPEN_LOGS = 2;
/** conmon reads at most 32 KiB - 1 per attach packet; stay well under it. */
const STDIN_CHUNK = 8192;
const SUN_PATH_MAX = 107;
const CONMON_ENV = { _OCI_SYNCPIPE: '3', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * The OCI runtime's error text from what it printed: JSON log lines (`{"msg": ...}`) or logfmt
 * lines (`time=... level=error msg="..."`) become their messages, other lines stay as they are.
 */
export function runtimeErrorText(text: string): string {
  const msgs: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('{')) {
      try {
        const obj = JSON.parse(line) as { msg?: unknown };
        if (typeof obj.msg === 'string') { msgs.push(obj.msg); continue; }
      } catch { /* not JSON */ }
    }
    const m = /(?:^|\s)msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) {
      try { msgs.push(JSON.parse(`"${m[1]}"`) as string); continue; } catch { msgs.push(m[1]!); continue; }
    }
    msgs.push(line);
  }
  return msgs.join('; ');
}


/**
 * Writes to a container's stdin through conmon's attach socket (SOCK_SEQPACKET). Output conmon
 * sends back on the same socket is read and dropped, so that conmon never blocks writing to us.
 */
export class StdinWriter {
  private fd: number;
  private readonly scratch = Buffer.alloc(32768);
  private readonly drainTimer: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();

  constructor(fd: number) {
    this.fd = fd;
    this.drainTimer = setInterval(() => this.drain(), 50);
    this.drainTimer.unref();
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** Writes all of buf (in packets conmon accepts whole); writes are serialized. */
  write(buf: Buffer): Promise<void> {
    const next = this.chain.then(() => this.writeAll(buf));
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Closes the connection; with stdinOnce conmon then closes the container's stdin. */
  async close(): Promise<void> {
    await this.chain;
    if (this.fd < 0) return;
    clearInterval(this.drainTimer);
    closeFd(this.fd);
    this.fd = -1;
  }

  private async writeAll(buf: Buffer): Promise<void> {
    let off = 0;
    let waited = 0;
    while (off < buf.length) {
      if (this.fd < 0) throw new SystemError('stdin is closed');
      const chunk = buf.subarray(off, Math.min(buf.length, off + STDIN_CHUNK));
      const n = writeFd(this.fd, chunk);
      if (n >= 0) { off += n; waited = 0; continue; }
      this.drain();
      const delay = Math.min(50, 2 + waited / 4);
      await sleep(delay);
      waited += delay;
      if (waited > 60_000) throw new SystemError('timed out writing to container stdin');
    }
  }

  /** Reads and drops whatever conmon has sent us; the socket is non-blocking. */
  private drain(): void {
    if (this.fd < 0) return;
    for (let i = 0; i < 64; i++) {
      let n: number;
      try {
        n = readSync(this.fd, this.scratch, 0, this.scratch.length, null);
      } catch {
        return;
      }
      if (n === 0) return;
    }
  }
}

/** Runs one conmon per container: create through conmon, then the runtime's start. */
export class ConmonMonitor {
  private readonly conmonPath: string;
  private readonly createRuntimePath: string;
  private readonly createRuntimePrefix: string[];
  private readonly runtimeRoot: string;
  private readonly runtimeArgs: string[];
  private readonly logger: Logger;
  private readonly createTimeoutMs: number;

  constructor(opts: ConmonMonitorOptions) {
    this.conmonPath = opts.conmonPath;
    this.createRuntimePath = opts.createRuntimePath ?? opts.runtimePath;
    this.createRuntimePrefix = opts.createRuntimePath ? opts.createRuntimePrefix ?? [] : [];
    this.runtimeRoot = opts.runtimeRoot;
    this.runtimeArgs = opts.runtimeArgs ?? [];
    this.logger = opts.logger ?? silentLogger;
    this.createTimeoutMs = (opts.createTimeoutSec ?? 120) * 1000;
  }

  /** conmon's argv for a container (without the binary). */
  createArgs(opts: ConmonCreateOptions): string[] {
    const args = [
      '--api-version', '1',
      '-c', opts.id, '-u', opts.id, '-n', opts.id,
      '-r', this.createRuntimePath,
      '-b', opts.bundle,
      '-p', opts.pidFile,
      '-P', opts.conmonPidFile,
      '-l', `k8s-file:${opts.logPath}`,
      '--exit-dir', opts.exitDir,
      '--persist-dir', opts.persistDir,
      '--socket-dir-path', opts.socketDir,
      '--full-attach',
      ...[...this.createRuntimePrefix, `--root=${this.runtimeRoot}`, ...this.runtimeArgs].flatMap((a) => ['--runtime-arg', a]),
      '--log-level', 'error',
    ];
    if (opts.terminal) args.push('-t');
    if (opts.stdin) args.push('-i');
    if (opts.stdin && !opts.stdinOnce) args.push('--leave-stdin-open');
    return args;
  }

  /**
   * Starts conmon, which runs `runtime create` and stays behind as the container's monitor.
   * Resolves once the container is created (not started); a runtime failure rejects with a
   * SubprocessError carrying the runtime's own message.
   */
  async create(opts: ConmonCreateOptions): Promise<ConmonCreated> {
    // conmon writes the exit code to persistDir before exitDir and gives up if either is missing.
    await Promise.all([opts.exitDir, opts.persistDir, opts.socketDir].map((d) => mkdir(d, { recursive: true })));
    const args = this.createArgs(opts);
    const argv = [this.conmonPath, ...args];
    this.logger.debug('conmon create', { id: opts.id });
    const child = spawn(this.conmonPath, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: CONMON_ENV,
    });
    const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    let spawnError: Error | undefined;
    child.once('error', (err) => { spawnError = err; });

    const message = await new Promise<SyncMessage | undefined>((resolve) => {
      let settled = false;
      const finish = (m: SyncMessage | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(m);
      };
      const timer = setTimeout(() => finish(undefined), this.createTimeoutMs);
      readSyncMessages(sync, finish, () => finish(undefined));
    });
    // conmon keeps its end open while the container lives; we need nothing more from it.
    sync.destroy();
    child.unref();

    if (!message || message.data < 0) {
      const status = await Promise.race([exited, sleep(2000).then(() => ({ code: null, signal: null }))]);
      const text = message?.message ? runtimeErrorText(message.message) : '';
      const why = text || spawnError?.message || (message ? `conmon failed with ${message.data}` : `conmon exited without reporting (exit ${status.code ?? status.signal ?? 'unknown'})`);
      await this.cleanupFailed(opts);
      throw new SubprocessError(why, { argv, exitCode: status.code, signal: status.signal, stderrTail: text }, spawnError ? { cause: spawnError } : undefined);
    }
    const conmonPid = await this.readPidFile(opts.conmonPidFile);
    return { conmonPid, pid: message.data };
  }

  /** Sends a terminal resize to the container's console through conmon's ctl fifo. */
  async resize(bundle: string, height: number, width: number): Promise<void> {
    await this.writeCtl(bundle, `${CTL_RESIZE} ${Math.trunc(height)} ${Math.trunc(width)}\n`);
  }

  /** Asks conmon to reopen its log file (after rotation or truncation). */
  async reopenLog(bundle: string): Promise<void> {
    await this.writeCtl(bundle, `${CTL_REOPEN_LOGS} 0 0\n`);
  }

  /** Connects to the attach socket at `<bundle>/attach` to feed the container's stdin. */
  openStdin(bundle: string): StdinWriter {
    const path = join(bundle, 'attach');
    if (Buffer.byteLength(path) <= SUN_PATH_MAX) return new StdinWriter(connectSeqpacket(path));
    // Too long for sun_path: go through a descriptor of the bundle directory.
    const dirFd = openSync(bundle, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      return new StdinWriter(connectSeqpacket(`/proc/self/fd/${dirFd}/attach`));
    } finally {
      closeSync(dirFd);
    }
  }

  /** The container's exit code once conmon has recorded it, else undefined. */
  async readExitCode(exitDir: string, id: string): Promise<number | undefined> {
    try {
      return parseExitFile(await readFile(join(exitDir, id), 'utf8'));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Whether conmon saw the container killed by the OOM killer (it writes `<persistDir>/oom`). */
  async wasOomKilled(persistDir: string): Promise<boolean> {
    try {
      await readFile(join(persistDir, 'oom'));
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /** Whether conmonPid is still this container's conmon (and not a reused pid). */
  async isAlive(conmonPid: number, id: string): Promise<boolean> {
    if (!Number.isInteger(conmonPid) || conmonPid <= 0) return false;
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${conmonPid}/cmdline`, 'utf8');
    } catch {
      return false;
    }
    const argv = cmdline.split('\0');
    if (basename(argv[0] ?? '') !== 'conmon') return false;
    for (let i = 1; i < argv.length - 1; i++) {
      if ((argv[i] === '-c' || argv[i] === '--cid') && argv[i + 1] === id) return true;
    }
    return argv.includes(`--cid=${id}`);
  }

  private async writeCtl(bundle: string, line: string): Promise<void> {
    let fh;
    try {
      fh = await open(join(bundle, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      throw new SystemError(`container monitor is not running (${errnoCode(err) ?? 'error'} opening ctl)`, { cause: err });
    }
    try {
      await fh.write(line);
    } finally {
      await fh.close();
    }
  }

  private async readPidFile(path: string): Promise<number> {
    for (let i = 0; i < 100; i++) {
      try {
        const n = Number((await readFile(path, 'utf8')).trim());
        if (Number.isInteger(n) && n > 0) return n;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      await sleep(10);
    }
    throw new SystemError(`conmon did not write its pid file ${path}`);
  }

  /** After a failed create conmon has exited; remove the sockets and fifos it left in the bundle. */
  private async cleanupFailed(opts: ConmonCreateOptions): Promise<void> {
    await Promise.all(['attach', 'ctl', 'winsz'].map((n) => rm(join(opts.bundle, n), { force: true })));
    await rm(opts.conmonPidFile, { force: true });
  }
}
