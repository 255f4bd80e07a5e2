import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { PathStat } from '../../container/index.js';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function statHeader(stat: PathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

function pathParam(q: { string(k: string): string | undefined }): string {
  const p = q.string('path');
  if (!p) throw new InvalidParameterError('path must not be empty');
  return p;
}

export function archiveRoutes(s: ApiServices): Route[] {
  const a = s.archives;
  return [
    {
      method: 'HEAD', path: '/containers/{id}/archive', handler: async (ctx) => {
        const stat = await a.stat(ctx.params['id']!, pathParam(ctx.query));
        ctx.res?.setHeader(STAT_HEADER, statHeader(stat));
        ctx.send(200);
      },
    },
    {
      method: 'GET', path: '/containers/{id}/archive', handler: async (ctx) => {
        const { stat, tar } = await a.get(ctx.params['id']!, pathParam(ctx.query));
        ctx.res?.setHeader(STAT_HEADER, statHeader(stat));
        const out = ctx.startStream('application/x-tar');
        ctx.res?.once('close', () => tar.destroy());
        try {
          for await (const chunk of tar) {
            if (!out.write(chunk as Buffer)) await new Promise((r) => out.once('drain', r));
          }
        } finally {
          out.end();
        }
      },
    },
    {
      method: 'PUT', path: '/containers/{id}/archive', handler: async (ctx) => {
        await a.put(ctx.params['id']!, pathParam(ctx.query), ctx.req, {
          noOverwriteDirNonDir: ctx.query.bool('noOverwriteDirNonDir'),
          copyUIDGID: ctx.query.bool('copyUIDGID'),
        });
        ctx.send(200);
      },
    },
  ];
}
