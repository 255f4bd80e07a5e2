import { request as httpRequest, type IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  EngineError, ForbiddenError, InvalidParameterError, NotFoundError, SystemError, UnauthorizedError, UnavailableError, errorMessage,
} from '../common/errors.js';
import { parseChallenges, type AuthChallenge } from './auth-challenge.js';
import type { AuthConfig } from './auth-config.js';
import type { Endpoint, RegistryHosts } from './registry-hosts.js';

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL finally answered (after redirects). */
  url: string;
}

/** An error answered by a registry: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":".."}]}`. */
export class RegistryError extends EngineError {
  constructor(message: string, readonly status: number, readonly code: string | undefined) {
    super(message);
  }
}

interface CachedToken { token: string; expires: number }

/** Tokens by realm, service, account and scope set, shared by every session of the daemon. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (t.expires <= Date.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }
  clear(): void {
    this.tokens.clear();
  }
  set(key: string, token: string, ttlSeconds: number): void {
    // Renew a little before the registry's expiry.
    this.tokens.set(key, { token, expires: Date.now() + Math.max(10, ttlSeconds - 10) * 1000 });
  }
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Sent as Content-Length when the body is a stream. */
  contentLength?: number;
  signal?: AbortSignal;
  /** Retry transient failures (network, 5xx, 429); false for requests whose body is a stream. */
  retry?: boolean;
}

const TRANSIENT = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);

export function isTransient(err: unknown): boolean {
  if (err instanceof RegistryError) return err.status >= 500 || err.status === 429 || err.status === 408;
  if (err instanceof EngineError) return false;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT.has(code)) return true;
  return /socket hang up|premature close|aborted/i.test(errorMessage(err));
}

export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(t); reject(signal!.reason as Error); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn`, retrying transient failures with exponential back-off. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: { attempts?: number; baseMs?: number; signal?: AbortSignal; onRetry?: (err: unknown, attempt: number) => void } = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  for (let i = 0; ; i++) {
    try {
      return await fn(i);
    } catch (err) {
      if (i + 1 >= attempts || !isTransient(err) || opts.signal?.aborted) throw err;
      opts.onRetry?.(err, i + 1);
      await sleep((opts.baseMs ?? 250) * 2 ** i, opts.signal);
    }
  }
}

export async function readBody(res: IncomingMessage, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new InvalidParameterError(`registry response larger than ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Turns a registry error response into an error carrying the registry's code and words. */
export async function registryError(res: RegistryResponse, what: string): Promise<RegistryError> {
  let text = '';
  try {
    text = (await readBody(res.body, 1 << 20)).toString('utf8');
  } catch {
    /* keep the status only */
  }
  let code: string | undefined;
  let message = '';
  try {
    const doc = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }>; details?: string };
    const e = doc.errors?.[0];
    if (e) {
      code = e.code;
      const codeWords = (e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ');
      message = `${codeWords}: ${e.message ?? codeWords}`;
    } else if (doc.details) {
      message = doc.details;
    }
  } catch {
    /* not JSON */
  }
  if (!message) message = `${what}: unexpected status from ${res.url}: ${res.status} ${statusText(res.status)}`;
  return new RegistryError(message, res.status, code);
}

export function statusText(status: number): string {
  const t: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 416: 'Requested Range Not Satisfiable', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };
  return t[status] ?? '';
}

/** One HTTP exchange, redirects followed (Authorization dropped when the host changes). */
export function rawRequest(method: string, url: string, agentFor: (url: string) => Endpoint['agent'], opts: RequestOptions & { redirects?: number }): Promise<RegistryResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const fn = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { 'User-Agent': 'berth', ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = String(opts.body.length);
    else if (opts.body && opts.contentLength !== undefined) headers['Content-Length'] = String(opts.contentLength);
    const req = fn(u, { method, headers, agent: agentFor(url), ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      const loc = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && loc && (opts.redirects ?? 0) < 5) {
        res.resume();
        const next = new URL(loc, url);
        const h = { ...opts.headers };
        if (next.host !== u.host) delete h['Authorization'];
        const m = status === 303 ? 'GET' : method;
        rawRequest(m, next.toString(), agentFor, { ...opts, headers: h, redirects: (opts.redirects ?? 0) + 1 }).then(resolve, reject);
        return;
      }
      resolve({ status, headers: res.headers, body: res, url });
    });
    req.on('error', reject);
    if (Buffer.isBuffer(opts.body)) req.end(opts.body);
    else if (opts.body) {
      opts.body.on('error', (err) => req.destroy(err));
      opts.body.pipe(req);
    } else req.end();
  });
}

/** Which access a session needs: `repository:library/busybox:pull,push`. */
export function repositoryScope(path: string, actions: string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

/**
 * Talks to one registry endpoint for one set of scopes and credentials: pings `/v2/`, learns the
 * auth scheme, fetches and caches bearer tokens, retries transient failures.
 */
export class RegistrySession {
  private challenge: AuthChallenge | undefined;
  private pinged = false;
  private base: string;
  private triedHttp = false;

  constructor(
    private readonly hosts: RegistryHosts,
    readonly endpoint: Endpoint,
    private readonly auth: AuthConfig,
    private readonly scopes: string[],
    private readonly tokens: TokenCache,
  ) {
    this.base = endpoint.url;
  }

  get baseUrl(): string {
    return this.base;
  }

  private agentFor = (url: string): Endpoint['agent'] => {
    const u = new URL(url);
    if (u.host === new URL(this.base).host) return this.hosts.agentFor(url, this.endpoint.allowHttpFallback);
    return this.hosts.agentFor(url, this.hosts.isInsecure(u.host));
  };

  private pinging: Promise<void> | undefined;

  /**
   * GET /v2/: learns the challenge; falls back to plain HTTP for insecure registries. Requests
   * running at once share one ping (a second HTTPS attempt must not race the fallback).
   */
  ping(signal?: AbortSignal): Promise<void> {
    if (this.pinged) return Promise.resolve();
    this.pinging ??= this.pingOnce(signal).finally(() => { this.pinging = undefined; });
    return this.pinging;
  }

  private async pingOnce(signal?: AbortSignal): Promise<void> {
    if (this.pinged) return;
    let res: RegistryResponse;
    try {
      res = await withRetry(() => rawRequest('GET', `${this.base}/v2/`, this.agentFor, signal ? { signal } : {}), signal ? { signal, attempts: 2 } : { attempts: 2 });
    } catch (err) {
      if (this.endpoint.allowHttpFallback && !this.triedHttp) {
        this.triedHttp = true;
        this.base = this.base.replace(/^https:/, 'http:');
        return this.pingOnce(signal);
      }
      throw new UnavailableError(`Get "${this.base}/v2/": ${errorMessage(err)}`, { cause: err });
    }
    res.body.resume();
    if (res.status === 400 && this.endpoint.allowHttpFallback && !this.triedHttp && this.base.startsWith('https:')) {
      // An HTTP server answering a TLS hello with 400 is caught by the error branch above; a
      // registry behind a plain proxy may also say 400 here.
      this.triedHttp = true;
      this.base = this.base.replace(/^https:/, 'http:');
      return this.pingOnce(signal);
    }
    if (res.status === 401) {
      const all = parseChallenges(res.headers['www-authenticate']);
      this.challenge = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    } else if (res.status >= 500) {
      throw new UnavailableError(`Get "${this.base}/v2/": ${res.status} ${statusText(res.status)}`);
    }
    this.pinged = true;
  }

  private hasCredentials(): boolean {
    return !!(this.auth.username && this.auth.password) || !!this.auth.identitytoken || !!this.auth.registrytoken;
  }

  private async authorization(signal?: AbortSignal, extraScopes: string[] = []): Promise<string | undefined> {
    if (this.auth.registrytoken) return `Bearer ${this.auth.registrytoken}`;
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') {
      if (!this.hasCredentials()) return undefined;
      return `Basic ${Buffer.from(`${this.auth.username ?? ''}:${this.auth.password ?? ''}`).toString('base64')}`;
    }
    if (c.scheme === 'bearer') {
      const token = await this.fetchToken([...this.scopes, ...extraScopes], signal);
      return `Bearer ${token}`;
    }
    return undefined;
  }

  /** The bearer token flow: GET realm?service=&scope= (basic credentials when we have them). */
  async fetchToken(scopes: string[], signal?: AbortSignal, opts: { fresh?: boolean } = {}): Promise<string> {
    const c = this.challenge!;
    const realm = c.params['realm'];
    if (!realm) throw new UnauthorizedError('unauthorized: the registry gave no token realm');
    const uniq = [...new Set(scopes)].sort();
    const secret = createHash('sha256').update(`${this.auth.username ?? ''}:${this.auth.password ?? ''}`).digest('hex');
    const key = `${realm}|${c.params['service'] ?? ''}|${secret}|${uniq.join(' ')}`;
    const cached = opts.fresh ? undefined : this.tokens.get(key);
    if (cached) return cached;
    const u = new URL(realm);
    if (c.params['service']) u.searchParams.set('service', c.params['service']);
    for (const s of uniq) u.searchParams.append('scope', s);
    if (this.auth.username) u.searchParams.set('account', this.auth.username);
    const headers: Record<string, string> = {};
    if (this.auth.username && this.auth.password) {
      headers['Authorization'] = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}`;
    }
    const res = await withRetry(
      () => rawRequest('GET', u.toString(), this.agentFor, { headers, ...(signal ? { signal } : {}) }),
      signal ? { signal } : {},
    ).catch((err: unknown) => {
      throw new UnavailableError(`Get "${realm}": ${errorMessage(err)}`, { cause: err });
    });
    if (res.status !== 200) {
      const err = await registryError(res, 'fetching token');
      if (res.status === 401) {
        throw new UnauthorizedError(`Get "${this.base}/v2/": ${/incorrect|unauthorized/i.test(err.message) ? err.message : 'unauthorized: incorrect username or password'}`);
      }
      throw err;
    }
    const body = JSON.parse((await readBody(res.body)).toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new UnauthorizedError('unauthorized: the token server gave no token');
    this.tokens.set(key, token, body.expires_in ?? 60);
    return token;
  }

  /** Checks that the credentials are accepted (POST /auth). */
  async verifyLogin(signal?: AbortSignal): Promise<void> {
    await this.ping(signal);
    const c = this.challenge;
    if (!c) return;
    if (c.scheme === 'bearer') {
      await this.fetchToken([], signal, { fresh: true });
      return;
    }
    const authz = await this.authorization(signal);
    const res = await rawRequest('GET', `${this.base}/v2/`, this.agentFor, { headers: authz ? { Authorization: authz } : {}, ...(signal ? { signal } : {}) });
    res.body.resume();
    if (res.status === 401) throw new UnauthorizedError(`login attempt to ${this.base}/v2/ failed with status: 401 Unauthorized`);
    if (res.status >= 400) throw new UnavailableError(`login attempt to ${this.base}/v2/ failed with status: ${res.status} ${statusText(res.status)}`);
  }

  /**
   * A request to a path under the endpoint (`/v2/...`) or an absolute URL the registry gave
   * (upload locations). Authorized, retried when transient and the body can be re-sent.
   */
  async request(method: string, pathOrUrl: string, opts: RequestOptions & { extraScopes?: string[] } = {}): Promise<RegistryResponse> {
    await this.ping(opts.signal);
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl}`;
    const canRetry = opts.retry !== false && !(opts.body && !Buffer.isBuffer(opts.body));
    let renewed = false;
    const once = async (): Promise<RegistryResponse> => {
      const authz = await this.authorization(opts.signal, opts.extraScopes);
      const headers = { ...opts.headers, ...(authz ? { Authorization: authz } : {}) };
      const res = await rawRequest(method, url, this.agentFor, { ...opts, headers });
      if (res.status >= 500 || res.status === 429) {
        throw await registryError(res, `${method} ${url}`);
      }
      if (res.status === 401 && this.challenge?.scheme === 'basic' && !this.hasCredentials()) {
        res.body.resume();
        throw new UnauthorizedError(`${method === 'HEAD' ? 'Head' : method === 'GET' ? 'Get' : method} "${url}": no basic auth credentials`);
      }
      if (res.status === 401 && this.challenge?.scheme === 'bearer' && !renewed && canRetry) {
        // The token may have expired or lacked a scope: ask for a fresh one once.
        renewed = true;
        res.body.resume();
        const all = parseChallenges(res.headers['www-authenticate']);
        const b = all.find((c) => c.scheme === 'bearer');
        if (b) this.challenge = { scheme: 'bearer', params: { ...this.challenge.params, ...b.params, scope: '' } };
        this.tokens.clear();
        return once();
      }
      return res;
    };
    try {
      return canRetry ? await withRetry(once, opts.signal ? { signal: opts.signal } : {}) : await once();
    } catch (err) {
      if (err instanceof EngineError) throw err;
      if (opts.signal?.aborted) throw err;
      throw new UnavailableError(`${method} "${url}": ${errorMessage(err)}`, { cause: err });
    }
  }

}

/** Maps a registry's refusal to the engine error class clients branch on. */
export function asEngineError(err: RegistryError): EngineError {
  if (err.status === 401) return new UnauthorizedError(err.message, { cause: err });
  if (err.status === 403) return new ForbiddenError(err.message, { cause: err });
  if (err.status === 404) return new NotFoundError(err.message, { cause: err });
  if (err.status >= 500) return new UnavailableError(err.message, { cause: err });
  return new SystemError(err.message, { cause: err });
}
