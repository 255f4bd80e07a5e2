import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import type { ApiContext } from '../api-context.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { ImageRunConfig } from '../../image/index.js';

/**
 * Streams a tar to the client. The status line goes out before the first byte; a failure after
 * it cuts the connection, so the client never takes a truncated archive for a whole one.
 */
export async function sendTarStream(ctx: ApiContext, tar: Readable): Promise<void> {
  const out = ctx.startStream('application/x-tar');
  const sink = out as unknown as NodeJS.WritableStream & { destroy?: (err?: Error) => void };
  try {
    await pipeline(tar, sink);
  } catch {
    tar.destroy();
    sink.destroy?.();
    ctx.req.socket.destroy();
  }
}

/** diff, export and commit of containers. */
export function imageArchiveRoutes(s: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/containers/{id}/changes', handler: async (ctx) => {
        const list = await s.archive.changes(ctx.params['id']!);
        ctx.sendJson(200, list.length ? list : null);
      },
    },
    {
      method: 'GET', path: '/containers/{id}/export', handler: async (ctx) => {
        const tar = await s.archive.export(ctx.params['id']!);
        await sendTarStream(ctx, tar);
      },
    },
    {
      method: 'POST', path: '/commit', handler: async (ctx) => {
        const container = ctx.query.string('container');
        if (!container) throw new InvalidParameterError('container name is required');
        const body = await ctx.json<ImageRunConfig>();
        if (body !== undefined && (typeof body !== 'object' || Array.isArray(body))) throw new InvalidParameterError('invalid config');
        const repo = ctx.query.string('repo') || undefined;
        const tag = ctx.query.string('tag') || undefined;
        if (tag && !repo) throw new InvalidParameterError('tag requires a repository');
        const id = await s.archive.commit(container, {
          ...(repo ? { repo } : {}),
          ...(tag ? { tag } : {}),
          comment: ctx.query.string('comment') ?? '',
          author: ctx.query.string('author') ?? '',
          pause: ctx.query.bool('pause', true),
          changes: ctx.query.all('changes'),
          ...(body ? { config: body } : {}),
        });
        ctx.sendJson(201, { Id: id });
      },
    },
  ];
}
