import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';

export function statsRoutes(s: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/containers/{id}/stats', handler: async (ctx) => {
        s.containers.get(ctx.params['id']!); // a missing container is a 404 before the stream starts
        const stream = ctx.query.bool('stream', true);
        const oneShot = ctx.query.bool('one-shot');
        const ac = new AbortController();
        ctx.res?.once('close', () => ac.abort());
        const samples = s.stats.stats(ctx.params['id']!, { stream, oneShot, signal: ac.signal });
        const out = ctx.startStream('application/json');
        try {
          for await (const sample of samples) {
            if (ac.signal.aborted) break;
            out.write(JSON.stringify(sample) + '\n');
          }
        } finally {
          out.end();
        }
      },
    },
  ];
}
