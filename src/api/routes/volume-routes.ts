import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { Volume, VolumeService } from '../../volume/index.js';

interface VolumeCreateBody {
  Name?: unknown;
  Driver?: unknown;
  DriverOpts?: unknown;
  Labels?: unknown;
}

/** The Engine API's Volume model. */
export function volumeWire(v: Volume, volumes: VolumeService): Record<string, unknown> {
  return {
    CreatedAt: v.createdAt,
    Driver: v.driver,
    Labels: v.labels,
    Mountpoint: volumes.dataDir(v.name),
    Name: v.name,
    Options: v.options,
    Scope: 'local',
  };
}

function stringMap(v: unknown, field: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new InvalidParameterError(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field CreateOptions.${field} of type map[string]string`);
  }
  return v as Record<string, string>;
}

function optString(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new InvalidParameterError(`json: cannot unmarshal ${typeof v} into Go struct field CreateOptions.${field} of type string`);
  return v;
}

export function volumeRoutes(s: ApiServices): Route[] {
  const vs = s.volumes;
  return [
    {
      method: 'GET', path: '/volumes', handler: (ctx) => {
        const list = vs.list(ctx.query.filters());
        ctx.sendJson(200, { Volumes: list.map((v) => volumeWire(v, vs)), Warnings: [] });
      },
    },
    {
      method: 'POST', path: '/volumes/create', handler: async (ctx) => {
        const body = (await ctx.json<VolumeCreateBody>()) ?? {};
        if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('invalid volume create request');
        const vol = await vs.create({
          name: optString(body.Name, 'Name'),
          driver: optString(body.Driver, 'Driver'),
          driverOpts: stringMap(body.DriverOpts, 'DriverOpts'),
          labels: stringMap(body.Labels, 'Labels'),
        });
        ctx.sendJson(201, volumeWire(vol, vs));
      },
    },
    {
      method: 'POST', path: '/volumes/prune', handler: async (ctx) => {
        const r = await vs.prune(ctx.query.filters(), { allByDefault: !ctx.atLeast('1.42') });
        ctx.sendJson(200, { VolumesDeleted: r.deleted, SpaceReclaimed: r.reclaimed });
      },
    },
    {
      method: 'GET', path: '/volumes/{name}', handler: (ctx) => {
        ctx.sendJson(200, volumeWire(vs.get(ctx.params['name']!), vs));
      },
    },
    {
      method: 'DELETE', path: '/volumes/{name}', handler: async (ctx) => {
        await vs.remove(ctx.params['name']!, { force: ctx.query.bool('force') });
        ctx.noContent();
      },
    },
  ];
}
