import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import type { ApiContext } from '../api-context.js';
import { InvalidParameterError, NotImplementedError, errorMessage } from '../../common/errors.js';
import { BuildStepError, DockerfileSyntaxError, checkBuildRequest, type BuildMessage, type BuildRequest } from '../../build/index.js';

function jsonObject<T>(ctx: ApiContext, key: string): Record<string, T> {
  const raw = ctx.query.string(key);
  if (raw === undefined || raw.trim() === '') return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, T>;
  } catch { /* below */ }
  throw new InvalidParameterError(`invalid ${key}: ${raw}`);
}

/** `X-Registry-Config`: base64url JSON of credentials by registry address; bad input is none. */
function registryConfigs(ctx: ApiContext): Record<string, unknown> {
  const h = ctx.req.headers['x-registry-config'];
  const value = Array.isArray(h) ? h[0] : h;
  if (!value) return {};
  try {
    const v = JSON.parse(Buffer.from(value.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* none */ }
  return {};
}

/** `POST /build` (the classic builder API) and `POST /build/prune`. */
export function buildRoutes(s: ApiServices): Route[] {
  return [
    {
      method: 'POST', path: '/build', handler: async (ctx) => {
        const q = ctx.query;
        if (q.string('version') === '2') throw new InvalidParameterError('buildkit not supported by daemon: this berthd serves the classic builder (build with DOCKER_BUILDKIT=0)');
        if (q.string('remote')) throw new NotImplementedError('building from a remote context (git or URL) is not supported; send the context as a tar');
        const req: BuildRequest = {
          context: ctx.req,
          dockerfile: q.string('dockerfile') || 'Dockerfile',
          tags: q.all('t').filter((t) => t !== ''),
          buildArgs: jsonObject<string | null>(ctx, 'buildargs'),
          labels: jsonObject<string>(ctx, 'labels'),
          noCache: q.bool('nocache'),
          pull: q.bool('pull'),
          rm: q.bool('rm', true),
          forceRm: q.bool('forcerm'),
          quiet: q.bool('q'),
          authConfigs: registryConfigs(ctx),
          extraHosts: q.all('extrahosts').flatMap((h) => h.split(',')).filter((h) => h !== ''),
        };
        const target = q.string('target');
        if (target) req.target = target;
        const networkMode = q.string('networkmode');
        if (networkMode) req.networkMode = networkMode;
        const platform = q.string('platform');
        if (platform) req.platform = platform;
        const shm = q.int('shmsize');
        if (shm) req.shmSize = shm;
        checkBuildRequest(req);
        const ac = new AbortController();
        ctx.res?.on('close', () => { if (!ctx.res?.writableFinished) ac.abort(); });
        req.signal = ac.signal;
        // The status line goes out with the first message: an error before it (a Dockerfile
        // syntax error, a missing target) is a plain HTTP error, as with Docker.
        let out: NodeJS.WritableStream | undefined;
        const write = (m: BuildMessage): void => {
          out ??= ctx.startStream('application/json');
          if (!ac.signal.aborted) out.write(JSON.stringify(m) + '\r\n');
        };
        try {
          await s.builder.build(req, write);
        } catch (err) {
          if (!out) throw err instanceof DockerfileSyntaxError ? new InvalidParameterError(err.message, { cause: err }) : err;
          const message = errorMessage(err);
          write(err instanceof BuildStepError
            ? { errorDetail: { code: err.code, message }, error: message }
            : { errorDetail: { message }, error: message });
        }
        out?.end();
      },
    },
    {
      method: 'POST', path: '/build/prune', handler: async (ctx) => {
        const { deleted, reclaimed } = await s.builder.prune();
        ctx.sendJson(200, { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
      },
    },
  ];
}
