import type { Route } from '../api-server.js';
import type { ApiContext } from '../api-context.js';
import type { DistributionService, ProgressMessage, AuthConfig } from '../../distribution/index.js';
import { decodeAuthHeader, normalizeAuth } from '../../distribution/index.js';
import { errorMessage, InvalidParameterError } from '../../common/errors.js';

/** Writes progress messages as Docker does: one JSON per line, errors in-band once streaming. */
function progressStream(ctx: ApiContext): { write: (m: ProgressMessage) => void; end: () => void; fail: (err: unknown) => void; signal: AbortSignal } {
  const out = ctx.startStream('application/json');
  const controller = new AbortController();
  const res = ctx.res;
  res?.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return {
    write: (m) => {
      if (!controller.signal.aborted) out.write(JSON.stringify(m) + '\r\n');
    },
    end: () => out.end(),
    fail: (err) => {
      const message = errorMessage(err);
      if (!controller.signal.aborted) out.write(JSON.stringify({ errorDetail: { message }, error: message }) + '\r\n');
      out.end();
    },
    signal: controller.signal,
  };
}

function authOf(ctx: ApiContext): AuthConfig {
  const h = ctx.req.headers['x-registry-auth'];
  return decodeAuthHeader(Array.isArray(h) ? h[0] : h);
}

/** Pull (`POST /images/create?fromImage=`), push, `POST /auth`, `GET /images/search`. */
export function distributionRoutes(d: DistributionService): Route[] {
  return [
    {
      method: 'POST', path: '/auth', handler: async (ctx) => {
        const raw = await ctx.json<Record<string, unknown>>();
        if (!raw || typeof raw !== 'object') throw new InvalidParameterError('invalid auth configuration: empty body');
        await d.login(normalizeAuth(raw));
        ctx.sendJson(200, { Status: 'Login Succeeded', IdentityToken: '' });
      },
    },
    {
      method: 'GET', path: '/images/search', handler: async (ctx) => {
        const term = ctx.query.string('term') ?? '';
        if (!term) throw new InvalidParameterError('term is required');
        const limit = ctx.query.int('limit');
        const results = await d.searches.search(term, { filters: ctx.query.filters(), auth: authOf(ctx), ...(limit !== undefined ? { limit } : {}) });
        ctx.sendJson(200, results);
      },
    },
    {
      method: 'POST', path: '/images/{name*}/push', handler: async (ctx) => {
        const { ref, tags } = d.pushes.resolve(ctx.params['name']!, ctx.query.string('tag') || undefined);
        const stream = progressStream(ctx);
        try {
          await d.pushes.push(ref, tags, stream, { auth: authOf(ctx), signal: stream.signal });
          stream.end();
        } catch (err) {
          stream.fail(err);
        }
      },
    },
  ];
}

/** The registry half of `POST /images/create` (fromImage); the caller routes fromSrc imports. */
export async function pullHandler(d: DistributionService, ctx: ApiContext): Promise<void> {
  const from = ctx.query.string('fromImage') ?? '';
  const tag = ctx.query.string('tag') ?? '';
  if (!from) throw new InvalidParameterError('fromImage is required');
  let refText = from;
  if (tag) refText = /^[a-z0-9]+:[a-f0-9]{32,}$/.test(tag) ? `${from.replace(/@.*$/, '')}@${tag}` : `${from.replace(/:[^:/@]+$/, '')}:${tag}`;
  const platform = ctx.query.string('platform') || undefined;
  const opts = { auth: authOf(ctx), ...(platform ? { platform } : {}) };
  const prepared = await d.pulls.prepare(refText, opts);
  const stream = progressStream(ctx);
  try {
    await d.pulls.run(prepared, stream, { ...opts, signal: stream.signal });
    stream.end();
  } catch (err) {
    stream.fail(err);
  }
}
