import { EventEmitter } from 'node:events';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError, errorMessage } from '../common/errors.js';
import { randomId } from '../common/ids.js';
import type { Logger } from '../common/log.js';
import type { EventBus } from '../events/event-bus.js';
import { readLog } from '../logs/index.js';
import { resolveCapabilities, resolveUser, type HostFacts, type OciProcess, type OciSpec } from '../runtime/index.js';
import type { ContainerRecord } from './container-record.js';
import { isActive, publicStatus } from './container-status.js';
import { groupAddGids } from './host-isolation.js';
import type { ContainerRuntime, ExecLaunched, StdinWriter } from './container-runtime.js';
import type { ContainerService, LogEntry } from './container-service.js';
import { DEFAULT_PATH, mergeEnv } from './create-request.js';

/** The body of `POST /containers/{id}/exec`. */
export interface ExecCreateRequest {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[] | string | null;
  ConsoleSize?: [number, number] | null;
}

export interface ExecConfig {
  user: string;
  privileged: boolean;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  env: string[];
  workingDir: string;
  cmd: string[];
  consoleSize?: [number, number];
}

/** One exec instance, kept in memory until its container is removed (as Docker does). */
export interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  /** null until the process has ended. */
  exitCode: number | null;
  pid: number;
  started: boolean;
  bundleDir: string;
}

export interface ExecStartOptions {
  detach: boolean;
  /** ConsoleSize of the start request (API 1.42+), overriding the create one. */
  consoleSize?: [number, number];
  signal?: AbortSignal;
}

export interface ExecSession {
  exec: ExecInstance;
  /** The process's output; ends once the process has exited and all of it was read. */
  output: AsyncIterable<LogEntry>;
  stdin?: StdinWriter;
  /** Resolves with the exit code (already recorded on the instance). */
  exited: Promise<number>;
}

export interface ExecServiceOptions {
  containers: ContainerService;
  runtime: ContainerRuntime;
  events: EventBus;
  logger: Logger;
  /** Parent of the per-exec directories. */
  execRoot: string;
  hostFacts: HostFacts;
}

/** Exec instances: create, start (attached or detached), resize, inspect. */
export class ExecService {
  private readonly execs = new Map<string, ExecInstance>();
  private readonly exitEvents = new EventEmitter();
  /** Settles once a starting exec's monitor is up (resize waits for it). */
  private readonly launching = new Map<string, Promise<unknown>>();

  constructor(private readonly o: ExecServiceOptions) {
    this.exitEvents.setMaxListeners(0);
    o.events.subscribe((e) => {
      if (e.Type === 'container' && e.Action === 'destroy') this.forgetContainer(e.Actor.ID);
    });
  }

  get(id: string): ExecInstance {
    const ex = this.execs.get(id);
    if (!ex) throw new NotFoundError(`No such exec instance: ${id}`);
    return ex;
  }

  /** Ids of the container's running execs (inspect `ExecIDs`), or null when there are none. */
  runningIds(containerId: string): string[] | null {
    const ids = [...this.execs.values()].filter((e) => e.containerId === containerId && e.running).map((e) => e.id);
    return ids.length ? ids : null;
  }

  create(idOrName: string, req: ExecCreateRequest): ExecInstance {
    const rec = this.o.containers.get(idOrName);
    // Clients start an exec right after creating it.
    if (isActive(rec.state.status)) this.o.runtime.expectLaunch?.();
    this.checkRunning(rec);
    const cmd = typeof req.Cmd === 'string' ? [req.Cmd] : req.Cmd ?? [];
    if (!Array.isArray(cmd) || cmd.length === 0) throw new InvalidParameterError('No exec command specified');
    if (cmd.some((c) => typeof c !== 'string')) throw new InvalidParameterError('invalid Cmd: must be a list of strings');
    const env = req.Env ?? [];
    if (!Array.isArray(env) || env.some((e) => typeof e !== 'string')) throw new InvalidParameterError('invalid Env: must be a list of strings');
    for (const e of env) if (e.startsWith('=') || e === '') throw new InvalidParameterError(`invalid environment variable: ${e}`);
    const id = randomId();
    const config: ExecConfig = {
      user: req.User ?? '',
      privileged: Boolean(req.Privileged),
      tty: Boolean(req.Tty),
      attachStdin: Boolean(req.AttachStdin),
      attachStdout: Boolean(req.AttachStdout),
      attachStderr: Boolean(req.AttachStderr),
      detachKeys: req.DetachKeys ?? '',
      env,
      workingDir: req.WorkingDir ?? '',
      cmd,
    };
    if (Array.isArray(req.ConsoleSize) && req.ConsoleSize.length === 2) config.consoleSize = [req.ConsoleSize[0], req.ConsoleSize[1]];
    const ex: ExecInstance = { id, containerId: rec.id, config, running: false, exitCode: null, pid: 0, started: false, bundleDir: join(this.o.execRoot, id) };
    this.execs.set(id, ex);
    this.event(rec, `exec_create: ${cmd.join(' ')}`, { execID: id });
    return ex;
  }

  /**
   * Starts the exec. Detached: resolves once the process runs. Attached: the caller streams the
   * session's output and feeds its stdin; the exit code is recorded before the output ends.
   */
  async start(execId: string, opts: ExecStartOptions): Promise<ExecSession> {
    const { ex, rec } = this.checkStartable(execId);
    ex.started = true;
    let launched!: ExecLaunched;
    let ready!: () => void;
    this.launching.set(ex.id, new Promise<void>((resolve) => { ready = resolve; }));
    ex.running = true;
    const attached = !opts.detach && (ex.config.attachStdout || ex.config.attachStderr || ex.config.attachStdin);
    const logPath = attached && (ex.config.attachStdout || ex.config.attachStderr) ? join(ex.bundleDir, 'exec.log') : null;
    try {
      // The exec's id is fresh, so its directory is too: create it while the spec is prepared.
      const [, process] = await Promise.all([
        mkdir(ex.bundleDir, { recursive: true, mode: 0o700 }),
        this.processSpec(rec, ex, opts.consoleSize),
      ]);
      this.event(rec, `exec_start: ${ex.config.cmd.join(' ')}`, { execID: ex.id });
      launched = await this.o.runtime.exec({
        containerId: rec.id, execId: ex.id, bundleDir: ex.bundleDir, process, logPath, stdin: attached && ex.config.attachStdin,
      });
    } catch (err) {
      const msg = errorMessage(err);
      ex.running = false;
      ex.exitCode = /executable file not found|no such file or directory/.test(msg) ? 127 : 126;
      this.event(rec, 'exec_die', { execID: ex.id, exitCode: String(ex.exitCode) });
      await rm(ex.bundleDir, { recursive: true, force: true }).catch(() => undefined);
      throw new SystemError(`OCI runtime exec failed: ${msg}: unknown`, { cause: err });
    } finally {
      this.launching.delete(ex.id);
      ready();
    }
    ex.pid = launched.pid;
    let readers = 0;
    let exitedNow = false;
    const removeBundle = (): void => {
      if (readers === 0 && exitedNow) void rm(ex.bundleDir, { recursive: true, force: true }).catch(() => undefined);
    };
    const exited = launched.exited.catch((err) => {
      this.o.logger.warn('exec exit unknown', { id: ex.id, err: errorMessage(err) });
      return 255;
    }).then((code) => {
      ex.running = false;
      ex.exitCode = code;
      exitedNow = true;
      const cur = this.o.containers.find(ex.containerId);
      if (cur) this.event(cur, 'exec_die', { execID: ex.id, exitCode: String(code) });
      this.exitEvents.emit(ex.id);
      removeBundle();
      return code;
    });
    const session: ExecSession = { exec: ex, output: emptyIterable(), exited };
    if (logPath) {
      readers++;
      const log = readLog(logPath, {
        follow: true,
        stdout: ex.config.attachStdout || ex.config.tty,
        stderr: ex.config.attachStderr,
        isDone: () => !ex.running,
        onWake: (wake) => {
          this.exitEvents.on(ex.id, wake);
          return () => { this.exitEvents.off(ex.id, wake); };
        },
        pollMs: 100,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      session.output = (async function* () {
        try {
          yield* log;
        } finally {
          readers--;
          removeBundle();
        }
      })();
    }
    if (attached && ex.config.attachStdin) session.stdin = await this.o.runtime.openStdin(ex.bundleDir);
    return session;
  }

  /** The checks start makes before anything runs (the API answers them before hijacking). */
  checkStartable(execId: string): { ex: ExecInstance; rec: ContainerRecord } {
    const ex = this.get(execId);
    if (ex.running) throw new ConflictError(`Error: Exec command ${ex.id} is already running`);
    if (ex.started) throw new ConflictError(`Error: Exec command ${ex.id} has already run`);
    const rec = this.o.containers.get(ex.containerId);
    this.checkRunning(rec);
    return { ex, rec };
  }

  async resize(execId: string, height: number, width: number): Promise<void> {
    const ex = this.get(execId);
    await this.launching.get(ex.id);
    if (!ex.running) throw new ConflictError(`Exec ${ex.id} is not running`);
    if (!ex.config.tty) return;
    try {
      await this.o.runtime.resize(ex.bundleDir, height, width);
    } catch (err) {
      // The process may have ended meanwhile.
      if (ex.running) throw err;
    }
  }

  private checkRunning(rec: ContainerRecord): void {
    const st = publicStatus(rec);
    if (st === 'paused') throw new ConflictError(`Container ${rec.id} is paused, unpause the container before exec`);
    if (st === 'restarting') throw new ConflictError(`Container ${rec.id} is restarting, wait until the container is running`);
    if (st !== 'running') throw new ConflictError(`Container ${rec.id} is not running`);
  }

  /** The OCI process: the container's own settings, with the exec's command, env, user and cwd. */
  private async processSpec(rec: ContainerRecord, ex: ExecInstance, consoleSize?: [number, number]): Promise<OciProcess> {
    let spec: OciSpec;
    try {
      spec = JSON.parse(await readFile(join(this.o.containers.bundleDir(rec.id), 'config.json'), 'utf8')) as OciSpec;
    } catch (err) {
      throw new ConflictError(`Container ${rec.id} is not running`, { cause: err });
    }
    const c = ex.config;
    const user = await resolveUser(spec.root.path, c.user || rec.config.User);
    // The container's --group-add applies to its execs too, as in Docker.
    const extra = await groupAddGids(spec.root.path, rec.hostConfig);
    if (extra.length) user.additionalGids = [...new Set([...user.additionalGids, ...extra])];
    const base: string[] = [];
    if (!rec.config.Env.some((e) => e.startsWith('PATH='))) base.push(`PATH=${DEFAULT_PATH}`);
    base.push(`HOSTNAME=${rec.config.Hostname}`);
    if (c.tty) base.push('TERM=xterm');
    const env = mergeEnv(mergeEnv(base, rec.config.Env), c.env);
    const caps = c.privileged
      ? resolveCapabilities({ privileged: true, capAdd: [], capDrop: [], capBound: this.o.hostFacts.capBound })
      : undefined;
    const p = spec.process;
    const proc: OciProcess = {
      terminal: c.tty,
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
      args: c.cmd,
      env,
      cwd: c.workingDir || rec.config.WorkingDir || '/',
      // Privileged: every capability in every set, as Docker gives it; the container's seccomp
      // filter still applies (the runtime sets it for all of the container's processes).
      capabilities: caps ? { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [...caps] } : p.capabilities,
      rlimits: p.rlimits,
      noNewPrivileges: c.privileged ? false : p.noNewPrivileges,
    };
    if (p.oomScoreAdj !== undefined) proc.oomScoreAdj = p.oomScoreAdj;
    if (p.apparmorProfile && !c.privileged) proc.apparmorProfile = p.apparmorProfile;
    const size = consoleSize ?? c.consoleSize;
    if (c.tty && size && size[0] > 0 && size[1] > 0) (proc as OciProcess & { consoleSize?: unknown }).consoleSize = { height: size[0], width: size[1] };
    return proc;
  }

  private forgetContainer(containerId: string): void {
    for (const [id, ex] of this.execs) if (ex.containerId === containerId) this.execs.delete(id);
  }

  private event(rec: ContainerRecord, action: string, extra: Record<string, string>): void {
    this.o.events.publish('container', action, rec.id, { ...rec.config.Labels, image: rec.config.Image, name: rec.name, ...extra });
  }
}

async function* emptyIterable<T>(): AsyncIterable<T> {
  /* nothing */
}
