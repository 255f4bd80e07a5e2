import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { EventBus, EngineEvent } from '../events/event-bus.js';
import type { ContainerRecord } from './container-record.js';
import type { ContainerService } from './container-service.js';
import { isActive } from './container-status.js';

const INITIAL_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
/** A run at least this long resets the back-off, as Docker does. */
const RESET_AFTER_MS = 10_000;

export interface RestartDecisionInput {
  policy: string;
  maxRetries: number;
  exitCode: number;
  restartCount: number;
  manuallyStopped: boolean;
}

/** Whether a container that just exited restarts under its policy (Docker's rules). */
export function shouldRestart(i: RestartDecisionInput): boolean {
  if (i.manuallyStopped) return false;
  switch (i.policy) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return i.exitCode !== 0 && (i.maxRetries <= 0 || i.restartCount < i.maxRetries);
    default:
      return false;
  }
}

/** The next back-off delay: doubling from 100 ms, back to 100 ms after a run of 10 s or more. */
export function nextDelay(previousMs: number, ranForMs: number): number {
  if (previousMs <= 0 || ranForMs >= RESET_AFTER_MS) return INITIAL_DELAY_MS;
  return Math.min(previousMs * 2, MAX_DELAY_MS);
}

export interface RestartManagerOptions {
  containers: ContainerService;
  events: EventBus;
  logger: Logger;
}

/**
 * Applies restart policies: restarts containers that exit (with back-off), respects a manual stop
 * or kill, and brings `always` / `unless-stopped` containers back when the daemon starts.
 */
export class RestartManager {
  private readonly delays = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Restarts in progress, and those a stop arrived for meanwhile. */
  private readonly starting = new Set<string>();
  private readonly stopAfterStart = new Set<string>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: RestartManagerOptions) {}

  start(): void {
    this.unsubscribe = this.o.events.subscribe((e) => this.onEvent(e));
    this.o.containers.setRestartCanceller((id) => {
      if (this.starting.has(id)) {
        this.stopAfterStart.add(id);
        return true;
      }
      const pending = this.timers.has(id);
      this.cancel(id);
      return pending;
    });
  }

  stop(): void {
    this.unsubscribe?.();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** At daemon start: containers that should be running under their policy (always, unless-stopped, on-failure after a failure) are started. */
  async restoreAtStartup(): Promise<number> {
    let n = 0;
    for (const rec of this.o.containers.all()) {
      // A back-off that the daemon's stop cut short: the container is plainly exited now.
      this.o.containers.setRestartPending(rec.id, false);
      if (isActive(rec.state.status)) continue;
      const p = rec.hostConfig.RestartPolicy?.Name ?? 'no';
      // on-failure too: a container that failed while the daemon was down gets its retry now.
      const wanted = p === 'always' || (p === 'unless-stopped' && !rec.manuallyStopped) || (p === 'on-failure' && shouldRestart({
        policy: p, maxRetries: rec.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0, exitCode: rec.state.exitCode, restartCount: rec.restartCount, manuallyStopped: Boolean(rec.manuallyStopped),
      }));
      if (!wanted || rec.state.startedAt === '0001-01-01T00:00:00Z') continue;
      try {
        await this.o.containers.start(rec.id);
        n++;
      } catch (err) {
        this.o.logger.warn('restart at start-up failed', { id: rec.id, err: errorMessage(err) });
      }
    }
    return n;
  }

  private onEvent(e: EngineEvent): void {
    if (e.Type !== 'container') return;
    const id = e.Actor.ID;
    switch (e.Action) {
      case 'kill':
        this.o.containers.setManuallyStopped(id, true);
        this.cancel(id);
        break;
      case 'start':
        this.o.containers.setManuallyStopped(id, false);
        break;
      case 'destroy':
        this.cancel(id);
        this.delays.delete(id);
        break;
      case 'die':
        this.onDie(id, Number(e.Actor.Attributes['exitCode'] ?? 0));
        break;
      default:
    }
  }

  private onDie(id: string, exitCode: number): void {
    const rec = this.o.containers.find(id);
    if (!rec) return;
    const policy = rec.hostConfig.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
    if (!shouldRestart({
      policy: policy.Name, maxRetries: policy.MaximumRetryCount, exitCode, restartCount: rec.restartCount, manuallyStopped: Boolean(rec.manuallyStopped),
    })) return;
    const ranFor = Date.now() - Date.parse(rec.state.startedAt);
    const delay = nextDelay(this.delays.get(id) ?? 0, Number.isFinite(ranFor) ? ranFor : 0);
    this.delays.set(id, delay);
    this.cancel(id);
    const t = setTimeout(() => {
      this.timers.delete(id);
      void this.restart(rec);
    }, delay);
    t.unref();
    this.timers.set(id, t);
    this.o.containers.setRestartPending(id, true);
  }

  private async restart(rec: ContainerRecord): Promise<void> {
    const cur = this.o.containers.find(rec.id);
    if (!cur || cur.manuallyStopped || isActive(cur.state.status)) {
      this.o.containers.setRestartPending(rec.id, false);
      return;
    }
    this.starting.add(rec.id);
    try {
      await this.o.containers.restartByPolicy(rec.id);
    } catch (err) {
      this.o.logger.warn('restart by policy failed', { id: rec.id, err: errorMessage(err) });
      // A failed start counts as an exit with an error: try again later under the same policy.
      if (!this.stopAfterStart.has(rec.id)) this.onDie(rec.id, 128);
    } finally {
      this.starting.delete(rec.id);
    }
    if (this.stopAfterStart.delete(rec.id)) {
      await this.o.containers.stop(rec.id, {}).catch(() => undefined);
    }
  }

  private cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    this.o.containers.setRestartPending(id, false);
  }
}
