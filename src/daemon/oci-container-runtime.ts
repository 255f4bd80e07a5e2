import { existsSync } from 'node:fs';
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { ContainerRuntime, ExecLaunched, ExecLaunchOptions, LaunchOptions, StdinWriter } from '../container/index.js';
import { SubprocessError } from '../common/errors.js';
import { CgroupWarmer, ConmonMonitor, ExitWatcher, RuncRuntime, SeccompBpfCache, conmonExec, inRuncWords, runtimeFlavor, type OciProcess } from '../runtime/index.js';

/** One OCI runtime containers can run under (`runc`, `crun`, or one named in daemon.json). */
export interface OciRuntimeEntry {
  name: string;
  path: string;
  /** Its --root (state directory); one per runtime. */
  root: string;
  /** What conmon runs for `create` instead of `path` (a launcher around it), if anything. */
  createPath?: string;
  /** The launcher's arguments before the runtime's own. */
  createArgs?: string[];
  /** Extra global arguments (daemon.json `runtimeArgs`). */
  args?: string[];
}

export interface OciContainerRuntimeOptions {
  runtimes: OciRuntimeEntry[];
  /** The name of the runtime for containers that name none. */
  defaultRuntime: string;
  exitDir: string;
  socketDir: string;
  conmonPath?: string;
  logger: Logger;
}

interface Driven {
  entry: OciRuntimeEntry;
  monitor: ConmonMonitor;
  oci: RuncRuntime;
  /** crun only: compiled seccomp filters, reused across creates. */
  bpfCache?: SeccompBpfCache;
}

/** The container service's runtime port, served by one conmon per container over crun or runc. */
export class OciContainerRuntime implements ContainerRuntime {
  private readonly driven = new Map<string, Driven>();
  /** The runtime each known container runs under, learnt at launch or from its state directory. */
  private readonly runtimeOf = new Map<string, Driven>();
  private readonly conmonPath: string;
  private readonly warmer = new CgroupWarmer();
  private readonly watcher: ExitWatcher;
  private readonly exitListeners: Array<(id: string, code: number) => void> = [];

  constructor(private readonly o: OciContainerRuntimeOptions) {
    this.conmonPath = o.conmonPath ?? '/usr/bin/conmon';
    for (const entry of o.runtimes) {
      this.driven.set(entry.name, {
        entry,
        monitor: new ConmonMonitor({
          conmonPath: this.conmonPath, runtimePath: entry.path, runtimeRoot: entry.root, logger: o.logger,
          ...(entry.createPath ? { createRuntimePath: entry.createPath, createRuntimePrefix: entry.createArgs ?? [] } : {}),
          ...(entry.args?.length ? { runtimeArgs: entry.args } : {}),
        }),
        oci: new RuncRuntime({ binary: entry.path, root: entry.root, logger: o.logger, ...(entry.args?.length ? { args: entry.args } : {}) }),
        ...(runtimeFlavor(entry.path) === 'crun' ? { bpfCache: new SeccompBpfCache(entry.root, entry.path) } : {}),
      });
    }
    if (!this.driven.has(o.defaultRuntime)) throw new Error(`unknown default runtime ${o.defaultRuntime}`);
    this.watcher = new ExitWatcher({ exitDir: o.exitDir });
    this.watcher.on('exit', (id: string, code: number) => {
      for (const fn of this.exitListeners) fn(id, code);
    });
  }

  async startWatching(): Promise<void> {
    await mkdir(this.o.exitDir, { recursive: true });
    await mkdir(this.o.socketDir, { recursive: true });
    for (const d of this.driven.values()) {
      await mkdir(d.entry.root, { recursive: true });
      await d.bpfCache?.reset();
    }
    await this.watcher.start();
  }

  stopWatching(): void {
    this.watcher.stop();
  }

  onExit(fn: (id: string, code: number) => void): void {
    this.exitListeners.push(fn);
  }

  expectLaunch(): void {
    this.warmer.warm();
  }

  /**
   * The runtime a container runs under: the one that launched it, or for a container launched
   * before berthd restarted, the one whose state directory holds it (each runtime keeps
   * `<root>/<id>` from create to delete); else the default.
   */
  private forContainer(id: string): Driven {
    const known = this.runtimeOf.get(id);
    if (known) return known;
    for (const d of this.driven.values()) {
      if (existsSync(join(d.entry.root, id))) {
        this.runtimeOf.set(id, d);
        return d;
      }
    }
    return this.driven.get(this.o.defaultRuntime)!;
  }

  private named(name: string | undefined): Driven {
    const d = this.driven.get(name || this.o.defaultRuntime);
    if (!d) throw new Error(`unknown or invalid runtime name: ${name}`);
    return d;
  }

  async launch(opts: LaunchOptions): Promise<{ pid: number; conmonPid: number }> {
    // The exit record of an earlier run must not be taken for this one's.
    await this.forgetExit(opts.id);
    const d = this.named(opts.runtime);
    this.runtimeOf.set(opts.id, d);
    const spec = { ...(opts.spec as Record<string, unknown>) } as { root?: { path?: string }; process?: { args?: string[] }; annotations?: Record<string, string>; linux?: { seccomp?: unknown } };
    const bpf = d.bpfCache ? await d.bpfCache.annotate(spec).catch(() => undefined) : undefined;
    await writeFileAtomic(join(opts.bundleDir, 'config.json'), JSON.stringify(spec));
    const { pid, conmonPid } = await this.inRuncWords(d, { rootfsOf: async () => spec.root?.path, command: spec.process?.args?.[0] }, () => d.monitor.create({
      id: opts.id,
      bundle: opts.bundleDir,
      logPath: opts.logPath,
      exitDir: this.o.exitDir,
      persistDir: opts.persistDir,
      socketDir: this.o.socketDir,
      pidFile: join(opts.bundleDir, 'pidfile'),
      conmonPidFile: join(opts.bundleDir, 'conmon.pid'),
      terminal: opts.terminal,
      stdin: opts.stdin,
      stdinOnce: opts.stdinOnce,
    }));
    if (bpf && !bpf.hit) await d.bpfCache!.store(bpf.key, join(d.entry.root, opts.id, 'seccomp.bpf')).catch(() => undefined);
    if (opts.beforeStart) await opts.beforeStart();
    await d.oci.start(opts.id);
    return { pid, conmonPid };
  }

  async exec(opts: ExecLaunchOptions): Promise<ExecLaunched> {
    const d = this.forContainer(opts.containerId);
    const { entry } = d;
    const process = opts.process as OciProcess;
    return this.inRuncWords(d, { rootfsOf: () => this.rootfsOf(d, opts.containerId), command: process.args?.[0] }, () => conmonExec({
      conmonPath: this.conmonPath,
      runtimePath: entry.path,
      runtimeRoot: entry.root,
      ...(entry.args?.length ? { runtimeArgs: entry.args } : {}),
      containerId: opts.containerId,
      execId: opts.execId,
      bundle: opts.bundleDir,
      process,
      logTarget: opts.logPath ? `k8s-file:${opts.logPath}` : 'none',
      stdin: opts.stdin,
    }));
  }

  /** The root filesystem crun recorded for a container it created. */
  private async rootfsOf(d: Driven, id: string): Promise<string | undefined> {
    const status = JSON.parse(await readFile(join(d.entry.root, id, 'status'), 'utf8')) as { rootfs?: unknown };
    return typeof status.rootfs === 'string' ? status.rootfs : undefined;
  }

  /** A runtime failure to run the command, in the words Docker's clients read exit codes from. */
  private async inRuncWords<T>(d: Driven, ctx: { rootfsOf: () => Promise<string | undefined>; command: string | undefined }, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (d.oci.flavor !== 'crun' || !(err instanceof SubprocessError)) throw err;
      const rootfs = await ctx.rootfsOf().catch(() => undefined);
      const words = await inRuncWords(err.message, { ...(rootfs ? { rootfs } : {}), ...(ctx.command ? { command: ctx.command } : {}) });
      if (words === err.message) throw err;
      throw new SubprocessError(words, { ...err.failure, stderrTail: words }, { cause: err });
    }
  }

  async pause(id: string): Promise<void> {
    await this.forContainer(id).oci.pause(id);
  }

  async resume(id: string): Promise<void> {
    await this.forContainer(id).oci.resume(id);
  }

  async processes(id: string): Promise<number[]> {
    return this.forContainer(id).oci.ps(id);
  }

  async updateResources(id: string, resources: unknown): Promise<void> {
    await this.forContainer(id).oci.update(id, resources);
  }

  async kill(id: string, signal: number): Promise<void> {
    await this.forContainer(id).oci.kill(id, signal);
  }

  /** Forgets the run: the runtime's record and conmon's exit file (its code is recorded by now). */
  async delete(id: string): Promise<void> {
    await this.forContainer(id).oci.delete(id, { force: true });
    this.runtimeOf.delete(id);
    await this.forgetExit(id);
  }

  private async forgetExit(id: string): Promise<void> {
    await rm(join(this.o.exitDir, id), { force: true });
    this.watcher.forget(id);
  }

  private get anyMonitor(): ConmonMonitor {
    return this.driven.get(this.o.defaultRuntime)!.monitor;
  }

  async resize(bundleDir: string, height: number, width: number): Promise<void> {
    await this.anyMonitor.resize(bundleDir, height, width);
  }

  async reopenLog(bundleDir: string): Promise<void> {
    await this.anyMonitor.reopenLog(bundleDir);
  }

  async openStdin(bundleDir: string): Promise<StdinWriter> {
    return this.anyMonitor.openStdin(bundleDir);
  }

  async isAlive(id: string, conmonPid: number): Promise<boolean> {
    return this.anyMonitor.isAlive(conmonPid, id);
  }

  async exitCode(id: string, persistDir: string): Promise<number | undefined> {
    const fromExitDir = await this.anyMonitor.readExitCode(this.o.exitDir, id);
    if (fromExitDir !== undefined) return fromExitDir;
    try {
      const n = Number((await readFile(join(persistDir, 'exit'), 'utf8')).trim());
      return Number.isFinite(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  async wasOomKilled(persistDir: string): Promise<boolean> {
    return access(join(persistDir, 'oom')).then(() => true, () => false);
  }
}
