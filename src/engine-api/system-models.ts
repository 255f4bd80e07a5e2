/** System wire models (Docker Engine API 1.44). Types only. */

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

export interface Version {
  Platform?: { Name: string };
  Components?: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

export interface Info {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: [string, string][] | null;
  Plugins: { Volume: string[] | null; Network: string[] | null; Authorization: string[] | null; Log: string[] | null };
  MemoryLimit?: boolean;
  SwapLimit?: boolean;
  CpuCfsPeriod?: boolean;
  CpuCfsQuota?: boolean;
  IPv4Forwarding?: boolean;
  Debug?: boolean;
  NFd?: number;
  NGoroutines?: number;
  SystemTime?: string;
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion?: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion?: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  DockerRootDir: string;
  HttpProxy?: string;
  HttpsProxy?: string;
  NoProxy?: string;
  Name: string;
  Labels: string[] | null;
  ExperimentalBuild: boolean;
  ServerVersion: string;
  Runtimes?: Record<string, { path?: string }>;
  DefaultRuntime?: string;
  Swarm?: { LocalNodeState: string; ControlAvailable?: boolean; NodeID?: string };
  LiveRestoreEnabled?: boolean;
  IndexServerAddress?: string;
  RegistryConfig?: {
    InsecureRegistryCIDRs?: string[] | null;
    IndexConfigs?: Record<string, { Name: string; Mirrors?: string[] | null; Secure: boolean; Official: boolean }> | null;
    Mirrors?: string[] | null;
  } | null;
  Isolation?: string;
  InitBinary?: string;
  SecurityOptions?: string[];
  Warnings?: string[] | null;
  [key: string]: unknown;
}

/** What HEAD /_ping reports in its headers. */
export interface PingResult {
  apiVersion: string | undefined;
  osType: string | undefined;
  experimental: boolean;
  builderVersion: string | undefined;
}
