import type { IncomingMessage, ServerResponse } from 'node:http';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { InvalidParameterError } from '../common/errors.js';
import { Query } from './query.js';

export const API_VERSION = '1.44';
export const MIN_API_VERSION = '1.24';

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Headers moby sends on every response. */
export function commonHeaders(serverVersion: string): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Docker/${serverVersion} (linux)`,
  };
}

/**
 * One request as handlers see it. Exactly one of `res` (ordinary request) or `upgrade`
 * (a request that asked for `Upgrade: tcp`) is set; the reply helpers cover both.
 */
export class ApiContext {
  readonly query: Query;
  private bodyCache: Buffer | undefined;
  private replied = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse | undefined,
    readonly upgrade: { socket: Duplex; head: Buffer } | undefined,
    readonly params: Record<string, string>,
    readonly version: string,
    url: URL,
    private readonly extraHeaders: Record<string, string>,
  ) {
    this.query = new Query(url.searchParams);
  }

  get hasReplied(): boolean {
    return this.replied || (this.res?.headersSent ?? false);
  }

  /** True when the request's API version is at least v. */
  atLeast(v: string): boolean {
    return compareVersions(this.version, v) >= 0;
  }

  /**
   * The request body as a stream a service may destroy on failure without cutting the connection:
   * the rest of the upload is then read and dropped, so the client still gets its error answer.
   */
  bodyStream(): Readable {
    const out = new PassThrough();
    this.req.pipe(out);
    out.on('close', () => {
      this.req.unpipe(out);
      if (!this.req.readableEnded) this.req.resume();
    });
    return out;
  }

  async body(): Promise<Buffer> {
    if (this.bodyCache) return this.bodyCache;
    if (this.upgrade) {
      this.bodyCache = await readUpgradeBody(this.req, this.upgrade);
      return this.bodyCache;
    }
    const chunks: Buffer[] = [];
    for await (const c of this.req) chunks.push(c as Buffer);
    this.bodyCache = Buffer.concat(chunks);
    return this.bodyCache;
  }

  /** The JSON body, or undefined when it is empty or `null`. Bad JSON is a 400. */
  async json<T>(): Promise<T | undefined> {
    const raw = (await this.body()).toString('utf8').trim();
    if (raw === '' || raw === 'null') return undefined;
    try {
      return JSON.parse(raw) as T;
    } catch (err) {
      throw new InvalidParameterError(`invalid JSON: ${(err as Error).message}`, { cause: err });
    }
  }

  send(status: number, body?: string | Buffer, contentType?: string): void {
    this.replied = true;
    const headers: Record<string, string> = { ...this.extraHeaders };
    if (body !== undefined && status !== 204 && status !== 304) {
      if (contentType) headers['Content-Type'] = contentType;
      headers['Content-Length'] = String(Buffer.byteLength(body));
    } else {
      body = undefined;
    }
    if (this.res) {
      this.res.writeHead(status, headers);
      this.res.end(body);
      return;
    }
    const sock = this.upgrade!.socket;
    let head = `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (body === undefined) head += 'Content-Length: 0\r\n';
    head += 'Connection: close\r\n\r\n';
    sock.write(head);
    sock.end(body);
  }

  sendJson(status: number, value: unknown): void {
    this.send(status, JSON.stringify(value) + '\n', 'application/json');
  }

  noContent(): void {
    this.send(204);
  }

  /**
   * Starts a stream response: headers go out at once (clients wait for them, e.g. /wait), then
   * the caller writes chunks. Returns the writable side.
   */
  startStream(contentType: string, status = 200): NodeJS.WritableStream & { flushHeaders?: () => void } {
    this.replied = true;
    if (this.res) {
      this.res.writeHead(status, { ...this.extraHeaders, 'Content-Type': contentType });
      this.res.flushHeaders();
      return this.res;
    }
    const sock = this.upgrade!.socket;
    let head = `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: ${contentType}\r\n`;
    for (const [k, v] of Object.entries(this.extraHeaders)) head += `${k}: ${v}\r\n`;
    head += 'Connection: close\r\n\r\n';
    sock.write(head);
    return sock;
  }

  /**
   * Takes over the connection for a bidirectional raw stream: 101 UPGRADED when the client asked
   * for it, else a raw 200 (moby does the same). Bytes that followed the body are unshifted.
   */
  async hijack(contentType: string): Promise<Duplex> {
    this.replied = true;
    if (this.upgrade) {
      await this.body();
      const sock = this.upgrade.socket;
      let head = `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n`;
      for (const [k, v] of Object.entries(this.extraHeaders)) head += `${k}: ${v}\r\n`;
      sock.write(head + '\r\n');
      return sock;
    }
    // No upgrade asked (dockerode's default, curl): an ordinary streamed response; the
    // request body, if still open, is the input side.
    const res = this.res!;
    res.writeHead(200, { ...this.extraHeaders, 'Content-Type': contentType });
    res.flushHeaders();
    const duplex = Duplex.from({ readable: this.req, writable: res });
    // A client that goes away ends the stream; it is not a daemon error (and must not crash it).
    duplex.on('error', () => undefined);
    return duplex;
  }
}

async function readUpgradeBody(req: IncomingMessage, up: { socket: Duplex; head: Buffer }): Promise<Buffer> {
  const len = Number(req.headers['content-length'] ?? 0);
  if (!len) return Buffer.alloc(0);
  let buf = up.head;
  up.head = Buffer.alloc(0);
  while (buf.length < len) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (c: Buffer): void => { cleanup(); resolve(c); };
      const onEnd = (): void => { cleanup(); resolve(null); };
      const cleanup = (): void => { up.socket.off('data', onData); up.socket.off('end', onEnd); up.socket.pause(); };
      up.socket.on('data', onData);
      up.socket.on('end', onEnd);
      up.socket.resume();
    });
    if (chunk === null) break;
    buf = Buffer.concat([buf, chunk]);
  }
  const body = buf.subarray(0, len);
  const rest = buf.subarray(len);
  if (rest.length) up.socket.unshift(rest);
  return body;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
};

function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Status';
}
