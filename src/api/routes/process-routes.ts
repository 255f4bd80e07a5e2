import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { UpdateRequest } from '../../container/index.js';

export function processRoutes(s: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/containers/{id}/top', handler: async (ctx) => {
        ctx.sendJson(200, await s.processes.top(ctx.params['id']!, ctx.query.string('ps_args') ?? ''));
      },
    },
    {
      method: 'POST', path: '/containers/{id}/pause', handler: async (ctx) => {
        await s.containers.pause(ctx.params['id']!);
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/unpause', handler: async (ctx) => {
        await s.containers.unpause(ctx.params['id']!);
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/update', handler: async (ctx) => {
        const body = await ctx.json<UpdateRequest>();
        if (body !== undefined && (typeof body !== 'object' || Array.isArray(body))) throw new InvalidParameterError('invalid update body');
        ctx.sendJson(200, await s.processes.update(ctx.params['id']!, body ?? {}));
      },
    },
  ];
}
