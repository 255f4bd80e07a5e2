import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { EngineEvent, EventBus } from '../events/event-bus.js';
import type { ContainerRecord, HealthState } from './container-record.js';
import type { ContainerService } from './container-service.js';
import type { ExecService } from './exec-service.js';

/** A container's healthcheck as stored in Config.Healthcheck (durations in nanoseconds). */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const MAX_OUTPUT = 4096;
const MAX_LOG = 5;

/** The probe's argv, or undefined when the container has no (or a disabled) healthcheck. */
export function probeCommand(hc: HealthConfig | undefined): string[] | undefined {
  const test = hc?.Test;
  if (!Array.isArray(test) || test.length === 0) return undefined;
  switch (test[0]) {
    case 'NONE': return undefined;
    case 'CMD': return test.length > 1 ? test.slice(1) : undefined;
    case 'CMD-SHELL': return test.length > 1 ? ['/bin/sh', '-c', test.slice(1).join(' ')] : undefined;
    default: return undefined;
  }
}

export interface ProbeResult { start: Date; end: Date; exitCode: number; output: string }

/**
 * Folds one probe result into the health state (Docker's rules): success makes it healthy;
 * failures count only after the start period, and `retries` in a row make it unhealthy.
 */
export function applyProbe(prev: HealthState, r: ProbeResult, opts: { retries: number; inStartPeriod: boolean }): HealthState {
  const log = [...prev.Log, { Start: r.start.toISOString(), End: r.end.toISOString(), ExitCode: r.exitCode, Output: r.output }].slice(-MAX_LOG);
  if (r.exitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log: log };
  if (opts.inStartPeriod && prev.Status !== 'healthy') return { Status: prev.Status, FailingStreak: prev.FailingStreak, Log: log };
  const streak = prev.FailingStreak + 1;
  return { Status: streak >= opts.retries ? 'unhealthy' : prev.Status, FailingStreak: streak, Log: log };
}

export interface HealthMonitorOptions {
  containers: ContainerService;
  execs: ExecService;
  events: EventBus;
  logger: Logger;
}

/** Runs each running container's healthcheck through exec and records State.Health. */
export class HealthMonitor {
  private readonly loops = new Map<string, { timer?: NodeJS.Timeout; stopped: boolean }>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: HealthMonitorOptions) {}

  start(): void {
    this.unsubscribe = this.o.events.subscribe((e) => this.onEvent(e));
    // Containers adopted at start-up keep being checked.
    for (const rec of this.o.containers.all()) {
      if (rec.state.status === 'running' && probeCommand(rec.config.Healthcheck as HealthConfig)) this.begin(rec, false);
    }
  }

  stop(): void {
    this.unsubscribe?.();
    for (const id of [...this.loops.keys()]) this.end(id);
  }

  private onEvent(e: EngineEvent): void {
    if (e.Type !== 'container') return;
    if (e.Action === 'start') {
      const rec = this.o.containers.find(e.Actor.ID);
      if (rec && probeCommand(rec.config.Healthcheck as HealthConfig)) this.begin(rec, true);
    } else if (e.Action === 'die' || e.Action === 'destroy') {
      this.end(e.Actor.ID);
    }
  }

  private begin(rec: ContainerRecord, fresh: boolean): void {
    this.end(rec.id);
    const hc = rec.config.Healthcheck as HealthConfig;
    const intervalMs = hc.Interval ? hc.Interval / 1e6 : DEFAULT_INTERVAL_MS;
    const timeoutMs = hc.Timeout ? hc.Timeout / 1e6 : DEFAULT_TIMEOUT_MS;
    const retries = hc.Retries && hc.Retries > 0 ? hc.Retries : DEFAULT_RETRIES;
    const startPeriodMs = hc.StartPeriod ? hc.StartPeriod / 1e6 : 0;
    if (fresh || !rec.state.health) this.o.containers.setHealth(rec.id, { Status: 'starting', FailingStreak: 0, Log: [] });
    const startedAt = Date.parse(rec.state.startedAt) || Date.now();
    const loop: { timer?: NodeJS.Timeout; stopped: boolean } = { stopped: false };
    this.loops.set(rec.id, loop);
    const schedule = (): void => {
      if (loop.stopped) return;
      loop.timer = setTimeout(() => {
        void this.probe(rec.id, probeCommand(hc)!, timeoutMs).then((r) => {
          if (loop.stopped || !r) return;
          const cur = this.o.containers.find(rec.id);
          if (!cur || cur.state.status !== 'running') return;
          const prev = cur.state.health ?? { Status: 'starting' as const, FailingStreak: 0, Log: [] };
          const next = applyProbe(prev, r, { retries, inStartPeriod: Date.now() - startedAt < startPeriodMs });
          this.o.containers.setHealth(rec.id, next);
          if (next.Status !== prev.Status) {
            this.o.events.publish('container', `health_status: ${next.Status}`, cur.id, { ...cur.config.Labels, image: cur.config.Image, name: cur.name });
          }
        }).catch((err) => this.o.logger.warn('health probe failed', { id: rec.id, err: errorMessage(err) })).finally(schedule);
      }, intervalMs);
      loop.timer.unref();
    };
    schedule();
  }

  private end(id: string): void {
    const loop = this.loops.get(id);
    if (!loop) return;
    loop.stopped = true;
    if (loop.timer) clearTimeout(loop.timer);
    this.loops.delete(id);
  }

  /** One probe through exec; undefined when the container is no longer running. */
  private async probe(id: string, cmd: string[], timeoutMs: number): Promise<ProbeResult | undefined> {
    const rec = this.o.containers.find(id);
    if (!rec || rec.state.status !== 'running') return undefined;
    const start = new Date();
    let ex;
    try {
      ex = this.o.execs.create(id, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    } catch {
      return undefined;
    }
    let session;
    try {
      session = await this.o.execs.start(ex.id, { detach: false });
    } catch (err) {
      return { start, end: new Date(), exitCode: ex.exitCode ?? 1, output: errorMessage(err) };
    }
    let output = '';
    const collect = (async () => {
      for await (const e of session.output) if (output.length < MAX_OUTPUT) output += e.data.toString('utf8');
      return session.exited;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const res = await Promise.race([collect, timedOut]);
    if (timer) clearTimeout(timer);
    if (res === 'timeout') {
      if (ex.pid > 0) { try { process.kill(ex.pid, 'SIGKILL'); } catch { /* gone */ } }
      return { start, end: new Date(), exitCode: -1, output: `Health check exceeded timeout (${formatSeconds(timeoutMs)})` };
    }
    return { start, end: new Date(), exitCode: res, output: output.slice(0, MAX_OUTPUT) };
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
