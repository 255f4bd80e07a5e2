import { setTimeout as sleep } from 'node:timers/promises';
import { readCgroupSample, readNetDev, type CgroupSample } from '../runtime/index.js';
import type { ContainerRecord } from './container-record.js';
import type { ContainerService } from './container-service.js';
import { cgroupsPathFor } from './host-isolation.js';
import { ZERO_TIME } from './container-record.js';

const INTERVAL_MS = 1000;

function cpuStats(s: CgroupSample | undefined): Record<string, unknown> {
  if (!s) return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return {
    cpu_usage: {
      total_usage: s.cpu.total,
      ...(s.cpu.percpu.length ? { percpu_usage: s.cpu.percpu } : {}),
      usage_in_kernelmode: s.cpu.kernel,
      usage_in_usermode: s.cpu.user,
    },
    system_cpu_usage: s.systemCpu,
    online_cpus: s.onlineCpus,
    throttling_data: { periods: s.cpu.periods, throttled_periods: s.cpu.throttledPeriods, throttled_time: s.cpu.throttledTime },
  };
}

/** The Engine API stats object for one sample (and the one before it). */
export function statsJson(rec: ContainerRecord, cur: CgroupSample | undefined, prev: CgroupSample | undefined, times: { read: string; preread: string }, networks?: Record<string, unknown>): Record<string, unknown> {
  const blk = cur?.blkio.length ? cur.blkio.map((b) => ({ major: b.major, minor: b.minor, op: b.op, value: b.value })) : null;
  const out: Record<string, unknown> = {
    name: `/${rec.name}`,
    id: rec.id,
    read: times.read,
    preread: times.preread,
    pids_stats: cur ? { current: cur.pids.current, ...(cur.pids.limit ? { limit: cur.pids.limit } : {}) } : {},
    blkio_stats: {
      io_service_bytes_recursive: blk, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
      io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur),
    precpu_stats: cpuStats(prev),
    memory_stats: cur ? { usage: cur.memory.usage, ...(cur.memory.maxUsage ? { max_usage: cur.memory.maxUsage } : {}), stats: cur.memory.stats, limit: cur.memory.limit } : {},
  };
  if (networks) out['networks'] = networks;
  return out;
}

export interface StatsServiceOptions {
  containers: ContainerService;
}

/** `docker stats`: cgroup counters of a container, one sample or a stream each second. */
export class StatsService {
  constructor(private readonly o: StatsServiceOptions) {}

  async *stats(idOrName: string, opts: { stream: boolean; oneShot: boolean; signal?: AbortSignal }): AsyncGenerator<Record<string, unknown>> {
    const rec0 = this.o.containers.get(idOrName);
    const id = rec0.id;
    let prev: CgroupSample | undefined;
    let prevTime = ZERO_TIME;
    for (let first = true; ; first = false) {
      const rec = this.o.containers.find(id);
      if (!rec || (rec.state.status !== 'running' && rec.state.status !== 'paused')) {
        // Docker answers a stopped container with one empty sample.
        if (first) yield statsJson(rec ?? rec0, undefined, undefined, { read: ZERO_TIME, preread: ZERO_TIME });
        return;
      }
      const cur = await readCgroupSample(cgroupsPathFor(rec));
      const now = new Date().toISOString();
      const networks = rec.hostConfig.NetworkMode === 'host' || !rec.state.pid ? undefined : await readNetDev(rec.state.pid);
      const wantSample = opts.stream || opts.oneShot || prev !== undefined;
      if (wantSample) yield statsJson(rec, cur, prev, { read: now, preread: prevTime }, networks as Record<string, unknown> | undefined);
      if (!opts.stream && wantSample) return;
      prev = cur;
      prevTime = now;
      try {
        await sleep(INTERVAL_MS, undefined, opts.signal ? { signal: opts.signal } : {});
      } catch {
        return;
      }
    }
  }
}
