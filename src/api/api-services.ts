import type { ArchiveService, ContainerArchive, ContainerService, ExecService, ProcessService, StatsService } from '../container/index.js';
import type { ImageService } from '../image/index.js';
import type { LayerStore } from '../layer/index.js';
import type { EventBus } from '../events/index.js';
import type { VolumeService } from '../volume/index.js';
import type { Builder } from '../build/index.js';
import type { NetworkService } from '../network/index.js';
import type { DistributionService } from '../distribution/index.js';

/** Facts about the running daemon that /info and /version report. */
export interface DaemonFacts {
  id: string;
  version: string;
  gitCommit: string;
  dataRoot: string;
  execRoot: string;
  driver: string;
  driverStatus: Array<[string, string]>;
  loggingDriver: string;
  cgroupDriver: string;
  cgroupVersion: string;
  defaultRuntime: string;
  /** The default runtime's own version and commit. */
  runtimeVersion: { version: string; commit: string };
  runtimes: Record<string, { path: string }>;
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  securityOptions: string[];
  warnings: string[];
  /** What the host's cgroups and bridge netfilter offer (info's MemoryLimit, SwapLimit...). */
  hostCapabilities?: Partial<Record<'memoryLimit' | 'swapLimit' | 'kernelMemory' | 'kernelMemoryTCP' | 'oomKillDisable' | 'cpuCfsPeriod'
    | 'cpuCfsQuota' | 'cpuShares' | 'cpuSet' | 'pidsLimit' | 'bridgeNfIptables' | 'bridgeNfIp6tables', boolean>>;
  debug: boolean;
  /** Reloadable (SIGHUP): the daemon updates these in place. */
  liveRestore: boolean;
  labels: string[];
  registryConfig: {
    InsecureRegistryCIDRs: string[];
    IndexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }>;
    Mirrors: string[];
  };
}

/** Everything route handlers may call. */
export interface ApiServices {
  containers: ContainerService;
  execs: ExecService;
  archives: ArchiveService;
  processes: ProcessService;
  stats: StatsService;
  /** diff, export and commit of containers. */
  archive: ContainerArchive;
  layers: LayerStore;
  images: ImageService;
  events: EventBus;
  builder: Builder;
  facts: DaemonFacts;
  volumes: VolumeService;
  network: NetworkService;
  distribution: DistributionService;
}
