import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import type { ApiContext } from '../api-context.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { EngineEvent } from '../../events/index.js';

const FILTER_KEYS = new Set(['container', 'image', 'event', 'type', 'label', 'network', 'volume', 'daemon', 'plugin', 'node', 'service', 'secret', 'config', 'scope']);
const TYPES = new Set(['container', 'image', 'network', 'volume', 'daemon', 'plugin', 'node', 'service', 'secret', 'config', 'builder']);

/** `since`/`until` in nanoseconds: unix seconds[.nanos] or an RFC3339 time. */
function timeNano(ctx: ApiContext, key: string): bigint | undefined {
  const v = ctx.query.string(key);
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid value for ${key}: ${v}`);
  return BigInt(t) * 1_000_000n;
}

/** Whether an event passes the `filters` of /events (moby's rules: OR within a key, AND across keys). */
export function eventMatches(e: EngineEvent, f: Map<string, string[]>): boolean {
  const attrs = e.Actor.Attributes;
  const any = (key: string, test: (v: string) => boolean): boolean => {
    const vals = f.get(key);
    return !vals || vals.length === 0 || vals.some(test);
  };
  if (!any('type', (v) => e.Type === v)) return false;
  if (!any('event', (v) => e.Action === v || e.Action.split(':', 1)[0] === v)) return false;
  if (!any('container', (v) => e.Type === 'container' && (e.Actor.ID === v || e.Actor.ID.startsWith(v) || attrs['name'] === v) || attrs['container'] === v)) return false;
  if (!any('image', (v) => {
    const img = e.Type === 'image' ? [e.Actor.ID, attrs['name'] ?? ''] : [attrs['image'] ?? ''];
    return img.some((i) => i === v || i === `${v}:latest` || i.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, '')) && v.length >= 12 && /^(sha256:)?[0-9a-f]+$/.test(v));
  })) return false;
  if (!any('label', (v) => {
    const eq = v.indexOf('=');
    return eq < 0 ? v in attrs : attrs[v.slice(0, eq)] === v.slice(eq + 1);
  })) return false;
  if (!any('network', (v) => e.Type === 'network' && (e.Actor.ID === v || attrs['name'] === v))) return false;
  if (!any('volume', (v) => e.Type === 'volume' && e.Actor.ID === v)) return false;
  if (!any('daemon', (v) => e.Type === 'daemon' && (e.Actor.ID === v || attrs['name'] === v))) return false;
  if (!any('scope', (v) => v === 'local')) return false;
  return true;
}

export function eventRoutes(s: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/events', handler: async (ctx) => {
        const since = timeNano(ctx, 'since');
        const until = timeNano(ctx, 'until');
        const filters = ctx.query.filters();
        for (const [k, vals] of filters) {
          if (!FILTER_KEYS.has(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
          if (k === 'type') for (const v of vals) if (!TYPES.has(v)) throw new InvalidParameterError(`invalid filter 'type=${v}'`);
        }
        const nowNs = BigInt(Date.now()) * 1_000_000n;
        const out = ctx.startStream('application/json');
        const write = (e: EngineEvent): boolean => {
          if (until !== undefined && BigInt(e.timeNano) > until) return false;
          if (eventMatches(e, filters)) out.write(JSON.stringify(e) + '\n');
          return true;
        };
        // Subscribe before the replay so nothing falls between the two.
        const live: EngineEvent[] = [];
        let replaying = true;
        let done!: () => void;
        const finished = new Promise<void>((r) => { done = r; });
        const unsubscribe = s.events.subscribe((e) => {
          if (replaying) { live.push(e); return; }
          if (!write(e)) done();
        });
        const conn = ctx.res!;
        conn.once('close', () => done());
        let timer: NodeJS.Timeout | undefined;
        try {
          let last = -1;
          if (since !== undefined) {
            for (const e of s.events.since(Number(since))) {
              if (!write(e)) { done(); break; }
              last = e.timeNano;
            }
          }
          replaying = false;
          for (const e of live) if (e.timeNano > last && !write(e)) done();
          if (until !== undefined) {
            const wait = Number((until - nowNs) / 1_000_000n);
            if (wait <= 0) done();
            else timer = setTimeout(() => done(), wait);
          }
          await finished;
        } finally {
          if (timer) clearTimeout(timer);
          unsubscribe();
          out.end();
        }
      },
    },
  ];
}
