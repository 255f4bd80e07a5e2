import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { chmodSync, chownSync, rmSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { ApiContext, API_VERSION, MIN_API_VERSION, commonHeaders, compareVersions } from './api-context.js';
import { statusForError } from './error-table.js';

export type Handler = (ctx: ApiContext) => Promise<void> | void;

export interface Route {
  method: string;
  /** `/containers/{id}/json`; `{name*}` matches across slashes (image names). */
  path: string;
  handler: Handler;
}

interface CompiledRoute {
  method: string;
  re: RegExp;
  keys: string[];
  handler: Handler;
}

function compile(route: Route): CompiledRoute {
  const keys: string[] = [];
  const src = route.path.replace(/[.]/g, '\\.').replace(/\{(\w+)(\*?)\}/g, (_m, key: string, star: string) => {
    keys.push(key);
    return star ? '(.+)' : '([^/]+)';
  });
  return { method: route.method, re: new RegExp(`^${src}/?$`), keys, handler: route.handler };
}

const VERSIONED = /^\/v([0-9][0-9.]*)(\/.*)$/;

export interface ApiServerOptions {
  routes: Route[];
  logger: Logger;
  serverVersion: string;
}

/** The HTTP side of berthd: routing, version checks, one error handler, hijack plumbing. */
export class ApiServer {
  private readonly routes: CompiledRoute[];
  private readonly servers: Server[] = [];
  /** Hijacked connections: the HTTP server no longer tracks them, shutdown must end them. */
  private readonly upgraded = new Set<Duplex>();
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: ApiServerOptions) {
    this.routes = opts.routes.map(compile);
    this.headers = commonHeaders(opts.serverVersion);
  }

  /** Listens on a unix socket with mode 0660, group `berth` when that group exists. */
  async listenUnix(path: string): Promise<void> {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) rmSync(path);
    const server = this.createHttpServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o660);
    const gid = groupId('berth');
    if (gid !== undefined) chownSync(path, 0, gid);
    this.servers.push(server);
  }

  /**
   * Listens on TCP, with TLS when `tls` is given; `tls.ca` set means only clients presenting a
   * certificate signed by that CA get in (--tlsverify).
   */
  async listenTcp(host: string, port: number, tls?: { cert: Buffer; key: Buffer; ca?: Buffer }): Promise<void> {
    const options = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000 };
    const server: Server = tls
      ? createTlsServer({
        ...options, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2',
        ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
      }) as unknown as Server
      : createServer(options);
    this.attachHandlers(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.servers.push(server);
  }

  /** Serves on a listening socket inherited from systemd (socket activation). */
  async listenFd(fd: number): Promise<void> {
    const server = this.createHttpServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => resolve());
    });
    this.servers.push(server);
  }

  /** Stops listening and ends every connection, hijacked ones included. */
  async close(): Promise<void> {
    const closed = Promise.all(
      this.servers.map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      })),
    );
    for (const sock of this.upgraded) sock.destroy();
    this.upgraded.clear();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  private createHttpServer(): Server {
    const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000 });
    this.attachHandlers(server);
    return server;
  }

  private attachHandlers(server: Server): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.dispatch(req, res, undefined).catch((err: unknown) => this.lastResort(err, res));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      this.dispatch(req, undefined, { socket, head }).catch((err: unknown) => { this.lastResort(err, undefined); socket.destroy(); });
    });
    server.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }

  /** A failure outside the handlers' error path must cost one request, never the daemon. */
  private lastResort(err: unknown, res: ServerResponse | undefined): void {
    this.opts.logger.error('request failed', { err: errorMessage(err) });
    if (res && !res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'application/json' }).end(`${JSON.stringify({ message: errorMessage(err) })}\n`);
    } else {
      res?.destroy();
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse | undefined, upgrade: { socket: Duplex; head: Buffer } | undefined): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://berth');
    let path = url.pathname;
    let version = API_VERSION;
    const m = VERSIONED.exec(path);
    if (m) {
      version = m[1]!;
      path = m[2]!;
    }
    const method = req.method ?? 'GET';
    let params: Record<string, string> = {};
    let route: CompiledRoute | undefined;
    let badEscape: string | undefined;
    for (const r of this.routes) {
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET' && !this.hasHead(path))) continue;
      const mm = r.re.exec(path);
      if (!mm) continue;
      route = r;
      try {
        params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(mm[i + 1]!)]));
      } catch {
        badEscape = mm.slice(1).find((p) => { try { decodeURIComponent(p); return false; } catch { return true; } }) ?? path;
      }
      break;
    }
    const ctx = new ApiContext(req, res, upgrade, params, version, url, this.headers);
    if (upgrade) upgrade.socket.on('error', () => undefined);
    try {
      if (m && compareVersions(version, MIN_API_VERSION) < 0) {
        ctx.sendJson(400, { message: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version` });
        return;
      }
      if (m && compareVersions(version, API_VERSION) > 0) {
        ctx.sendJson(400, { message: `client version ${version} is too new. Maximum supported API version is ${API_VERSION}` });
        return;
      }
      if (!route) {
        ctx.sendJson(404, { message: 'page not found' });
        return;
      }
      if (badEscape !== undefined) {
        ctx.sendJson(400, { message: `invalid URL escape ${JSON.stringify(badEscape.slice(0, 64))}` });
        return;
      }
      const t0 = performance.now();
      await route.handler(ctx);
      this.opts.logger.debug('request', { method, path: url.pathname, ms: (performance.now() - t0).toFixed(1) });
    } catch (err) {
      const status = statusForError(err);
      if (status >= 500) this.opts.logger.error('handler failed', { method, path: url.pathname, err: errorMessage(err) });
      if (!ctx.hasReplied) {
        if (status === 304) ctx.send(304);
        else ctx.sendJson(status, { message: errorMessage(err) });
      } else if (res && !res.writableEnded) {
        res.end();
      } else if (upgrade && upgrade.socket.writable) {
        upgrade.socket.end();
      }
    }
  }

  private hasHead(path: string): boolean {
    return this.routes.some((r) => r.method === 'HEAD' && r.re.test(path));
  }
}

function groupId(name: string): number | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined) return Number(f[2]);
    }
  } catch {
    /* no /etc/group: root only */
  }
  return undefined;
}
