import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import { pruneContainers } from '../../container/index.js';
import type { Logger } from '../../common/log.js';

/** `POST /containers/prune` (until, label, label! filters). */
export function pruneRoutes(s: ApiServices, logger: Logger): Route[] {
  return [
    {
      method: 'POST', path: '/containers/prune', handler: async (ctx) => {
        const r = await pruneContainers(s.containers, ctx.query.filters(), { events: s.events, logger });
        ctx.sendJson(200, { ContainersDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.reclaimed });
      },
    },
  ];
}
