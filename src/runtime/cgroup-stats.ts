import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const NS_PER_TICK = 1e9 / 100; // USER_HZ is 100 on Linux
/** cgroup v1 reports "no limit" as a page-aligned huge number. */
const UNLIMITED = 2 ** 62;

export interface BlkioEntry { major: number; minor: number; op: string; value: number }
export interface NetDevStats {
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}

/** One sample of a container's cgroup counters, in the units Docker's stats use. */
export interface CgroupSample {
  cpu: { total: number; percpu: number[]; kernel: number; user: number; periods: number; throttledPeriods: number; throttledTime: number };
  /** Host CPU time in ns (sum of /proc/stat's first line), the denominator of CPU %. */
  systemCpu: number;
  onlineCpus: number;
  memory: { usage: number; maxUsage: number; limit: number; stats: Record<string, number> };
  pids: { current: number; limit: number };
  blkio: BlkioEntry[];
}

async function text(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function num(path: string): Promise<number> {
  const t = (await text(path))?.trim();
  if (!t || t === 'max') return 0;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

function keyValues(t: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (t ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

export function isCgroupV2(): boolean {
  return existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));
}

async function systemCpuNs(): Promise<number> {
  const first = (await text('/proc/stat'))?.split('\n')[0] ?? '';
  const fields = first.trim().split(/\s+/).slice(1, 8).map(Number);
  return fields.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) * NS_PER_TICK;
}

/** Reads the counters of the cgroup at `cgroupsPath` (the OCI cgroupsPath, e.g. `/berth/<id>`). */
export async function readCgroupSample(cgroupsPath: string): Promise<CgroupSample> {
  const rel = cgroupsPath.replace(/^\/+/, '');
  const hostMem = totalmem();
  const systemCpu = await systemCpuNs();
  const onlineCpus = cpus().length;
  if (isCgroupV2()) {
    const dir = join(CGROUP_ROOT, rel);
    const cpuStat = keyValues(await text(join(dir, 'cpu.stat')));
    const memStats = keyValues(await text(join(dir, 'memory.stat')));
    const limitRaw = (await text(join(dir, 'memory.max')))?.trim();
    const blkio: BlkioEntry[] = [];
    for (const line of ((await text(join(dir, 'io.stat'))) ?? '').split('\n')) {
      const m = /^(\d+):(\d+)\s+(.*)$/.exec(line.trim());
      if (!m) continue;
      const kv = Object.fromEntries(m[3]!.split(/\s+/).map((p) => p.split('=')));
      blkio.push({ major: Number(m[1]), minor: Number(m[2]), op: 'read', value: Number(kv['rbytes'] ?? 0) });
      blkio.push({ major: Number(m[1]), minor: Number(m[2]), op: 'write', value: Number(kv['wbytes'] ?? 0) });
    }
    const pidsMax = (await text(join(dir, 'pids.max')))?.trim();
    return {
      cpu: {
        total: (cpuStat['usage_usec'] ?? 0) * 1000, percpu: [], kernel: (cpuStat['system_usec'] ?? 0) * 1000, user: (cpuStat['user_usec'] ?? 0) * 1000,
        periods: cpuStat['nr_periods'] ?? 0, throttledPeriods: cpuStat['nr_throttled'] ?? 0, throttledTime: (cpuStat['throttled_usec'] ?? 0) * 1000,
      },
      systemCpu, onlineCpus,
      memory: {
        usage: await num(join(dir, 'memory.current')), maxUsage: 0,
        limit: !limitRaw || limitRaw === 'max' ? hostMem : Math.min(Number(limitRaw), hostMem), stats: memStats,
      },
      pids: { current: await num(join(dir, 'pids.current')), limit: !pidsMax || pidsMax === 'max' ? 0 : Number(pidsMax) },
      blkio,
    };
  }
  const v1 = (ctl: string, file: string): string => join(CGROUP_ROOT, ctl, rel, file);
  const cpuacct = keyValues(await text(v1('cpuacct', 'cpuacct.stat')));
  const throttle = keyValues(await text(v1('cpu', 'cpu.stat')));
  const percpu = ((await text(v1('cpuacct', 'cpuacct.usage_percpu'))) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const limit = await num(v1('memory', 'memory.limit_in_bytes'));
  const blkio: BlkioEntry[] = [];
  for (const line of ((await text(v1('blkio', 'blkio.throttle.io_service_bytes'))) ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(\w+)\s+(\d+)$/.exec(line.trim());
    if (m) blkio.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  const pidsMax = (await text(v1('pids', 'pids.max')))?.trim();
  return {
    cpu: {
      total: await num(v1('cpuacct', 'cpuacct.usage')), percpu,
      kernel: (cpuacct['system'] ?? 0) * NS_PER_TICK, user: (cpuacct['user'] ?? 0) * NS_PER_TICK,
      periods: throttle['nr_periods'] ?? 0, throttledPeriods: throttle['nr_throttled'] ?? 0, throttledTime: throttle['throttled_time'] ?? 0,
    },
    systemCpu, onlineCpus,
    memory: {
      usage: await num(v1('memory', 'memory.usage_in_bytes')), maxUsage: await num(v1('memory', 'memory.max_usage_in_bytes')),
      limit: !limit || limit >= UNLIMITED ? hostMem : Math.min(limit, hostMem), stats: keyValues(await text(v1('memory', 'memory.stat'))),
    },
    pids: { current: await num(v1('pids', 'pids.current')), limit: !pidsMax || pidsMax === 'max' ? 0 : Number(pidsMax) },
    blkio,
  };
}

/** Interface counters of the network namespace a process lives in (`/proc/<pid>/net/dev`), without lo. */
export async function readNetDev(pid: number): Promise<Record<string, NetDevStats>> {
  const out: Record<string, NetDevStats> = {};
  const t = await text(`/proc/${pid}/net/dev`);
  for (const line of (t ?? '').split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = {
      rx_bytes: f[0] ?? 0, rx_packets: f[1] ?? 0, rx_errors: f[2] ?? 0, rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0, tx_packets: f[9] ?? 0, tx_errors: f[10] ?? 0, tx_dropped: f[11] ?? 0,
    };
  }
  return out;
}
