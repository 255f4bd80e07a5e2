import { ConflictError, InvalidParameterError, SystemError, errorMessage } from '../common/errors.js';
import { runCommand } from '../sys/index.js';
import type { HostConfig, RestartPolicy } from './container-record.js';
import type { ContainerRuntime } from './container-runtime.js';
import type { ContainerService } from './container-service.js';
import { isActive, publicStatus } from './container-status.js';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** The body of `POST /containers/{id}/update`. */
export interface UpdateRequest {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  RestartPolicy?: RestartPolicy;
}

const MIN_MEMORY = 6 * 1024 * 1024;
const DEFAULT_CPU_PERIOD = 100_000;
const RESTART_POLICIES = new Set(['', 'no', 'always', 'unless-stopped', 'on-failure']);

/**
 * Parses `ps` output into Titles/Processes keeping only the rows whose PID is one of pids; the
 * last column (the command) keeps its spaces.
 */
export function parsePsOutput(output: string, pids: number[]): TopResult {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new SystemError('ps produced no output');
  const titles = lines[0]!.trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new SystemError("Couldn't find PID field in ps output");
  const want = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[pidIndex]);
    if (!want.has(pid)) continue;
    const head = fields.slice(0, titles.length - 1);
    head.push(fields.slice(titles.length - 1).join(' '));
    processes.push(head);
  }
  return { Titles: titles, Processes: processes };
}

/** OCI LinuxResources for the resource fields of a HostConfig (what `runc update` takes). */
export function resourcesOf(h: UpdateRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const memory: Record<string, number> = {};
  if (h.Memory) memory['limit'] = h.Memory;
  if (h.MemorySwap) memory['swap'] = h.MemorySwap;
  else if (h.Memory) memory['swap'] = -1;
  if (h.MemoryReservation) memory['reservation'] = h.MemoryReservation;
  if (Object.keys(memory).length) out['memory'] = memory;
  const cpu: Record<string, number | string> = {};
  if (h.CpuShares) cpu['shares'] = h.CpuShares;
  if (h.NanoCpus) {
    cpu['period'] = DEFAULT_CPU_PERIOD;
    cpu['quota'] = Math.round((h.NanoCpus * DEFAULT_CPU_PERIOD) / 1e9);
  } else {
    if (h.CpuQuota) cpu['quota'] = h.CpuQuota;
    if (h.CpuPeriod) cpu['period'] = h.CpuPeriod;
  }
  if (h.CpusetCpus) cpu['cpus'] = h.CpusetCpus;
  if (h.CpusetMems) cpu['mems'] = h.CpusetMems;
  if (Object.keys(cpu).length) out['cpu'] = cpu;
  if (h.PidsLimit !== undefined && h.PidsLimit !== null && h.PidsLimit !== 0) out['pids'] = { limit: h.PidsLimit < 0 ? -1 : h.PidsLimit };
  if (h.BlkioWeight) out['blockIO'] = { weight: h.BlkioWeight };
  return out;
}

/**
 * The cgroup limits and rlimits of a container's HostConfig, for its OCI spec at start. The
 * daemon's default ulimits fill in the names the container does not set (its HostConfig keeps
 * only what the client sent, as with Docker).
 */
export function specLimits(h: HostConfig, defaultUlimits: Array<{ Name: string; Soft: number; Hard: number }> = []): { resources: Record<string, unknown>; ulimits: Array<{ Name: string; Soft: number; Hard: number }> } {
  const resources = resourcesOf(h as unknown as UpdateRequest);
  const mem = h['Memory'] as number | undefined;
  // Docker's default without --memory-swap: as much swap as memory (memory+swap = 2 x memory).
  if (mem && !h['MemorySwap']) (resources['memory'] as Record<string, number>)['swap'] = 2 * mem;
  if (h['OomKillDisable'] === true) resources['memory'] = { ...(resources['memory'] as object | undefined), disableOOMKiller: true };
  const swappiness = h['MemorySwappiness'];
  if (typeof swappiness === 'number' && swappiness >= 0) resources['memory'] = { ...(resources['memory'] as object | undefined), swappiness };
  const own = Array.isArray(h['Ulimits']) ? (h['Ulimits'] as Array<{ Name: string; Soft: number; Hard: number }>) : [];
  const ulimits = [...own, ...defaultUlimits.filter((d) => !own.some((u) => u.Name === d.Name))];
  return { resources, ulimits };
}

/** Checks an update as Docker does; throws InvalidParameterError with Docker's words. */
export function validateUpdate(u: UpdateRequest, current: HostConfig): void {
  if (u.Memory && u.Memory > 0 && u.Memory < MIN_MEMORY) throw new InvalidParameterError('Minimum memory limit allowed is 6MB');
  const mem = u.Memory ?? (current['Memory'] as number | undefined) ?? 0;
  if (u.MemorySwap && u.MemorySwap > 0 && mem > 0 && u.MemorySwap < mem) {
    throw new InvalidParameterError('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (u.NanoCpus && (u.CpuQuota || u.CpuPeriod)) throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (u.NanoCpus !== undefined && u.NanoCpus < 0) throw new InvalidParameterError('Range of CPUs is from 0.01 to the number of CPUs available');
  if (u.CpuPeriod && (u.CpuPeriod < 1000 || u.CpuPeriod > 1_000_000)) throw new InvalidParameterError('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (u.CpuQuota && u.CpuQuota > 0 && u.CpuQuota < 1000) throw new InvalidParameterError('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (u.BlkioWeight && (u.BlkioWeight < 10 || u.BlkioWeight > 1000)) throw new InvalidParameterError('Range of blkio weight is from 10 to 1000');
  if (u.RestartPolicy) {
    const name = u.RestartPolicy.Name ?? '';
    if (!RESTART_POLICIES.has(name)) throw new InvalidParameterError(`invalid restart policy '${name}'`);
    if (name !== 'on-failure' && (u.RestartPolicy.MaximumRetryCount ?? 0) !== 0) {
      throw new InvalidParameterError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
    }
    if ((u.RestartPolicy.MaximumRetryCount ?? 0) < 0) throw new InvalidParameterError('invalid restart policy: maximum retry count cannot be negative');
    if (name && name !== 'no' && current.AutoRemove) {
      throw new InvalidParameterError('Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
  }
}

export interface ProcessServiceOptions {
  containers: ContainerService;
  runtime: ContainerRuntime;
}

/** top and update: what looks at or changes a running container's processes and limits. */
export class ProcessService {
  constructor(private readonly o: ProcessServiceOptions) {}

  async top(idOrName: string, psArgs: string): Promise<TopResult> {
    const rec = this.o.containers.get(idOrName);
    if (publicStatus(rec) === 'restarting') throw new ConflictError(`Container ${rec.id} is restarting, wait until the container is running`);
    if (!isActive(rec.state.status)) throw new ConflictError(`Container ${rec.id} is not running`);
    if (rec.state.status === 'restarting') throw new ConflictError(`Container ${rec.id} is restarting, wait until the container is running`);
    const pids = await this.o.runtime.processes(rec.id);
    const args = (psArgs || '-ef').split(/\s+/).filter(Boolean);
    let out: string;
    try {
      out = (await runCommand(['ps', ...args], { timeoutMs: 30_000 })).stdout;
    } catch (err) {
      throw new SystemError(`Error running ps: ${errorMessage(err)}`, { cause: err });
    }
    return parsePsOutput(out, pids);
  }

  async update(idOrName: string, u: UpdateRequest): Promise<{ Warnings: string[] }> {
    const rec = this.o.containers.get(idOrName);
    validateUpdate(u, rec.hostConfig);
    const patch: Partial<HostConfig> = {};
    for (const k of ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuQuota', 'CpuPeriod', 'CpuShares', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight'] as const) {
      const v = u[k];
      if (v !== undefined && v !== null && v !== 0 && v !== '') patch[k] = v;
    }
    if (u.NanoCpus) { patch['CpuQuota'] = 0; patch['CpuPeriod'] = 0; }
    if (u.CpuQuota || u.CpuPeriod) patch['NanoCpus'] = 0;
    if (u.Memory && !u.MemorySwap && !(rec.hostConfig['MemorySwap'] as number | undefined)) patch['MemorySwap'] = 0;
    if (u.RestartPolicy) {
      patch.RestartPolicy = { Name: u.RestartPolicy.Name || 'no', MaximumRetryCount: u.RestartPolicy.MaximumRetryCount ?? 0 };
    }
    if (rec.state.status === 'running' || rec.state.status === 'paused') {
      const resources = resourcesOf(u);
      if (Object.keys(resources).length) {
        try {
          await this.o.runtime.updateResources(rec.id, resources);
        } catch (err) {
          throw new SystemError(`Cannot update container ${rec.id}: ${errorMessage(err)}`, { cause: err });
        }
      }
    }
    this.o.containers.updateHostConfig(rec.id, patch);
    return { Warnings: [] };
  }
}
