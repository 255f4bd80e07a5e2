import { cpus, totalmem, hostname, arch } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import { API_VERSION, MIN_API_VERSION } from '../api-context.js';
import { isActive } from '../../container/index.js';

function goArch(): string {
  return arch() === 'x64' ? 'amd64' : arch() === 'arm64' ? 'arm64' : arch();
}

function ipv4Forwarding(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

export function systemRoutes(s: ApiServices): Route[] {
  const pingHeaders = {
    'Builder-Version': '1',
    Swarm: 'inactive',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  };
  return [
    {
      method: 'GET', path: '/_ping', handler: (ctx) => {
        for (const [k, v] of Object.entries(pingHeaders)) ctx.res?.setHeader(k, v);
        ctx.send(200, 'OK', 'text/plain; charset=utf-8');
      },
    },
    {
      method: 'HEAD', path: '/_ping', handler: (ctx) => {
        for (const [k, v] of Object.entries(pingHeaders)) ctx.res?.setHeader(k, v);
        ctx.res?.setHeader('Content-Type', 'text/plain; charset=utf-8');
        ctx.send(200);
      },
    },
    {
      method: 'GET', path: '/version', handler: (ctx) => {
        const f = s.facts;
        const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), GitCommit: f.gitCommit, KernelVersion: f.kernelVersion, BuildTime: '', Experimental: 'false', GoVersion: `node${process.versions.node}` };
        ctx.sendJson(200, {
          Platform: { Name: 'berth' },
          Components: [
            { Name: 'Engine', Version: f.version, Details: details },
            { Name: f.defaultRuntime, Version: f.runtimeVersion.version, Details: { GitCommit: f.runtimeVersion.commit } },
          ],
          Version: f.version,
          ApiVersion: API_VERSION,
          MinAPIVersion: MIN_API_VERSION,
          GitCommit: f.gitCommit,
          GoVersion: `node${process.versions.node}`,
          Os: 'linux',
          Arch: goArch(),
          KernelVersion: f.kernelVersion,
          Experimental: false,
          BuildTime: '',
        });
      },
    },
    {
      method: 'GET', path: '/info', handler: (ctx) => {
        const f = s.facts;
        const h = f.hostCapabilities ?? {};
        const all = s.containers.all();
        const running = all.filter((c) => c.state.status === 'running').length;
        const paused = all.filter((c) => c.state.status === 'paused').length;
        ctx.sendJson(200, {
          ID: f.id,
          Containers: all.length,
          ContainersRunning: running,
          ContainersPaused: paused,
          ContainersStopped: all.filter((c) => !isActive(c.state.status)).length,
          Images: s.images.store.list().length,
          Driver: f.driver,
          DriverStatus: f.driverStatus,
          Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['journald', 'json-file', 'local', 'none', 'syslog'] },
          MemoryLimit: h.memoryLimit ?? true,
          SwapLimit: h.swapLimit ?? false,
          KernelMemory: h.kernelMemory ?? false,
          KernelMemoryTCP: h.kernelMemoryTCP ?? false,
          CpuCfsPeriod: h.cpuCfsPeriod ?? true,
          CpuCfsQuota: h.cpuCfsQuota ?? true,
          CPUShares: h.cpuShares ?? true,
          CPUSet: h.cpuSet ?? true,
          PidsLimit: h.pidsLimit ?? true,
          IPv4Forwarding: ipv4Forwarding(),
          BridgeNfIptables: h.bridgeNfIptables ?? false,
          BridgeNfIp6tables: h.bridgeNfIp6tables ?? false,
          Debug: f.debug,
          NFd: 0,
          OomKillDisable: h.oomKillDisable ?? true,
          NGoroutines: 0,
          SystemTime: new Date().toISOString(),
          LoggingDriver: f.loggingDriver,
          CgroupDriver: f.cgroupDriver,
          CgroupVersion: f.cgroupVersion,
          NEventsListener: 0,
          KernelVersion: f.kernelVersion,
          OperatingSystem: f.operatingSystem,
          OSVersion: f.osVersion,
          OSType: 'linux',
          Architecture: arch() === 'x64' ? 'x86_64' : arch(),
          IndexServerAddress: 'https://index.docker.io/v1/',
          RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], ...f.registryConfig },
          NCPU: cpus().length,
          MemTotal: totalmem(),
          GenericResources: null,
          DockerRootDir: f.dataRoot,
          HttpProxy: '',
          HttpsProxy: '',
          NoProxy: '',
          Name: hostname(),
          Labels: f.labels,
          ExperimentalBuild: false,
          ServerVersion: f.version,
          Runtimes: f.runtimes,
          DefaultRuntime: f.defaultRuntime,
          Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
          LiveRestoreEnabled: f.liveRestore,
          Isolation: '',
          InitBinary: 'docker-init',
          ContainerdCommit: { ID: '', Expected: '' },
          RuncCommit: { ID: f.runtimeVersion.commit, Expected: f.runtimeVersion.commit },
          InitCommit: { ID: '', Expected: '' },
          SecurityOptions: f.securityOptions,
          CDISpecDirs: [],
          Warnings: f.warnings,
        });
      },
    },
  ];
}
