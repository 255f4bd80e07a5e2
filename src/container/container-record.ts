import type { MountPoint } from '../volume/index.js';
import type { ContainerStatus } from './container-status.js';

/** The `Config` of a container as clients send and inspect it. */
export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Healthcheck?: unknown;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
}

export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

/** The part of `HostConfig` berth acts on; other fields sent by clients are kept as given. */
export interface HostConfig {
  Binds: string[] | null;
  NetworkMode: string;
  AutoRemove: boolean;
  Init: boolean | null;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  RestartPolicy: RestartPolicy;
  LogConfig: { Type: string; Config: Record<string, string> };
  ShmSize: number;
  [key: string]: unknown;
}

/** `State.Health` of a container with a healthcheck. */
export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  conmonPid: number;
  exitCode: number;
  error: string;
  startedAt: string;
  finishedAt: string;
  oomKilled: boolean;
  health?: HealthState;
}

/** Everything berth persists about one container (one JSON document in the metadata DB). */
export interface ContainerRecord {
  id: string;
  /** Without the leading slash. */
  name: string;
  created: string;
  imageId: string;
  path: string;
  args: string[];
  config: ContainerConfig;
  hostConfig: HostConfig;
  state: ContainerState;
  restartCount: number;
  /** Stopped or killed through the API since its last start (restart policies respect it). */
  manuallyStopped?: boolean;
  /** Exited, with a restart under its policy scheduled (shown as `restarting`). */
  restartPending?: boolean;
  driver: string;
  /** Volumes, binds and tmpfs mounts, resolved at create (absent on records made before volumes). */
  mountPoints?: MountPoint[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';
