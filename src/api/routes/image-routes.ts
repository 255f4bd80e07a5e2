import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import type { ApiContext } from '../api-context.js';
import { pullHandler } from './distribution-routes.js';
import { InvalidParameterError, NotImplementedError, NotFoundError } from '../../common/errors.js';
import type { ImageRecord } from '../../image/index.js';
import { parseReference, familiarString, openImportUrl } from '../../image/index.js';

function unixSeconds(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

function untaggedShape(ctx: ApiContext, tags: string[], kind: 'tags' | 'digests'): string[] {
  if (tags.length || ctx.atLeast('1.43')) return tags;
  return kind === 'tags' ? ['<none>:<none>'] : ['<none>@<none>'];
}

function runConfigShape(c: NonNullable<ImageRecord['config']['config']> | undefined): Record<string, unknown> {
  const cfg = c ?? {};
  return {
    Hostname: cfg.Hostname ?? '',
    Domainname: cfg.Domainname ?? '',
    User: cfg.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(cfg.ExposedPorts ? { ExposedPorts: cfg.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: cfg.Env ?? null,
    Cmd: cfg.Cmd ?? null,
    ...(cfg.Healthcheck ? { Healthcheck: cfg.Healthcheck } : {}),
    Image: cfg.Image ?? '',
    Volumes: cfg.Volumes ?? null,
    WorkingDir: cfg.WorkingDir ?? '',
    Entrypoint: cfg.Entrypoint ?? null,
    OnBuild: cfg.OnBuild ?? null,
    Labels: cfg.Labels ?? null,
    ...(cfg.StopSignal ? { StopSignal: cfg.StopSignal } : {}),
    ...(cfg.Shell ? { Shell: cfg.Shell } : {}),
  };
}

export function imageRoutes(s: ApiServices): Route[] {
  const summary = (ctx: ApiContext, rec: ImageRecord, refsByImage: Map<string, string[]>): Record<string, unknown> => {
    const size = s.images.size(rec);
    const tags = (refsByImage.get(rec.id) ?? []).map((r) => familiarString(parseReference(r)));
    const out: Record<string, unknown> = {
      Containers: -1,
      Created: unixSeconds(rec.config.created),
      Id: rec.id,
      Labels: rec.config.config?.Labels ?? {},
      ParentId: '',
      RepoDigests: untaggedShape(ctx, s.images.familiarRepoDigests(rec.id), 'digests'),
      RepoTags: untaggedShape(ctx, tags, 'tags'),
      SharedSize: -1,
      Size: size,
    };
    if (!ctx.atLeast('1.44')) out['VirtualSize'] = size;
    return out;
  };

  return [
    {
      method: 'GET', path: '/images/json', handler: (ctx) => {
        const filters = ctx.query.filters();
        for (const k of filters.keys()) {
          if (!['dangling', 'label', 'reference', 'before', 'since', 'until'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
        }
        const refs = s.images.store.allRefs();
        let list = s.images.store.list();
        const dangling = filters.get('dangling');
        if (dangling?.length) {
          const want = dangling[0] === 'true' || dangling[0] === '1';
          list = list.filter((r) => (refs.get(r.id)?.length ?? 0) === 0 === want);
        }
        const labels = filters.get('label');
        if (labels?.length) {
          list = list.filter((r) => labels.every((l) => {
            const lab = r.config.config?.Labels ?? {};
            const eq = l.indexOf('=');
            return eq < 0 ? l in lab : lab[l.slice(0, eq)] === l.slice(eq + 1);
          }));
        }
        const reference = filters.get('reference');
        if (reference?.length) {
          const res = reference.map((p) => globToRegex(p));
          list = list.filter((r) => (refs.get(r.id) ?? []).some((name) => {
            const fam = familiarString(parseReference(name));
            const repo = fam.replace(/:[^:/]+$/, '');
            return res.some((re) => re.test(fam) || re.test(repo));
          }));
        }
        const until = filters.get('until');
        if (until?.length) {
          const limit = parseUntil(until[0]!);
          list = list.filter((r) => Date.parse(r.config.created ?? '') / 1000 < limit);
        }
        for (const key of ['before', 'since'] as const) {
          const v = filters.get(key);
          if (v?.length) {
            const ref = s.images.resolve(v[0]!);
            const t = ref.config.created ?? '';
            list = list.filter((r) => (key === 'before' ? (r.config.created ?? '') < t : (r.config.created ?? '') > t));
          }
        }
        ctx.sendJson(200, list.map((r) => summary(ctx, r, refs)));
      },
    },
    {
      method: 'POST', path: '/images/create', handler: async (ctx) => {
        const fromSrc = ctx.query.string('fromSrc');
        if (fromSrc === undefined) {
          await pullHandler(s.distribution, ctx);
          return;
        }
        const source = fromSrc === '-' ? ctx.bodyStream() : await openImportUrl(fromSrc);
        const repo = ctx.query.string('repo') || undefined;
        const tag = ctx.query.string('tag') || undefined;
        const id = await s.images.importRootfs(source, {
          ...(repo ? { repo } : {}),
          ...(tag ? { tag } : {}),
          message: ctx.query.string('message') ?? '',
          changes: ctx.query.all('changes'),
        });
        const out = ctx.startStream('application/json');
        out.write(JSON.stringify({ status: id }) + '\r\n');
        out.end();
      },
    },
    {
      method: 'GET', path: '/images/{name*}/json', handler: async (ctx) => {
        const rec = s.images.resolve(ctx.params['name']!);
        const driverData = rec.topLayer ? await s.layers.driverMetadata(s.layers.get(rec.topLayer).cacheId).catch(() => null) : null;
        const size = s.images.size(rec);
        const body: Record<string, unknown> = {
          Id: rec.id,
          RepoTags: s.images.familiarRefs(rec.id),
          RepoDigests: s.images.familiarRepoDigests(rec.id),
          Parent: (rec.config as { parent?: string }).parent ?? '',
          Comment: rec.config.comment ?? '',
          Created: rec.config.created ?? '0001-01-01T00:00:00Z',
          Container: rec.config.container ?? '',
          ContainerConfig: runConfigShape(rec.config.container_config),
          DockerVersion: rec.config.docker_version ?? '',
          Author: rec.config.author ?? '',
          Config: runConfigShape(rec.config.config),
          Architecture: rec.config.architecture,
          ...(rec.config.variant ? { Variant: rec.config.variant } : {}),
          Os: rec.config.os,
          Size: size,
          GraphDriver: { Name: s.facts.driver, Data: imageDriverData(driverData) },
          RootFS: { Type: 'layers', Layers: rec.config.rootfs.diff_ids },
          Metadata: { LastTagTime: rec.lastTagTime ?? '0001-01-01T00:00:00Z' },
        };
        if (!ctx.atLeast('1.44')) body['VirtualSize'] = size;
        ctx.sendJson(200, body);
      },
    },
    {
      method: 'GET', path: '/images/{name*}/history', handler: (ctx) => {
        ctx.sendJson(200, s.images.history(ctx.params['name']!));
      },
    },
    {
      method: 'POST', path: '/images/{name*}/tag', handler: (ctx) => {
        const repo = ctx.query.string('repo');
        if (!repo) throw new InvalidParameterError('repository name must have at least one component');
        s.images.tagByName(ctx.params['name']!, repo, ctx.query.string('tag') || undefined);
        ctx.send(201);
      },
    },
    {
      method: 'DELETE', path: '/images/{name*}', handler: async (ctx) => {
        const name = ctx.params['name']!;
        if (!s.images.store.findByName(name)) throw new NotFoundError(`No such image: ${name}`);
        const res = await s.images.remove(name, { force: ctx.query.bool('force'), prune: !ctx.query.bool('noprune') });
        ctx.sendJson(200, res);
      },
    },
  ];
}

/** An image's layers are read-only: no UpperDir/WorkDir of its own beyond the top layer's files. */
function imageDriverData(data: Record<string, string> | null): Record<string, string> | null {
  if (!data || Object.keys(data).length === 0) return null;
  return data;
}

/** `until` as Docker takes it: a unix timestamp, an RFC 3339 date, or a duration before now (10m, 2h30m). */
export function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const dur = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(v);
  if (dur && v !== '') {
    const secs = Number(dur[1] ?? 0) * 3600 + Number(dur[2] ?? 0) * 60 + Number(dur[3] ?? 0);
    return Date.now() / 1000 - secs;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`failed to parse value as time or duration: "${v}"`);
  return t / 1000;
}

function globToRegex(p: string): RegExp {
  const src = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${src}$`);
}
