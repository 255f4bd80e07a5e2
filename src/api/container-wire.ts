import type { ContainerRecord } from '../container/index.js';
import { ZERO_TIME, mountsView, publicStatus } from '../container/index.js';
import { humanDuration } from '../common/human-duration.js';

/** The `Status` column of `docker ps`. */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const st = rec.state;
  switch (publicStatus(rec)) {
    case 'running': {
      const up = `Up ${humanDuration(now - Date.parse(st.startedAt))}`;
      const h = st.health?.Status;
      return h === 'starting' ? `${up} (health: starting)` : h ? `${up} (${h})` : up;
    }
    case 'paused': return `Up ${humanDuration(now - Date.parse(st.startedAt))} (Paused)`;
    case 'restarting': return `Restarting (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    case 'exited':
      return st.finishedAt === ZERO_TIME ? 'Created' : `Exited (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago`;
    default: return 'Created';
  }
}

/** The container's network part of inspect and ps, made by network-wire.ts. */
export interface ContainerNetWire {
  settings: Record<string, unknown>;
  summaryPorts: unknown[];
  summaryNetworks: Record<string, unknown>;
}

function mounts(rec: ContainerRecord): Array<Record<string, unknown>> {
  if (rec.mountPoints) return mountsView(rec);
  return (rec.hostConfig.Binds ?? []).map((b) => {
    const [src, dst, mode = ''] = b.split(':');
    return { Type: 'bind', Source: src, Destination: dst, Mode: mode, RW: !mode.split(',').includes('ro'), Propagation: 'rprivate' };
  });
}

export function containerSummary(rec: ContainerRecord, imageRefShown: string, net: ContainerNetWire): Record<string, unknown> {
  return {
    Id: rec.id,
    Names: [`/${rec.name}`],
    Image: imageRefShown,
    ImageID: rec.imageId,
    Command: [rec.path, ...rec.args].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '),
    Created: Math.floor(Date.parse(rec.created) / 1000),
    Ports: net.summaryPorts,
    Labels: rec.config.Labels,
    State: publicStatus(rec),
    Status: statusText(rec),
    HostConfig: { NetworkMode: rec.hostConfig.NetworkMode },
    NetworkSettings: { Networks: net.summaryNetworks },
    Mounts: mounts(rec),
  };
}

export interface InspectPaths {
  logPath: string;
  hostsPath: string;
  hostnamePath: string;
  resolvConfPath: string;
  graphDriverData: Record<string, string> | null;
  sizeRw?: number;
  sizeRootFs?: number;
  net: ContainerNetWire;
}

export function containerInspect(rec: ContainerRecord, p: InspectPaths): Record<string, unknown> {
  const st = rec.state;
  const status = publicStatus(rec);
  const out: Record<string, unknown> = {
    Id: rec.id,
    Created: rec.created,
    Path: rec.path,
    Args: rec.args,
    State: {
      Status: status,
      Running: status === 'running' || status === 'paused' || status === 'restarting',
      Paused: status === 'paused',
      Restarting: status === 'restarting',
      OOMKilled: st.oomKilled,
      Dead: st.status === 'dead',
      Pid: st.pid,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: st.startedAt,
      FinishedAt: st.finishedAt,
      ...(st.health ? { Health: st.health } : {}),
    },
    Image: rec.imageId,
    ResolvConfPath: p.resolvConfPath,
    HostnamePath: p.hostnamePath,
    HostsPath: p.hostsPath,
    LogPath: p.logPath,
    Name: `/${rec.name}`,
    RestartCount: rec.restartCount,
    Driver: rec.driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: rec.hostConfig.Binds,
      ContainerIDFile: '',
      LogConfig: rec.hostConfig.LogConfig,
      NetworkMode: rec.hostConfig.NetworkMode,
      PortBindings: rec.hostConfig['PortBindings'] ?? {},
      RestartPolicy: rec.hostConfig.RestartPolicy,
      AutoRemove: rec.hostConfig.AutoRemove,
      VolumeDriver: '',
      VolumesFrom: rec.hostConfig['VolumesFrom'] ?? null,
      ...(Array.isArray(rec.hostConfig['Mounts']) && rec.hostConfig['Mounts'].length ? { Mounts: rec.hostConfig['Mounts'] } : {}),
      ...(rec.hostConfig['Tmpfs'] && Object.keys(rec.hostConfig['Tmpfs']).length ? { Tmpfs: rec.hostConfig['Tmpfs'] } : {}),
      ConsoleSize: [0, 0],
      CapAdd: rec.hostConfig.CapAdd,
      CapDrop: rec.hostConfig.CapDrop,
      CgroupnsMode: 'host',
      Dns: rec.hostConfig['Dns'] ?? [],
      DnsOptions: rec.hostConfig['DnsOptions'] ?? [],
      DnsSearch: rec.hostConfig['DnsSearch'] ?? [],
      ExtraHosts: rec.hostConfig['ExtraHosts'] ?? null,
      GroupAdd: rec.hostConfig['GroupAdd'] ?? null,
      IpcMode: rec.hostConfig['IpcMode'] || 'private',
      Cgroup: '',
      Links: rec.hostConfig['Links'] ?? null,
      OomScoreAdj: 0,
      PidMode: rec.hostConfig['PidMode'] ?? '',
      Privileged: rec.hostConfig.Privileged,
      PublishAllPorts: Boolean(rec.hostConfig['PublishAllPorts']),
      ReadonlyRootfs: rec.hostConfig.ReadonlyRootfs,
      SecurityOpt: null,
      UTSMode: rec.hostConfig['UTSMode'] ?? '',
      UsernsMode: rec.hostConfig['UsernsMode'] ?? '',
      ShmSize: rec.hostConfig.ShmSize,
      Runtime: (rec.hostConfig['Runtime'] as string | undefined) || 'runc',
      Isolation: '',
      CpuShares: rec.hostConfig['CpuShares'] ?? 0,
      Memory: rec.hostConfig['Memory'] ?? 0,
      NanoCpus: rec.hostConfig['NanoCpus'] ?? 0,
      CgroupParent: rec.hostConfig['CgroupParent'] ?? '',
      BlkioWeight: rec.hostConfig['BlkioWeight'] ?? 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: [],
      BlkioDeviceWriteBps: [],
      BlkioDeviceReadIOps: [],
      BlkioDeviceWriteIOps: [],
      CpuPeriod: rec.hostConfig['CpuPeriod'] ?? 0,
      CpuQuota: rec.hostConfig['CpuQuota'] ?? 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: rec.hostConfig['CpusetCpus'] ?? '',
      CpusetMems: rec.hostConfig['CpusetMems'] ?? '',
      Devices: rec.hostConfig['Devices'] ?? [],
      DeviceCgroupRules: null,
      DeviceRequests: null,
      MemoryReservation: rec.hostConfig['MemoryReservation'] ?? 0,
      MemorySwap: rec.hostConfig['MemorySwap'] ?? 0,
      MemorySwappiness: null,
      OomKillDisable: rec.hostConfig['OomKillDisable'] ?? null,
      PidsLimit: rec.hostConfig['PidsLimit'] ?? null,
      Ulimits: rec.hostConfig['Ulimits'] ?? null,
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      Init: rec.hostConfig.Init,
      MaskedPaths: rec.hostConfig.Privileged ? null : [
        '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
      ],
      ReadonlyPaths: rec.hostConfig.Privileged ? null : ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
    GraphDriver: { Name: rec.driver, Data: p.graphDriverData },
    Mounts: mounts(rec),
    Config: rec.config,
    NetworkSettings: p.net.settings,
  };
  if (p.sizeRw !== undefined) out['SizeRw'] = p.sizeRw;
  if (p.sizeRootFs !== undefined) out['SizeRootFs'] = p.sizeRootFs;
  return out;
}
