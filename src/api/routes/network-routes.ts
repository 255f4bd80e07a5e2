import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import { InvalidParameterError, NotFoundError } from '../../common/errors.js';
import { isActive } from '../../container/index.js';
import type { NetworkCreateRequest } from '../../network/index.js';
import { networkWire } from '../network-wire.js';

/** /networks: list, inspect, create, remove, connect, disconnect, prune. */
export function networkRoutes(s: ApiServices): Route[] {
  const net = s.network;
  const container = (idOrName: unknown) => {
    if (typeof idOrName !== 'string' || !idOrName) throw new InvalidParameterError('no container specified');
    const rec = s.containers.get(idOrName);
    return { ...rec, running: isActive(rec.state.status) };
  };
  return [
    {
      method: 'GET', path: '/networks', handler: (ctx) => {
        const list = net.list(ctx.query.filters());
        ctx.sendJson(200, list.map((n) => networkWire(net, n, false)));
      },
    },
    {
      method: 'GET', path: '/networks/{id}', handler: (ctx) => {
        const n = net.get(ctx.params['id']!);
        ctx.sendJson(200, networkWire(net, n, true));
      },
    },
    {
      method: 'POST', path: '/networks/create', handler: async (ctx) => {
        const body = await ctx.json<NetworkCreateRequest>();
        if (!body || typeof body !== 'object') throw new InvalidParameterError('network name must not be empty');
        const r = await net.create(body);
        ctx.sendJson(201, { Id: r.id, Warning: r.warning });
      },
    },
    {
      method: 'DELETE', path: '/networks/{id}', handler: async (ctx) => {
        await net.remove(ctx.params['id']!);
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/networks/prune', handler: async (ctx) => {
        const deleted = await net.prune(ctx.query.filters());
        ctx.sendJson(200, { NetworksDeleted: deleted });
      },
    },
    {
      method: 'POST', path: '/networks/{id}/connect', handler: async (ctx) => {
        const body = await ctx.json<{ Container?: string; EndpointConfig?: Record<string, unknown> | null }>();
        const n = net.find(ctx.params['id']!);
        if (!n) throw new NotFoundError(`network ${ctx.params['id']!} not found`);
        await net.connect(n.id, container(body?.Container), body?.EndpointConfig ?? null);
        ctx.send(200);
      },
    },
    {
      method: 'POST', path: '/networks/{id}/disconnect', handler: async (ctx) => {
        const body = await ctx.json<{ Container?: string; Force?: boolean }>();
        const n = net.get(ctx.params['id']!);
        await net.disconnect(n.id, container(body?.Container), Boolean(body?.Force));
        ctx.send(200);
      },
    },
  ];
}
