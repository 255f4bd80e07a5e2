import type { Route } from '../api-server.js';
import { reportIsClean, type CheckReport } from '../../common/index.js';

/**
 * `GET /_berth/check`: the consistency check on the running daemon (berth's own endpoint, not in
 * the Engine API). 200 with `{Clean, Checked, Problems:[{Kind,Subject,Message}]}` either way.
 */
export function checkRoutes(s: { check: () => Promise<CheckReport> }): Route[] {
  return [{
    method: 'GET',
    path: '/_berth/check',
    handler: async (ctx) => {
      const r = await s.check();
      ctx.sendJson(200, {
        Clean: reportIsClean(r),
        Checked: r.checked,
        Problems: r.problems.map((p) => ({ Kind: p.kind, Subject: p.subject, Message: p.message })),
      });
    },
  }];
}
