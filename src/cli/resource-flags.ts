import { readFileSync } from 'node:fs';
import type { FlagSpec, FlagValues } from './flag-parser.js';
import { StatusError } from './cli-context.js';

const RAM_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's RAMInBytes: `512m`, `1g`, `100000` (1024-based units, optional trailing b). */
export function parseRamBytes(value: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)b?\s*$/i.exec(value);
  if (!m) throw new StatusError(`invalid argument "${value}" for "${flag}" flag: invalid size: '${value}'`, 125);
  return Math.round(Number(m[1]) * RAM_UNITS[m[2]!.toLowerCase()]!);
}

/** `--memory-swap`: -1 means unlimited. */
export function parseSwapBytes(value: string, flag: string): number {
  return value.trim() === '-1' ? -1 : parseRamBytes(value, flag);
}

/** `--cpus 1.5` as NanoCpus. */
export function parseNanoCpus(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new StatusError(`invalid argument "${value}" for "--cpus" flag: failed to parse ${value} as a rational number`, 125);
  return Math.round(n * 1e9);
}


/** run/create flags for cgroup limits and rlimits. */
export const RESOURCE_FLAGS: FlagSpec[] = [
  { name: 'blkio-weight', type: 'int', description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable' },
  { name: 'cpu-period', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-shares', short: 'c', type: 'int', description: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string', description: 'Number of CPUs' },
  { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'memory', short: 'm', type: 'string', description: 'Memory limit' },
  { name: 'memory-reservation', type: 'string', description: 'Memory soft limit' },
  { name: 'memory-swap', type: 'string', description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: 'memory-swappiness', type: 'int', default: -1, description: 'Tune container memory swappiness (0 to 100)' },
  { name: 'oom-kill-disable', type: 'bool', description: 'Disable OOM Killer' },
  { name: 'pids-limit', type: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'ulimit', type: 'stringArray', description: 'Ulimit options' },
  { name: 'storage-opt', type: 'stringArray', description: 'Storage driver options for the container' },
  { name: 'security-opt', type: 'stringArray', description: 'Security Options' },
  { name: 'group-add', type: 'stringArray', description: 'Add additional groups to join' },
  { name: 'device', type: 'stringArray', description: 'Add a host device to the container' },
  { name: 'cgroup-parent', type: 'string', description: 'Optional parent cgroup for the container' },
  { name: 'userns', type: 'string', description: 'User namespace to use' },
  { name: 'ipc', type: 'string', description: 'IPC mode to use' },
  { name: 'sysctl', type: 'stringArray', description: 'Sysctl options' },
  { name: 'pid', type: 'string', description: 'PID namespace to use' },
  { name: 'uts', type: 'string', description: 'UTS namespace to use' },
];

/** `--ulimit nofile=1024:2048` (or one value for both). */
export function parseUlimit(v: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw new StatusError(`invalid argument "${v}" for "--ulimit" flag: invalid ulimit argument: ${v}`, 125);
  const names = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack', 'as'];
  if (!names.includes(m[1]!)) throw new StatusError(`invalid argument "${v}" for "--ulimit" flag: invalid ulimit type: ${m[1]}`, 125);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard) throw new StatusError(`invalid argument "${v}" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`, 125);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** Adds the resource flags that were given to a create request's HostConfig. */
export function applyResourceFlags(flags: FlagValues, hc: Record<string, unknown>): void {
  if (flags.changed('blkio-weight')) hc['BlkioWeight'] = flags.number('blkio-weight');
  if (flags.changed('cpu-period')) hc['CpuPeriod'] = flags.number('cpu-period');
  if (flags.changed('cpu-quota')) hc['CpuQuota'] = flags.number('cpu-quota');
  if (flags.changed('cpu-shares')) hc['CpuShares'] = flags.number('cpu-shares');
  if (flags.changed('cpus')) hc['NanoCpus'] = parseNanoCpus(flags.string('cpus'));
  if (flags.changed('cpuset-cpus')) hc['CpusetCpus'] = flags.string('cpuset-cpus');
  if (flags.changed('cpuset-mems')) hc['CpusetMems'] = flags.string('cpuset-mems');
  if (flags.changed('memory')) hc['Memory'] = parseRamBytes(flags.string('memory'), '--memory');
  if (flags.changed('memory-reservation')) hc['MemoryReservation'] = parseRamBytes(flags.string('memory-reservation'), '--memory-reservation');
  if (flags.changed('memory-swap')) hc['MemorySwap'] = parseSwapBytes(flags.string('memory-swap'), '--memory-swap');
  if (flags.changed('memory-swappiness')) hc['MemorySwappiness'] = flags.number('memory-swappiness');
  if (flags.changed('oom-kill-disable')) hc['OomKillDisable'] = flags.bool('oom-kill-disable');
  if (flags.changed('pids-limit')) hc['PidsLimit'] = flags.number('pids-limit');
  if (flags.list('ulimit').length) hc['Ulimits'] = flags.list('ulimit').map(parseUlimit);
  if (flags.list('storage-opt').length) {
    const opts: Record<string, string> = {};
    for (const o of flags.list('storage-opt')) {
      const eq = o.indexOf('=');
      if (eq < 0) throw new StatusError('invalid storage option', 125);
      opts[o.slice(0, eq)] = o.slice(eq + 1);
    }
    hc['StorageOpt'] = opts;
  }
  if (flags.list('security-opt').length) hc['SecurityOpt'] = flags.list('security-opt').map(securityOpt);
  if (flags.changed('pid')) hc['PidMode'] = flags.string('pid');
  if (flags.changed('uts')) hc['UTSMode'] = flags.string('uts');
  if (flags.list('group-add').length) hc['GroupAdd'] = flags.list('group-add');
  if (flags.list('device').length) hc['Devices'] = flags.list('device').map(parseDevice);
  if (flags.changed('cgroup-parent')) hc['CgroupParent'] = flags.string('cgroup-parent');
  if (flags.changed('userns')) hc['UsernsMode'] = flags.string('userns');
  if (flags.changed('ipc')) hc['IpcMode'] = flags.string('ipc');
  if (flags.list('sysctl').length) {
    const sysctls: Record<string, string> = {};
    for (const kv of flags.list('sysctl')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new StatusError(`invalid argument "${kv}" for "--sysctl" flag: sysctl '${kv}' is not allowed`, 125);
      sysctls[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    hc['Sysctls'] = sysctls;
  }
}

/** `seccomp=<file>` is sent as the profile's JSON, as docker's CLI does. */
function securityOpt(v: string): string {
  const m = /^seccomp[=:](.+)$/.exec(v);
  if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return v;
  let text: string;
  try {
    text = readFileSync(m[1]!, 'utf8');
  } catch (err) {
    throw new StatusError(`opening seccomp profile (${m[1]}) failed: ${(err as Error).message}`, 125);
  }
  try {
    return `seccomp=${JSON.stringify(JSON.parse(text))}`;
  } catch {
    throw new StatusError(`compacting json for seccomp profile (${m[1]}) failed`, 125);
  }
}

/** `--device src[:dst][:perms]`, as docker's CLI reads it. */
export function parseDevice(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = v.split(':');
  let src = parts[0] ?? '';
  let dst = '';
  let perms = 'rwm';
  if (parts.length === 3) {
    dst = parts[1]!;
    perms = parts[2]!;
  } else if (parts.length === 2) {
    if (/^[rwm]{1,3}$/.test(parts[1]!)) perms = parts[1]!;
    else dst = parts[1]!;
  } else if (parts.length > 3) {
    throw new StatusError(`invalid argument "${v}" for "--device" flag: invalid device specification: ${v}`, 125);
  }
  if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length) {
    throw new StatusError(`invalid argument "${v}" for "--device" flag: invalid device mode: ${perms}`, 125);
  }
  if (!src.startsWith('/')) throw new StatusError(`invalid argument "${v}" for "--device" flag: ${src} is not an absolute path`, 125);
  src = src.replace(/\/+$/, '') || '/';
  return { PathOnHost: src, PathInContainer: dst || src, CgroupPermissions: perms };
}
