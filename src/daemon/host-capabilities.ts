import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What this host's cgroups and bridge netfilter offer, as `docker info` reports it. */
export interface HostCapabilities {
  memoryLimit: boolean;
  swapLimit: boolean;
  kernelMemory: boolean;
  kernelMemoryTCP: boolean;
  oomKillDisable: boolean;
  cpuCfsPeriod: boolean;
  cpuCfsQuota: boolean;
  cpuShares: boolean;
  cpuSet: boolean;
  pidsLimit: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioReadBpsDevice: boolean;
  blkioWriteBpsDevice: boolean;
  blkioReadIOpsDevice: boolean;
  blkioWriteIOpsDevice: boolean;
  bridgeNfIptables: boolean;
  bridgeNfIp6tables: boolean;
}

function procFlag(path: string): boolean {
  try {
    return readFileSync(path, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Reads the host's capabilities: cgroup v1 by the control files of each controller's root,
 * cgroup v2 by the controllers the root offers. `root` and `procSys` are parameters for tests.
 */
export function readHostCapabilities(o: { cgroupVersion: '1' | '2'; root?: string; procSys?: string }): HostCapabilities {
  const root = o.root ?? '/sys/fs/cgroup';
  const procSys = o.procSys ?? '/proc/sys';
  const net = {
    bridgeNfIptables: procFlag(join(procSys, 'net/bridge/bridge-nf-call-iptables')),
    bridgeNfIp6tables: procFlag(join(procSys, 'net/bridge/bridge-nf-call-ip6tables')),
  };
  if (o.cgroupVersion === '2') {
    let controllers: string[] = [];
    try {
      controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch { /* none */ }
    const has = (c: string): boolean => controllers.includes(c);
    return {
      memoryLimit: has('memory'), swapLimit: has('memory'), kernelMemory: false, kernelMemoryTCP: false, oomKillDisable: false,
      cpuCfsPeriod: has('cpu'), cpuCfsQuota: has('cpu'), cpuShares: has('cpu'), cpuSet: has('cpuset'), pidsLimit: has('pids'),
      blkioWeight: has('io'), blkioWeightDevice: has('io'),
      blkioReadBpsDevice: has('io'), blkioWriteBpsDevice: has('io'), blkioReadIOpsDevice: has('io'), blkioWriteIOpsDevice: has('io'),
      ...net,
    };
  }
  const file = (controller: string, name: string): boolean => existsSync(join(root, controller, name));
  return {
    memoryLimit: file('memory', 'memory.limit_in_bytes'),
    swapLimit: file('memory', 'memory.memsw.limit_in_bytes'),
    kernelMemory: file('memory', 'memory.kmem.limit_in_bytes'),
    kernelMemoryTCP: file('memory', 'memory.kmem.tcp.limit_in_bytes'),
    oomKillDisable: file('memory', 'memory.oom_control'),
    cpuCfsPeriod: file('cpu', 'cpu.cfs_period_us'),
    cpuCfsQuota: file('cpu', 'cpu.cfs_quota_us'),
    cpuShares: file('cpu', 'cpu.shares'),
    cpuSet: file('cpuset', 'cpuset.cpus'),
    pidsLimit: file('pids', 'pids.max'),
    blkioWeight: file('blkio', 'blkio.weight'),
    blkioWeightDevice: file('blkio', 'blkio.weight_device'),
    blkioReadBpsDevice: file('blkio', 'blkio.throttle.read_bps_device'),
    blkioWriteBpsDevice: file('blkio', 'blkio.throttle.write_bps_device'),
    blkioReadIOpsDevice: file('blkio', 'blkio.throttle.read_iops_device'),
    blkioWriteIOpsDevice: file('blkio', 'blkio.throttle.write_iops_device'),
    ...net,
  };
}

/**
 * dockerd's warnings for what the host lacks, in its order and words. Like dockerd, nothing is
 * said of what cgroup v2 cannot offer (kernel memory, OOM-kill disabling) or of blkio weights on
 * cgroup v1 (gone from the kernel since 5.0).
 */
export function hostWarnings(c: HostCapabilities, cgroupVersion: '1' | '2', ipv4Forwarding: boolean): string[] {
  const w: string[] = [];
  const v2 = cgroupVersion === '2';
  if (!c.memoryLimit) w.push('WARNING: No memory limit support');
  if (!c.swapLimit) w.push('WARNING: No swap limit support');
  if (!c.kernelMemoryTCP && !v2) w.push('WARNING: No kernel memory TCP limit support');
  if (!c.oomKillDisable && !v2) w.push('WARNING: No oom kill disable support');
  if (!c.cpuCfsQuota) w.push('WARNING: No cpu cfs quota support');
  if (!c.cpuCfsPeriod) w.push('WARNING: No cpu cfs period support');
  if (!c.cpuShares) w.push('WARNING: No cpu shares support');
  if (!c.cpuSet) w.push('WARNING: No cpuset support');
  if (!c.blkioWeight && v2) w.push('WARNING: No io.weight support');
  if (!c.blkioWeightDevice && v2) w.push('WARNING: No io.weight (per device) support');
  if (!c.blkioReadBpsDevice) w.push(v2 ? 'WARNING: No io.max (rbps) support' : 'WARNING: No blkio throttle.read_bps_device support');
  if (!c.blkioWriteBpsDevice) w.push(v2 ? 'WARNING: No io.max (wbps) support' : 'WARNING: No blkio throttle.write_bps_device support');
  if (!c.blkioReadIOpsDevice) w.push(v2 ? 'WARNING: No io.max (riops) support' : 'WARNING: No blkio throttle.read_iops_device support');
  if (!c.blkioWriteIOpsDevice) w.push(v2 ? 'WARNING: No io.max (wiops) support' : 'WARNING: No blkio throttle.write_iops_device support');
  if (!ipv4Forwarding) w.push('WARNING: IPv4 forwarding is disabled');
  if (!c.bridgeNfIptables) w.push('WARNING: bridge-nf-call-iptables is disabled');
  if (!c.bridgeNfIp6tables) w.push('WARNING: bridge-nf-call-ip6tables is disabled');
  return w;
}
