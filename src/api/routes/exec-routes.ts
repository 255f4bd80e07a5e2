import type { Duplex } from 'node:stream';
import type { Route } from '../api-server.js';
import type { ApiServices } from '../api-services.js';
import { InvalidParameterError, errorMessage } from '../../common/errors.js';
import type { ExecCreateRequest, ExecInstance, ExecSession } from '../../container/index.js';
import { MULTIPLEXED_STREAM, RAW_STREAM, stdcopyFrame } from '../stream-framing.js';
import { DEFAULT_DETACH_KEYS, DetachKeyScanner, parseDetachKeys } from '../detach-keys.js';

interface ExecStartRequest {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

/** The wire shape of `GET /exec/{id}/json`. */
export function execInspect(ex: ExecInstance): Record<string, unknown> {
  const [entrypoint, ...args] = ex.config.cmd;
  return {
    ID: ex.id,
    Running: ex.running,
    ExitCode: ex.exitCode,
    ProcessConfig: {
      tty: ex.config.tty,
      entrypoint: entrypoint ?? '',
      arguments: args,
      privileged: ex.config.privileged,
      user: ex.config.user,
    },
    OpenStdin: ex.config.attachStdin,
    OpenStderr: ex.config.attachStderr,
    OpenStdout: ex.config.attachStdout,
    CanRemove: false,
    ContainerID: ex.containerId,
    DetachKeys: ex.config.detachKeys,
    Pid: ex.pid,
  };
}

function consoleSize(v: unknown): [number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [h, w] = v as unknown[];
  if (typeof h !== 'number' || typeof w !== 'number' || h < 0 || w < 0) throw new InvalidParameterError('invalid ConsoleSize');
  return [h, w];
}

/** Relays the socket to the exec's stdin, watching for the detach keys. */
function pumpStdin(sock: Duplex, session: ExecSession, keys: string, onDetach: () => void): void {
  const stdin = session.stdin;
  if (!stdin) { sock.resume(); return; }
  const scanner = new DetachKeyScanner(parseDetachKeys(keys || DEFAULT_DETACH_KEYS));
  let detached = false;
  sock.on('data', (chunk: Buffer) => {
    if (detached) return;
    const { forward, detached: hit } = scanner.push(chunk);
    if (hit) {
      detached = true;
      stdin.close();
      onDetach();
      return;
    }
    if (!forward.length) return;
    sock.pause();
    stdin.write(forward).then(() => sock.resume(), () => sock.resume());
  });
  sock.once('end', () => stdin.close());
  sock.once('close', () => stdin.close());
  // Reading the request body may have paused the socket; the listener alone would not resume it.
  sock.resume();
}

export function execRoutes(s: ApiServices): Route[] {
  const execs = s.execs;
  return [
    {
      method: 'POST', path: '/containers/{id}/exec', handler: async (ctx) => {
        const body = await ctx.json<ExecCreateRequest>();
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('No exec command specified');
        if (!ctx.atLeast('1.42')) delete body.ConsoleSize;
        const ex = execs.create(ctx.params['id']!, body);
        ctx.sendJson(201, { Id: ex.id });
      },
    },
    {
      method: 'POST', path: '/exec/{id}/start', handler: async (ctx) => {
        const body = (await ctx.json<ExecStartRequest>()) ?? {};
        const id = ctx.params['id']!;
        const size = ctx.atLeast('1.42') ? consoleSize(body.ConsoleSize) : undefined;
        const { ex } = execs.checkStartable(id);
        if (body.Detach) {
          await execs.start(id, { detach: true, ...(size ? { consoleSize: size } : {}) });
          ctx.send(200);
          return;
        }
        const tty = ex.config.tty;
        const ac = new AbortController();
        const sock: Duplex = await ctx.hijack(tty || !ctx.atLeast('1.42') ? RAW_STREAM : MULTIPLEXED_STREAM);
        sock.once('close', () => ac.abort());
        let session: ExecSession;
        try {
          session = await execs.start(id, { detach: false, signal: ac.signal, ...(size ? { consoleSize: size } : {}) });
        } catch (err) {
          // After the upgrade the error can only go into the stream, as Docker does.
          const text = Buffer.from(`${errorMessage(err)}\r\n`);
          if (sock.writable) sock.end(tty ? text : stdcopyFrame('stdout', text));
          return;
        }
        pumpStdin(sock, session, ex.config.detachKeys, () => { ac.abort(); sock.end(); });
        try {
          for await (const e of session.output) {
            if (!sock.writable) break;
            const data = tty ? e.data : stdcopyFrame(e.stream, e.data);
            if (!sock.write(data)) await new Promise((r) => sock.once('drain', r));
          }
          if (!ac.signal.aborted) await session.exited;
        } finally {
          if (sock.writable) sock.end();
        }
      },
    },
    {
      method: 'POST', path: '/exec/{id}/resize', handler: async (ctx) => {
        const h = ctx.query.int('h') ?? 0, w = ctx.query.int('w') ?? 0;
        if (h < 0 || w < 0) throw new InvalidParameterError('invalid resize dimensions');
        await execs.resize(ctx.params['id']!, h, w);
        ctx.send(200);
      },
    },
    {
      method: 'GET', path: '/exec/{id}/json', handler: (ctx) => {
        ctx.sendJson(200, execInspect(execs.get(ctx.params['id']!)));
      },
    },
  ];
}
