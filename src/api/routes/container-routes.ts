import type { Duplex } from 'node:stream';
import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import type { ApiContext } from '../api-context.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { CreateRequest, LogEntry, WaitCondition } from '../../container/index.js';
import { containerInspect, containerSummary } from '../container-wire.js';
import { containerNetWire } from '../network-wire.js';
import { MULTIPLEXED_STREAM, RAW_STREAM, stdcopyFrame } from '../stream-framing.js';
import { DEFAULT_DETACH_KEYS, DetachKeyScanner, parseDetachKeys } from '../detach-keys.js';

/** `since`/`until` as seconds[.nanos] or an RFC3339 time; 0 means unset. */
function timeParam(ctx: ApiContext, key: string): number | undefined {
  const v = ctx.query.string(key);
  if (v === undefined || v === '' || v === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid value for ${key}: ${v}`);
  return t / 1000;
}

function formatEntry(e: LogEntry, opts: { tty: boolean; timestamps: boolean }): Buffer {
  const data = opts.timestamps ? Buffer.concat([Buffer.from(`${e.time} `), e.data]) : e.data;
  return opts.tty ? data : stdcopyFrame(e.stream, data);
}

function abortOnClose(stream: NodeJS.EventEmitter): AbortController {
  const ac = new AbortController();
  stream.once('close', () => ac.abort());
  return ac;
}

export function containerRoutes(s: ApiServices): Route[] {
  const c = s.containers;
  return [
    {
      method: 'POST', path: '/containers/create', handler: async (ctx) => {
        const body = await ctx.json<CreateRequest>();
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('config cannot be empty in order to create a container');
        const name = ctx.query.string('name');
        const res = await c.create(body, name ? { name } : {});
        ctx.sendJson(201, { Id: res.id, Warnings: res.warnings });
      },
    },
    {
      method: 'GET', path: '/containers/json', handler: async (ctx) => {
        const limit = ctx.query.int('limit');
        const list = c.list({ all: ctx.query.bool('all'), ...(limit !== undefined && limit > 0 ? { limit } : {}), filters: ctx.query.filters() });
        const size = ctx.query.bool('size');
        const out = [];
        for (const rec of list) {
          const item = containerSummary(rec, rec.config.Image, containerNetWire(s.network, rec, { apiAtLeast145: ctx.atLeast('1.45') }));
          if (size) {
            item['SizeRw'] = await c.sizeRw(rec.id);
            const img = s.images.store.find(rec.imageId);
            item['SizeRootFs'] = (item['SizeRw'] as number) + (img ? s.images.size(img) : 0);
          }
          out.push(item);
        }
        ctx.sendJson(200, out);
      },
    },
    {
      method: 'GET', path: '/containers/{id}/json', handler: async (ctx) => {
        const rec = c.get(ctx.params['id']!);
        c.noteInspected(rec);
        let sizes: { sizeRw?: number; sizeRootFs?: number } = {};
        if (ctx.query.bool('size')) {
          const rw = await c.sizeRw(rec.id);
          const img = s.images.store.find(rec.imageId);
          sizes = { sizeRw: rw, sizeRootFs: rw + (img ? s.images.size(img) : 0) };
        }
        const driverData = await c.graphDriverData(rec.id);
        const inspect = containerInspect(rec, {
          logPath: c.inspectLogPath(rec),
          hostsPath: c.hostsPath(rec.id),
          hostnamePath: c.hostnamePath(rec.id),
          resolvConfPath: c.resolvConfPath(rec.id),
          graphDriverData: driverData,
          ...sizes,
          net: containerNetWire(s.network, rec, { apiAtLeast145: ctx.atLeast('1.45') }),
        });
        inspect['ExecIDs'] = s.execs.runningIds(rec.id);
        ctx.sendJson(200, inspect);
      },
    },
    {
      method: 'POST', path: '/containers/{id}/start', handler: async (ctx) => {
        await c.start(ctx.params['id']!);
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/stop', handler: async (ctx) => {
        const t = ctx.query.int('t');
        const signal = ctx.query.string('signal');
        await c.stop(ctx.params['id']!, { ...(t !== undefined ? { timeout: t } : {}), ...(signal ? { signal } : {}) });
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/restart', handler: async (ctx) => {
        const t = ctx.query.int('t');
        const signal = ctx.query.string('signal');
        await c.restart(ctx.params['id']!, { ...(t !== undefined ? { timeout: t } : {}), ...(signal ? { signal } : {}) });
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/kill', handler: async (ctx) => {
        await c.kill(ctx.params['id']!, ctx.query.string('signal'));
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/wait', handler: async (ctx) => {
        const cond = ctx.query.string('condition') || 'not-running';
        if (!['not-running', 'next-exit', 'removed'].includes(cond)) {
          throw new InvalidParameterError(`invalid condition: "${cond}"`);
        }
        const ac = new AbortController();
        const conn = ctx.res ?? ctx.upgrade!.socket;
        conn.once('close', () => ac.abort());
        // Register first, then flush headers: the CLI starts the container only once it sees them.
        const result = c.wait(ctx.params['id']!, cond as WaitCondition, ac.signal);
        const out = ctx.startStream('application/json');
        const r = await result;
        if (!ac.signal.aborted) out.end(JSON.stringify(r) + '\n');
      },
    },
    {
      method: 'DELETE', path: '/containers/{id}', handler: async (ctx) => {
        await c.remove(ctx.params['id']!, { force: ctx.query.bool('force'), volumes: ctx.query.bool('v') });
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/rename', handler: (ctx) => {
        const name = ctx.query.string('name');
        if (!name) throw new InvalidParameterError('name cannot be empty');
        c.rename(ctx.params['id']!, name);
        ctx.noContent();
      },
    },
    {
      method: 'POST', path: '/containers/{id}/resize', handler: async (ctx) => {
        const h = ctx.query.int('h') ?? 0, w = ctx.query.int('w') ?? 0;
        if (h < 0 || w < 0) throw new InvalidParameterError('invalid resize dimensions');
        await c.resize(ctx.params['id']!, h, w);
        ctx.send(200);
      },
    },
    {
      method: 'GET', path: '/containers/{id}/logs', handler: async (ctx) => {
        const rec = c.get(ctx.params['id']!);
        const tailRaw = ctx.query.string('tail');
        const tail = tailRaw === undefined || tailRaw === '' || tailRaw === 'all' ? undefined : Number(tailRaw);
        if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new InvalidParameterError(`invalid value for tail: ${tailRaw}`);
        const ac = abortOnClose(ctx.res!);
        const since = timeParam(ctx, 'since');
        const until = timeParam(ctx, 'until');
        const entries = c.logs(rec.id, {
          follow: ctx.query.bool('follow'),
          stdout: ctx.query.bool('stdout'),
          stderr: ctx.query.bool('stderr'),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          ...(tail !== undefined ? { tail } : {}),
          signal: ac.signal,
        });
        const tty = rec.config.Tty;
        const out = ctx.startStream(tty || !ctx.atLeast('1.42') ? RAW_STREAM : MULTIPLEXED_STREAM);
        const timestamps = ctx.query.bool('timestamps');
        const details = ctx.query.bool('details') ? Buffer.from(c.logDetailsPrefix(rec.id)) : undefined;
        try {
          for await (const raw of entries) {
            const e = details ? { ...raw, data: Buffer.concat([details, raw.data]) } : raw;
            if (!out.write(formatEntry(e, { tty, timestamps }))) await new Promise((r) => out.once('drain', r));
          }
        } finally {
          out.end();
        }
      },
    },
    {
      method: 'POST', path: '/containers/{id}/attach', handler: async (ctx) => {
        const rec = c.get(ctx.params['id']!);
        const tty = rec.config.Tty;
        const stream = ctx.query.bool('stream');
        const logs = ctx.query.bool('logs');
        const wantStdin = ctx.query.bool('stdin');
        const scanner = new DetachKeyScanner(parseDetachKeys(ctx.query.string('detachKeys') || DEFAULT_DETACH_KEYS));
        const ac = new AbortController();
        const session = await c.attach(rec.id, {
          stdin: wantStdin, stdout: ctx.query.bool('stdout'), stderr: ctx.query.bool('stderr'), stream, logs, signal: ac.signal,
        });
        const sock: Duplex = await ctx.hijack(tty || !ctx.atLeast('1.42') ? RAW_STREAM : MULTIPLEXED_STREAM);
        sock.once('close', () => ac.abort());
        if (session.stdin) {
          const stdin = session.stdin;
          let detached = false;
          sock.on('data', (chunk: Buffer) => {
            if (detached) return;
            const { forward, detached: hit } = scanner.push(chunk);
            if (hit) {
              // Detach: stop relaying, end the stream, leave the container running.
              detached = true;
              s.events.publish('container', 'detach', rec.id, { ...rec.config.Labels, image: rec.config.Image, name: rec.name });
              ac.abort();
              sock.end();
              return;
            }
            if (!forward.length) return;
            sock.pause();
            stdin.write(forward).then(() => sock.resume(), () => sock.resume());
          });
          sock.once('end', () => stdin.close());
          ac.signal.addEventListener('abort', () => stdin.close(), { once: true });
        } else {
          sock.resume();
        }
        try {
          for await (const e of session.output) {
            if (!sock.writable) break;
            if (!sock.write(formatEntry(e, { tty, timestamps: false }))) await new Promise((r) => sock.once('drain', r));
          }
        } finally {
          if (sock.writable) sock.end();
        }
      },
    },
  ];
}
