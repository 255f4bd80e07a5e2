import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import type { ApiContext } from '../api-context.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { ChainId } from '../../common/ids.js';
import { familiarString, parseReference } from '../../image/index.js';
import { containerSummary } from '../container-wire.js';
import { containerNetWire } from '../network-wire.js';
import { parseUntil } from './image-routes.js';
import { volumeWire } from './volume-routes.js';

function unixSeconds(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

/** `image prune` and `system df`. */
export function diskUsageRoutes(s: ApiServices): Route[] {
  /** Each image's layer chain (base first) and how many images hold each layer. */
  const layerUse = (): { chains: Map<string, ChainId[]>; holders: Map<ChainId, number> } => {
    const chains = new Map<string, ChainId[]>();
    const holders = new Map<ChainId, number>();
    for (const rec of s.images.store.list()) {
      const chain: ChainId[] = [];
      for (let c: ChainId | null = rec.topLayer; c !== null; ) {
        const l = s.layers.find(c);
        if (!l) break;
        chain.push(c);
        c = l.parent;
      }
      chains.set(rec.id, chain);
      for (const c of chain) holders.set(c, (holders.get(c) ?? 0) + 1);
    }
    return { chains, holders };
  };

  const imagesUsage = (ctx: ApiContext): Array<Record<string, unknown>> => {
    const { chains, holders } = layerUse();
    const refs = s.images.store.allRefs();
    const containers = s.containers.all();
    return s.images.store.list().map((rec) => {
      const size = s.images.size(rec);
      const shared = (chains.get(rec.id) ?? []).filter((c) => (holders.get(c) ?? 0) > 1).reduce((n, c) => n + (s.layers.find(c)?.size ?? 0), 0);
      const tags = (refs.get(rec.id) ?? []).map((r) => familiarString(parseReference(r)));
      const out: Record<string, unknown> = {
        Containers: containers.filter((c) => c.imageId === rec.id).length,
        Created: unixSeconds(rec.config.created),
        Id: rec.id,
        Labels: rec.config.config?.Labels ?? {},
        ParentId: (rec.config as { parent?: string }).parent ?? '',
        RepoDigests: tags.length || ctx.atLeast('1.43') ? [] : ['<none>@<none>'],
        RepoTags: tags.length || ctx.atLeast('1.43') ? tags : ['<none>:<none>'],
        SharedSize: shared,
        Size: size,
      };
      if (!ctx.atLeast('1.44')) out['VirtualSize'] = size;
      return out;
    });
  };

  const containersUsage = async (): Promise<Array<Record<string, unknown>>> => {
    const out = [];
    for (const rec of s.containers.all()) {
      const item = containerSummary(rec, rec.config.Image, containerNetWire(s.network, rec, { apiAtLeast145: false }));
      const rw = await s.containers.sizeRw(rec.id);
      const img = s.images.store.find(rec.imageId);
      item['SizeRw'] = rw;
      item['SizeRootFs'] = rw + (img ? s.images.size(img) : 0);
      out.push(item);
    }
    return out;
  };

  return [
    {
      method: 'POST', path: '/images/prune', handler: async (ctx) => {
        const f = ctx.query.filters();
        for (const k of f.keys()) {
          if (!['dangling', 'until', 'label', 'label!'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
        }
        const dangling = f.get('dangling')?.[0];
        if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling.toLowerCase())) {
          throw new InvalidParameterError(`invalid filter 'dangling=${dangling}'`);
        }
        const until = f.get('until')?.[0];
        const res = await s.images.prune({
          all: dangling !== undefined && ['false', '0'].includes(dangling.toLowerCase()),
          ...(until !== undefined ? { until: parseUntil(until) } : {}),
          labels: f.get('label') ?? [],
          notLabels: f.get('label!') ?? [],
        });
        ctx.sendJson(200, { ImagesDeleted: res.deleted.length ? res.deleted : null, SpaceReclaimed: res.spaceReclaimed });
      },
    },
    {
      method: 'GET', path: '/system/df', handler: async (ctx) => {
        const types = ctx.query.all('type');
        for (const t of types) {
          if (!['container', 'image', 'volume', 'build-cache'].includes(t)) throw new InvalidParameterError(`unknown object type: ${t}`);
        }
        const want = (t: string): boolean => types.length === 0 || types.includes(t);
        const body: Record<string, unknown> = {};
        if (want('image')) {
          body['LayersSize'] = s.layers.list().reduce((n, l) => n + l.size, 0);
          body['Images'] = imagesUsage(ctx);
        }
        if (want('container')) body['Containers'] = await containersUsage();
        if (want('volume')) {
          const usage = new Map((await s.volumes.usage()).map((u) => [u.name, u]));
          body['Volumes'] = s.volumes.list().map((v) => ({
            ...volumeWire(v, s.volumes),
            UsageData: { Size: usage.get(v.name)?.size ?? -1, RefCount: usage.get(v.name)?.refCount ?? 0 },
          }));
        }
        if (want('build-cache')) {
          // API 1.42 replaced Parent with Parents; older clients also get the BuilderSize total.
          const records = s.builder.diskUsage();
          body['BuildCache'] = records.map((r) => {
            const { Parent, ...rest } = r;
            if (!ctx.atLeast('1.42')) return { ...r };
            return Parent ? { ...rest, Parents: [Parent] } : rest;
          });
          if (!ctx.atLeast('1.42')) body['BuilderSize'] = records.reduce((n, r) => n + r.Size, 0);
        }
        ctx.sendJson(200, body);
      },
    },
  ];
}
