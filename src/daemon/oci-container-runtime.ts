import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { ContainerRuntime, ExecLaunched, ExecLaunchOptions, LaunchOptions, StdinWriter } from '../container/index.js';
import { ConmonMonitor, ExitWatcher, RuncRuntime, conmonExec, type OciProcess } from '../runtime/index.js';

export interface OciContainerRuntimeOptions {
  runtimePath: string;
  runtimeRoot: string;
  exitDir: string;
  socketDir: string;
  conmonPath?: string;
  logger: Logger;
}

/** The container service's runtime port, served by one conmon per container over runc (or crun). */
export class OciContainerRuntime implements ContainerRuntime {
  private readonly monitor: ConmonMonitor;
  private readonly oci: RuncRuntime;
  private readonly watcher: ExitWatcher;
  private readonly exitListeners: Array<(id: string, code: number) => void> = [];

  constructor(private readonly o: OciContainerRuntimeOptions) {
    this.monitor = new ConmonMonitor({ conmonPath: o.conmonPath ?? '/usr/bin/conmon', runtimePath: o.runtimePath, runtimeRoot: o.runtimeRoot, logger: o.logger });
    this.oci = new RuncRuntime({ binary: o.runtimePath, root: o.runtimeRoot, logger: o.logger });
    this.watcher = new ExitWatcher({ exitDir: o.exitDir });
    this.watcher.on('exit', (id: string, code: number) => {
      for (const fn of this.exitListeners) fn(id, code);
    });
  }

  async startWatching(): Promise<void> {
    await mkdir(this.o.exitDir, { recursive: true });
    await mkdir(this.o.socketDir, { recursive: true });
    await mkdir(this.o.runtimeRoot, { recursive: true });
    await this.watcher.start();
  }

  stopWatching(): void {
    this.watcher.stop();
  }

  onExit(fn: (id: string, code: number) => void): void {
    this.exitListeners.push(fn);
  }

  async launch(opts: LaunchOptions): Promise<{ pid: number; conmonPid: number }> {
    // The exit record of an earlier run must not be taken for this one's.
    await this.forgetExit(opts.id);
    await writeFileAtomic(join(opts.bundleDir, 'config.json'), JSON.stringify(opts.spec));
    const { pid, conmonPid } = await this.monitor.create({
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
    });
    if (opts.beforeStart) await opts.beforeStart();
    await this.oci.start(opts.id);
    return { pid, conmonPid };
  }

  async exec(opts: ExecLaunchOptions): Promise<ExecLaunched> {
    return conmonExec({
      conmonPath: this.o.conmonPath ?? '/usr/bin/conmon',
      runtimePath: this.o.runtimePath,
      runtimeRoot: this.o.runtimeRoot,
      containerId: opts.containerId,
      execId: opts.execId,
      bundle: opts.bundleDir,
      process: opts.process as OciProcess,
      logTarget: opts.logPath ? `k8s-file:${opts.logPath}` : 'none',
      stdin: opts.stdin,
    });
  }

  async pause(id: string): Promise<void> {
    await this.oci.pause(id);
  }

  async resume(id: string): Promise<void> {
    await this.oci.resume(id);
  }

  async processes(id: string): Promise<number[]> {
    return this.oci.ps(id);
  }

  async updateResources(id: string, resources: unknown): Promise<void> {
    await this.oci.update(id, resources);
  }

  async kill(id: string, signal: number): Promise<void> {
    await this.oci.kill(id, signal);
  }

  /** Forgets the run: the runtime's record and conmon's exit file (its code is recorded by now). */
  async delete(id: string): Promise<void> {
    await this.oci.delete(id, { force: true });
    await this.forgetExit(id);
  }

  private async forgetExit(id: string): Promise<void> {
    await rm(join(this.o.exitDir, id), { force: true });
    this.watcher.forget(id);
  }

  async resize(bundleDir: string, height: number, width: number): Promise<void> {
    await this.monitor.resize(bundleDir, height, width);
  }

  async reopenLog(bundleDir: string): Promise<void> {
    await this.monitor.reopenLog(bundleDir);
  }

  async openStdin(bundleDir: string): Promise<StdinWriter> {
    return this.monitor.openStdin(bundleDir);
  }

  async isAlive(id: string, conmonPid: number): Promise<boolean> {
    return this.monitor.isAlive(conmonPid, id);
  }

  async exitCode(id: string, persistDir: string): Promise<number | undefined> {
    const fromExitDir = await this.monitor.readExitCode(this.o.exitDir, id);
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
