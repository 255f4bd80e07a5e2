import { InvalidParameterError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { EventBus } from '../events/event-bus.js';
import type { ContainerRecord } from './container-record.js';
import { isActive } from './container-status.js';

const PRUNE_FILTERS = ['until', 'label', 'label!'];

/** What `container prune` needs from the container service. */
export interface PrunableContainers {
  all(): ContainerRecord[];
  sizeRw(id: string): Promise<number>;
  remove(idOrName: string, opts: { force: boolean; volumes: boolean }): Promise<void>;
}

/**
 * Docker's `until` filter: a Go duration before now (`10m`, `1h30m`), Unix seconds
 * (fractional allowed) or an RFC3339 date. Returns milliseconds since the epoch.
 */
export function parseUntil(v: string, now = Date.now()): number {
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]!]!;
    return now - ms;
  }
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`failed to parse value as time or duration: "${v}"`);
  return t;
}

function hasLabel(labels: Record<string, string>, f: string): boolean {
  const eq = f.indexOf('=');
  if (eq < 0) return f in labels;
  return labels[f.slice(0, eq)] === f.slice(eq + 1);
}

/** Removes every container that is not running and matches the filters (until, label, label!). */
export async function pruneContainers(
  svc: PrunableContainers, filters: Map<string, string[]>, deps: { events: EventBus; logger: Logger },
): Promise<{ deleted: string[]; reclaimed: number }> {
  for (const k of filters.keys()) if (!PRUNE_FILTERS.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
  const until = (filters.get('until') ?? []).map((v) => parseUntil(v));
  const labels = filters.get('label') ?? [];
  const notLabels = filters.get('label!') ?? [];
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const rec of svc.all()) {
    if (isActive(rec.state.status) || rec.state.status === 'removing') continue;
    const created = Date.parse(rec.created);
    if (until.some((u) => !(created < u))) continue;
    const l = rec.config.Labels ?? {};
    if (!labels.every((f) => hasLabel(l, f))) continue;
    if (notLabels.some((f) => hasLabel(l, f))) continue;
    const size = await svc.sizeRw(rec.id).catch(() => 0);
    try {
      await svc.remove(rec.id, { force: false, volumes: false });
    } catch (err) {
      deps.logger.warn('container prune: remove failed', { id: rec.id, err: errorMessage(err) });
      continue;
    }
    deleted.push(rec.id);
    reclaimed += size;
  }
  deps.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
  return { deleted, reclaimed };
}
