import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import type { ApiContext } from '../api-context.js';
import { InvalidParameterError } from '../../common/errors.js';
import { dockerArchive, loadArchive, resolveSaveNames, type ImageRunConfig } from '../../image/index.js';
import { errorMessage } from '../../common/errors.js';

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
  const save = async (ctx: ApiContext, names: string[]): Promise<void> => {
    if (names.length === 0) throw new InvalidParameterError('no images to save');
    const items = resolveSaveNames(s.images, names);
    await sendTarStream(ctx, dockerArchive({ images: s.images, layers: s.layers }, items));
    for (const it of items) s.images.announce({ action: 'save', id: it.image.id, name: it.image.id });
  };
  return [
    {
      method: 'GET', path: '/images/get', handler: async (ctx) => save(ctx, ctx.query.all('names').flatMap((n) => n.split(',')).filter(Boolean)),
    },
    {
      method: 'GET', path: '/images/{name*}/get', handler: async (ctx) => save(ctx, [ctx.params['name']!]),
    },
    {
      method: 'POST', path: '/images/load', handler: async (ctx) => {
        const quiet = ctx.query.bool('quiet');
        const ac = new AbortController();
        ctx.req.once('aborted', () => ac.abort());
        let out: NodeJS.WritableStream | undefined;
        const emit = (msg: Record<string, unknown>): void => {
          if (quiet && !('stream' in msg)) return;
          out ??= ctx.startStream('application/json');
          out.write(JSON.stringify(msg) + '\r\n');
        };
        // The loader may stop reading early (a bad archive); the request itself stays open to be drained.
        const body = new PassThrough();
        ctx.req.pipe(body);
        try {
          await loadArchive({ images: s.images, layers: s.layers }, body, { onMessage: emit, signal: ac.signal });
        } catch (err) {
          // Before the first message the error is the status; after it, it travels in-band.
          if (!out) {
            if (!ctx.req.complete) {
              ctx.req.unpipe(body);
              ctx.req.resume();
              await new Promise((r) => { ctx.req.once('end', r); ctx.req.once('close', r); });
            }
            throw err;
          }
          out.write(JSON.stringify({ errorDetail: { message: errorMessage(err) }, error: errorMessage(err) }) + '\r\n');
        }
        if (!out) out = ctx.startStream('application/json');
        out.end();
      },
    },
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
