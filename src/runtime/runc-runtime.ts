import { constants } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SubprocessError, SystemError, silentLogger, type Logger } from '../common/index.js';
import { runCommand } from '../sys/index.js';
import { runtimeFlavor, type RuntimeFlavor } from './runtime-flavor.js';

export type RuntimeStatus = 'created' | 'running' | 'stopped' | 'paused';

export interface RuntimeState {
  status: RuntimeStatus;
  pid: number;
}

export interface RuncRuntimeOptions {
  /** Path of runc or crun. */
  binary: string;
  /** The runtime's state directory (its --root), e.g. /run/berth/runc. */
  root: string;
  logger?: Logger;
  /** Further global arguments, before the command's. */
  args?: string[];
  /** How the runtime's exec fifo works; taken from the binary's name when not given. */
  flavor?: RuntimeFlavor;
}

const NOT_EXIST = /container does not exist|does not exist|not found/i;

async function isFifo(path: string): Promise<boolean> {
  return lstat(path).then((st) => st.isFIFO(), () => false);
}

/**
 * crun's words for a container it has no state for, or whose process is gone, in runc's words
 * (which the layers above match on: "does not exist", "not running").
 */
export function crunInRuncWords(message: string): string {
  if (/error opening file `[^`]*\/status`: No such file or directory/.test(message)) return 'container does not exist';
  if (/open pidfd: No such process|kill container: No such process|the container `[^`]*` is not running/.test(message)) return 'container not running';
  return message;
}

/** Pulls the error messages out of a runtime log in `--log-format=json` (one object a line). */
export function runtimeLogErrors(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    try {
      const obj = JSON.parse(t) as { level?: string; msg?: string };
      if ((obj.level === 'error' || obj.level === 'fatal') && typeof obj.msg === 'string') out.push(obj.msg);
    } catch {
      out.push(t);
    }
  }
  return out;
}

/**
 * Drives runc (or crun) for the lifecycle steps after conmon has created the container. A failed
 * call becomes a SubprocessError whose message is the runtime's own error message.
 */
export class RuncRuntime {
  readonly binary: string;
  readonly root: string;
  readonly flavor: RuntimeFlavor;
  private readonly args: string[];
  private readonly logger: Logger;

  constructor(opts: RuncRuntimeOptions) {
    this.binary = opts.binary;
    this.root = opts.root;
    this.flavor = opts.flavor ?? runtimeFlavor(opts.binary);
    this.args = opts.args ?? [];
    this.logger = opts.logger ?? silentLogger;
  }

  /**
   * Lets a created container run. runc's `start` only opens the container's exec fifo for
   * reading, reads it, and removes it; the init process waits on that fifo and execs the user's
   * command once it is read. crun's is the other way round: its init holds the fifo open for
   * reading and `crun start` writes to it. Doing the same here saves a runtime process on every
   * start. When the fifo is not there (a layout this does not know) the binary does it.
   */
  async start(id: string): Promise<void> {
    const fifo = join(this.root, id, 'exec.fifo');
    if (!(await isFifo(fifo))) {
      await this.run(['start', id]);
      return;
    }
    if (this.flavor === 'crun') {
      await this.signalReader(id, fifo);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((resolve) => { timer = setTimeout(() => resolve('stuck'), 10_000); });
    const opened = open(fifo, constants.O_RDONLY);
    const first = await Promise.race([opened, stuck]);
    if (first === 'stuck') {
      // No init ever opened the other end: release our own blocked open, then report it.
      const w = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
      await w?.close();
      await (await opened.catch(() => undefined))?.close();
      throw new SystemError(`cannot start container ${id}: its init process is not waiting`);
    }
    clearTimeout(timer);
    try {
      const data = await first.readFile();
      if (data.length === 0) throw new SystemError(`cannot start container ${id}: container is not running`);
    } finally {
      await first.close();
    }
    await rm(fifo, { force: true });
  }

  /** crun's start: a byte into the fifo its waiting init reads, then the fifo goes. */
  private async signalReader(id: string, fifo: string): Promise<void> {
    let fh;
    try {
      fh = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') throw new SystemError(`cannot start container ${id}: its init process is not waiting`);
      throw err;
    }
    try {
      await fh.write(Buffer.from('0'));
    } finally {
      await fh.close();
    }
    await rm(fifo, { force: true });
  }

  async kill(id: string, signal: string | number, opts: { all?: boolean } = {}): Promise<void> {
    const sig = typeof signal === 'number' ? String(signal) : signal.replace(/^SIG/i, '').toUpperCase();
    await this.run(['kill', ...(opts.all ? ['--all'] : []), id, sig]);
  }

  async delete(id: string, opts: { force: boolean }): Promise<void> {
    await this.run(['delete', ...(opts.force ? ['--force'] : []), id]);
  }

  /** The runtime's view of the container, or undefined when it does not know the id. */
  async state(id: string): Promise<RuntimeState | undefined> {
    let stdout: string;
    try {
      ({ stdout } = await this.run(['state', id]));
    } catch (err) {
      if (err instanceof SubprocessError && NOT_EXIST.test(err.message)) return undefined;
      throw err;
    }
    const obj = JSON.parse(stdout) as { status: RuntimeStatus; pid?: number };
    return { status: obj.status, pid: obj.pid ?? 0 };
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /** Changes a running container's resources (`runc update -r -` with an OCI LinuxResources JSON). */
  async update(id: string, resources: unknown): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(join(this.root, '.update-'));
    const file = join(dir, 'resources.json');
    try {
      await writeFile(file, JSON.stringify(resources));
      await this.run(['update', '-r', file, id]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Host pids of the container's processes. */
  async ps(id: string): Promise<number[]> {
    const { stdout } = await this.run(['ps', '--format', 'json', id]);
    const pids = JSON.parse(stdout.trim() || '[]') as number[] | null;
    return pids ?? [];
  }

  /** Global runtime arguments, for tools (conmon) that invoke the runtime themselves. */
  globalArgs(): string[] {
    return [`--root=${this.root}`, ...this.args];
  }

  private async run(args: string[]): Promise<{ stdout: string }> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const logFile = join(this.root, `.log-${randomBytes(6).toString('hex')}.json`);
    const argv = [this.binary, '--root', this.root, ...this.args, '--log', logFile, '--log-format', 'json', ...args];
    this.logger.debug('runtime', { argv: argv.join(' ') });
    try {
      const { stdout } = await runCommand(argv);
      return { stdout };
    } catch (err) {
      if (!(err instanceof SubprocessError)) throw err;
      let logged: string[] = [];
      try { logged = runtimeLogErrors(await readFile(logFile, 'utf8')); } catch { /* no log written */ }
      const stderr = err.failure.stderrTail;
      const said = logged.length > 0 ? logged.join('; ') : stderr || err.message;
      const msg = this.flavor === 'crun' ? crunInRuncWords(said) : said;
      throw new SubprocessError(msg, { ...err.failure, stderrTail: msg }, { cause: err });
    } finally {
      await rm(logFile, { force: true });
    }
  }
}
