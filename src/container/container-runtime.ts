/**
 * What the container service needs from the OCI runtime + monitor below it. The daemon plugs in
 * the real implementation (conmon + runc); tests may plug in a fake.
 */
export interface StdinWriter {
  write(data: Buffer): Promise<void>;
  close(): void;
}

export interface LaunchOptions {
  id: string;
  /** Directory for config.json, pid files, attach socket and ctl fifo. */
  bundleDir: string;
  /** The generated OCI config (runtime/spec.ts `buildSpec`). */
  spec: unknown;
  logPath: string;
  persistDir: string;
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /** The OCI runtime's name (HostConfig.Runtime); the daemon's default when not given. */
  runtime?: string;
  /** Awaited after the runtime's create and before its start (network setup runs meanwhile). */
  beforeStart?: () => Promise<void>;
}

export interface ExecLaunchOptions {
  containerId: string;
  execId: string;
  /** Private directory of the exec (process spec, log, ctl fifo, attach socket). */
  bundleDir: string;
  /** The OCI process to run (runtime/oci-spec.ts `OciProcess`). */
  process: unknown;
  /** Where the output goes (conmon k8s-file log), or null to discard it. */
  logPath: string | null;
  stdin: boolean;
}

export interface ExecLaunched {
  pid: number;
  /** Resolves with the exit code once the process ended and its output is in the log. */
  exited: Promise<number>;
}

export interface ContainerRuntime {
  /** A start or an exec is coming: let the runtime get ready for it (optional, never fails). */
  expectLaunch?(): void;
  /** Freezes / thaws every process of the container (cgroup freezer). */
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Host pids of the container's processes. */
  processes(id: string): Promise<number[]>;
  /** Applies new resource limits (OCI LinuxResources) to a running container. */
  updateResources(id: string, resources: unknown): Promise<void>;
  /** Runs a process in a running container under its own monitor. */
  exec(opts: ExecLaunchOptions): Promise<ExecLaunched>;
  /** Writes the bundle and starts the container; the error message is the runtime's own. */
  launch(opts: LaunchOptions): Promise<{ pid: number; conmonPid: number }>;
  kill(id: string, signal: number): Promise<void>;
  /** Forgets the container in the runtime (force); a missing one is not an error. */
  delete(id: string): Promise<void>;
  resize(bundleDir: string, height: number, width: number): Promise<void>;
  /** Makes the monitor reopen the container's log file (after a rotation). */
  reopenLog?(bundleDir: string): Promise<void>;
  openStdin(bundleDir: string): Promise<StdinWriter>;
  /** Is this conmon still watching this container? */
  isAlive(id: string, conmonPid: number): Promise<boolean>;
  /** The recorded exit code of a container that ended, if conmon wrote one. */
  exitCode(id: string, persistDir: string): Promise<number | undefined>;
  wasOomKilled(persistDir: string): Promise<boolean>;
  /** Called once per container exit, as soon as conmon reports it. */
  onExit(fn: (id: string, code: number) => void): void;
}
