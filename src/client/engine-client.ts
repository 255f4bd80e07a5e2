import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ClientRequest } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { EngineError, UnavailableError } from '../common/errors.js';
import { API_VERSION } from '../engine-api/constants.js';
import type {
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  WaitCondition,
  WaitResponse,
} from '../engine-api/container-models.js';
import type { HistoryItem, ImageDeleteItem, ImageInspect, ImageSummary } from '../engine-api/image-models.js';
import type { Info, PingResult, Version } from '../engine-api/system-models.js';
import type { VolumeCreateRequest, VolumeListResponse, VolumePruneResponse, VolumeSummary } from '../engine-api/volume-models.js';
import type { ContainerPathStat, ExecCreateConfig, ExecInspect } from '../engine-api/exec-models.js';
import { parseHostAddress, type HostAddress } from './host-address.js';
import { errorBodyMessage, statusErrors } from './status-errors.js';

export type QueryValue = string | number | boolean | undefined | null | string[];
export type Query = Record<string, QueryValue>;
/** Filters as the CLI collects them: key -> values. Sent as `{"key":{"value":true}}`. */
export type FilterArgs = Map<string, string[]>;

export interface EngineClientOptions {
  /** `unix:///path` or `tcp://host:port`; default unix:///run/berth/berth.sock. */
  host?: string;
  /** A fixed API version (like DOCKER_API_VERSION): skips negotiation. */
  apiVersion?: string;
  /** TLS for a tcp host: `verify` checks the daemon's certificate against `ca` (--tlsverify). */
  tls?: ClientTls;
}

export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  verify: boolean;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /** A request body streamed from this source (sent chunked). */
  stream?: Readable;
}

export interface HijackedStream {
  socket: Duplex;
  contentType: string | undefined;
}

export interface ContainerWait {
  /** Resolves when the response headers arrived (the CLI starts the container only then). */
  ready: Promise<void>;
  result: Promise<WaitResponse>;
  /** Drops the connection (for `run -d`). */
  cancel(): void;
}

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: string;
  until?: string;
  timestamps?: boolean;
  tail?: string;
  details?: boolean;
}

export interface AttachOptions {
  stream?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  logs?: boolean;
  detachKeys?: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Encodes query values as Go's url.Values.Encode does: keys sorted, booleans as `1`. */
export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const key of Object.keys(query).sort()) {
    const v = query[key];
    if (v === undefined || v === null || v === false) continue;
    if (Array.isArray(v)) {
      for (const item of v) params.append(key, item);
    } else if (v === true) {
      params.append(key, '1');
    } else {
      params.append(key, String(v));
    }
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Filters as JSON, `{"label":{"a=b":true}}`; undefined when there are none. */
export function encodeFilters(filters: FilterArgs | undefined): string | undefined {
  if (!filters || filters.size === 0) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, values] of filters) {
    const inner: Record<string, boolean> = (out[k] ??= {});
    for (const v of values) inner[v] = true;
  }
  return JSON.stringify(out);
}

/** Escapes a name for a URL path segment, keeping `/` and `:` as the Go client does. */
function pathPart(s: string): string {
  return s.replace(/[^A-Za-z0-9\-._~/:@!$&'()*+,;=]/g, (c) => encodeURIComponent(c));
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A typed Docker Engine API client over a unix socket or TCP. */
export class EngineClient {
  readonly address: HostAddress;
  private negotiatedVersion: string | undefined;
  private negotiating: Promise<void> | undefined;
  private readonly agent: http.Agent;
  /** What the last ping reported (filled by negotiation). */
  lastPing: PingResult | undefined;

  constructor(options: EngineClientOptions = {}) {
    this.address = parseHostAddress(options.host);
    this.negotiatedVersion = options.apiVersion;
    this.tls = this.address.kind === 'tcp' ? options.tls : undefined;
    this.agent = this.tls ? new https.Agent({ keepAlive: true, ...this.tlsOptions() }) : new http.Agent({ keepAlive: true });
  }

  private readonly tls: ClientTls | undefined;

  private tlsOptions(): https.AgentOptions {
    const t = this.tls;
    if (!t) return {};
    const o: https.AgentOptions = { rejectUnauthorized: t.verify, minVersion: 'TLSv1.2' };
    if (t.ca) o.ca = t.ca;
    if (t.cert) o.cert = t.cert;
    if (t.key) o.key = t.key;
    return o;
  }

  /** http.request or https.request, as the connection needs. */
  private send(options: http.RequestOptions): ClientRequest {
    return this.tls ? https.request({ ...options, ...this.tlsOptions() }) : http.request(options);
  }

  /** The API version in use (after negotiation). */
  get apiVersion(): string | undefined {
    return this.negotiatedVersion;
  }

  close(): void {
    this.agent.destroy();
  }

  private baseOptions(): http.RequestOptions {
    return this.address.kind === 'unix'
      ? { socketPath: this.address.socketPath }
      : { host: this.address.host, port: this.address.port };
  }

  private connectionError(err: unknown): EngineError {
    const code = err && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : '';
    if (code === 'EACCES' || code === 'EPERM') {
      return new UnavailableError(
        `permission denied while trying to connect to the docker API at ${this.address.url}`,
        { cause: err },
      );
    }
    if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'ENOTSOCK') {
      return new UnavailableError(
        `Cannot connect to the Docker daemon at ${this.address.url}. Is the docker daemon running?`,
        { cause: err },
      );
    }
    return new UnavailableError(
      `error during connect: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }

  /** HEAD /_ping (GET as fallback), as the Go client does. */
  async ping(): Promise<PingResult> {
    let res = await this.raw('HEAD', '/_ping', {}, { versioned: false });
    await readBody(res);
    if (res.statusCode !== 200 && res.statusCode !== 500) {
      res = await this.raw('GET', '/_ping', {}, { versioned: false });
      await readBody(res);
    }
    const h = res.headers;
    const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
    const result: PingResult = {
      apiVersion: one(h['api-version']),
      osType: one(h['ostype']),
      experimental: one(h['docker-experimental']) === 'true',
      builderVersion: one(h['builder-version']),
    };
    this.lastPing = result;
    if ((res.statusCode ?? 500) >= 400) {
      throw statusErrors(res.statusCode ?? 500, `request returned ${res.statusCode} for /_ping`);
    }
    return result;
  }

  /** Picks min(our version, the server's) like the docker CLI; no header means 1.24. */
  async negotiate(): Promise<void> {
    if (this.negotiatedVersion) return;
    this.negotiating ??= (async () => {
      const p = await this.ping();
      const server = p.apiVersion || '1.24';
      this.negotiatedVersion = compareVersions(server, API_VERSION) < 0 ? server : API_VERSION;
    })();
    await this.negotiating;
  }

  private async urlPath(path: string, versioned: boolean): Promise<string> {
    if (!versioned) return path;
    await this.negotiate();
    return `/v${this.negotiatedVersion}${path}`;
  }

  private raw(
    method: string,
    path: string,
    opts: RequestOptions,
    extra: { versioned?: boolean; agent?: http.Agent | false; onRequest?: (req: ClientRequest) => void } = {},
  ): Promise<IncomingMessage> {
    return (async () => {
      const full = (await this.urlPath(path, extra.versioned ?? true)) + encodeQuery(opts.query);
      const headers: Record<string, string> = { 'User-Agent': `berth-cli/${API_VERSION}`, ...opts.headers };
      let payload: Buffer | undefined;
      if (opts.body !== undefined && !opts.stream) {
        payload = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
        headers['Content-Type'] ??= 'application/json';
        headers['Content-Length'] = String(payload.length);
      }
      return await new Promise<IncomingMessage>((resolve, reject) => {
        const req = this.send({
          ...this.baseOptions(),
          method,
          path: full,
          headers,
          agent: extra.agent ?? this.agent,
        });
        req.on('error', (err) => reject(this.connectionError(err)));
        req.on('response', resolve);
        extra.onRequest?.(req);
        if (opts.stream) {
          opts.stream.on('error', (err) => req.destroy(err));
          opts.stream.pipe(req);
        } else {
          req.end(payload);
        }
      });
    })();
  }

  /** Sends a request; resolves with the response when the status is below 400, else throws the mapped error. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.raw(method, path, opts);
    const status = res.statusCode ?? 500;
    if (status >= 400) {
      const body = await readBody(res);
      const ct = res.headers['content-type'];
      throw statusErrors(status, errorBodyMessage({
        statusCode: status,
        statusText: res.statusMessage ?? '',
        contentType: Array.isArray(ct) ? ct[0] : ct,
        body,
        route: `${method} ${path}`,
      }));
    }
    return res;
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await readBody(res);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A request whose body is ignored; returns the status (204, or 304 when nothing changed). */
  async empty(method: string, path: string, opts: RequestOptions = {}): Promise<number> {
    const res = await this.request(method, path, opts);
    await readBody(res);
    return res.statusCode ?? 200;
  }

  // --- system ---

  version(): Promise<Version> {
    return this.json<Version>('GET', '/version');
  }

  info(): Promise<Info> {
    return this.json<Info>('GET', '/info');
  }

  // --- images ---

  listImages(opts: { all?: boolean; filters?: FilterArgs; digests?: boolean } = {}): Promise<ImageSummary[]> {
    return this.json<ImageSummary[]>('GET', '/images/json', {
      query: { all: opts.all, filters: encodeFilters(opts.filters), digests: opts.digests },
    });
  }

  inspectImage(name: string): Promise<ImageInspect> {
    return this.json<ImageInspect>('GET', `/images/${pathPart(name)}/json`);
  }

  async tagImage(source: string, target: { repo: string; tag?: string }): Promise<void> {
    await this.empty('POST', `/images/${pathPart(source)}/tag`, { query: { repo: target.repo, tag: target.tag } });
  }

  removeImage(name: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    return this.json<ImageDeleteItem[]>('DELETE', `/images/${pathPart(name)}`, {
      query: { force: opts.force, noprune: opts.noPrune },
    });
  }

  imageHistory(name: string): Promise<HistoryItem[]> {
    return this.json<HistoryItem[]>('GET', `/images/${pathPart(name)}/history`);
  }

  /** POST /images/create?fromSrc=-: streams a tar in, returns the JSON-lines progress response. */
  importImage(opts: { source?: Readable; fromSrc?: string; repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string }): Promise<IncomingMessage> {
    return this.request('POST', '/images/create', {
      query: {
        fromSrc: opts.source ? '-' : opts.fromSrc,
        repo: opts.repo || undefined,
        tag: opts.tag || undefined,
        message: opts.message || undefined,
        changes: opts.changes && opts.changes.length ? opts.changes : undefined,
        platform: opts.platform || undefined,
      },
      headers: { 'Content-Type': 'text/plain' },
      ...(opts.source ? { stream: opts.source } : {}),
    });
  }

  /** POST /build (the classic builder): the context tar streamed in, JSON-lines progress out. */
  build(opts: { context: Readable; query: Query }): Promise<IncomingMessage> {
    return this.request('POST', '/build', {
      query: opts.query,
      headers: { 'Content-Type': 'application/x-tar' },
      stream: opts.context,
    });
  }

  /** POST /images/create?fromImage=: returns the JSON-lines progress response. */
  pullImage(opts: { fromImage: string; tag?: string; platform?: string; registryAuth?: string }): Promise<IncomingMessage> {
    return this.request('POST', '/images/create', {
      query: { fromImage: opts.fromImage, tag: opts.tag || undefined, platform: opts.platform || undefined },
      headers: { 'X-Registry-Auth': opts.registryAuth ?? 'e30=' },
    });
  }

  /** POST /images/{name}/push: the JSON-lines progress response. */
  pushImage(name: string, opts: { tag?: string; registryAuth?: string } = {}): Promise<IncomingMessage> {
    return this.request('POST', `/images/${pathPart(name)}/push`, {
      query: { tag: opts.tag || undefined },
      headers: { 'X-Registry-Auth': opts.registryAuth ?? 'e30=' },
    });
  }

  /** POST /auth: checks credentials with the registry (docker login). */
  registryLogin(auth: { username?: string; password?: string; serveraddress: string }): Promise<{ Status: string; IdentityToken?: string }> {
    return this.json<{ Status: string; IdentityToken?: string }>('POST', '/auth', { body: auth });
  }

  /** GET /images/search. */
  searchImages(term: string, opts: { limit?: number; filters?: FilterArgs; registryAuth?: string } = {}): Promise<Array<{ name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean }>> {
    return this.json('GET', '/images/search', {
      query: { term, limit: opts.limit, filters: encodeFilters(opts.filters) },
      headers: { 'X-Registry-Auth': opts.registryAuth ?? 'e30=' },
    });
  }

  // --- containers ---

  createContainer(body: ContainerCreateRequest, opts: { name?: string; platform?: string } = {}): Promise<ContainerCreateResponse> {
    return this.json<ContainerCreateResponse>('POST', '/containers/create', {
      query: { name: opts.name || undefined, platform: opts.platform || undefined },
      body,
    });
  }

  async startContainer(id: string, opts: { detachKeys?: string } = {}): Promise<{ alreadyStarted: boolean }> {
    const status = await this.empty('POST', `/containers/${pathPart(id)}/start`, {
      query: { detachKeys: opts.detachKeys || undefined },
    });
    return { alreadyStarted: status === 304 };
  }

  async stopContainer(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    await this.empty('POST', `/containers/${pathPart(id)}/stop`, { query: { t: opts.timeout, signal: opts.signal || undefined } });
  }

  async restartContainer(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    await this.empty('POST', `/containers/${pathPart(id)}/restart`, { query: { t: opts.timeout, signal: opts.signal || undefined } });
  }

  async killContainer(id: string, opts: { signal?: string } = {}): Promise<void> {
    await this.empty('POST', `/containers/${pathPart(id)}/kill`, { query: { signal: opts.signal || undefined } });
  }

  async removeContainer(id: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<void> {
    await this.empty('DELETE', `/containers/${pathPart(id)}`, { query: { force: opts.force, v: opts.volumes, link: opts.link } });
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await this.empty('POST', `/containers/${pathPart(id)}/rename`, { query: { name } });
  }

  async resizeContainer(id: string, size: { height: number; width: number }): Promise<void> {
    await this.empty('POST', `/containers/${pathPart(id)}/resize`, { query: { h: size.height, w: size.width } });
  }

  listContainers(opts: { all?: boolean; limit?: number; size?: boolean; filters?: FilterArgs } = {}): Promise<ContainerSummary[]> {
    return this.json<ContainerSummary[]>('GET', '/containers/json', {
      query: {
        all: opts.all,
        limit: opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined,
        size: opts.size,
        filters: encodeFilters(opts.filters),
      },
    });
  }

  inspectContainer(id: string, opts: { size?: boolean } = {}): Promise<ContainerInspect> {
    return this.json<ContainerInspect>('GET', `/containers/${pathPart(id)}/json`, { query: { size: opts.size } });
  }

  /** Raw bytes of inspect (for templates that fall back to the raw JSON). */
  async inspectRaw(kind: 'containers' | 'images', id: string, opts: { size?: boolean } = {}): Promise<string> {
    const res = await this.request('GET', `/${kind}/${pathPart(id)}/json`, { query: { size: opts.size } });
    return readBody(res);
  }

  /** POST /containers/{id}/wait; `ready` resolves once the headers arrive. */
  waitContainer(id: string, opts: { condition?: WaitCondition } = {}): ContainerWait {
    let req: ClientRequest | undefined;
    let markReady!: () => void;
    let failReady!: (err: unknown) => void;
    const ready = new Promise<void>((res, rej) => { markReady = res; failReady = rej; });
    const result = (async () => {
      try {
        const res = await (async () => {
          const r = await this.raw('POST', `/containers/${pathPart(id)}/wait`, {
            query: { condition: opts.condition && opts.condition !== 'not-running' ? opts.condition : undefined },
          }, { agent: false, onRequest: (q) => { req = q; } });
          const status = r.statusCode ?? 500;
          if (status >= 400) {
            const body = await readBody(r);
            const ct = r.headers['content-type'];
            throw statusErrors(status, errorBodyMessage({
              statusCode: status, statusText: r.statusMessage ?? '',
              contentType: Array.isArray(ct) ? ct[0] : ct, body, route: 'POST /containers/wait',
            }));
          }
          return r;
        })();
        markReady();
        const text = await readBody(res);
        return JSON.parse(text) as WaitResponse;
      } catch (err) {
        failReady(err);
        throw err;
      }
    })();
    ready.catch(() => undefined);
    return {
      ready,
      result,
      cancel: () => {
        result.catch(() => undefined);
        req?.destroy();
      },
    };
  }

  logs(id: string, opts: LogsOptions): Promise<IncomingMessage> {
    return this.request('GET', `/containers/${pathPart(id)}/logs`, {
      query: {
        follow: opts.follow,
        since: opts.since || undefined,
        until: opts.until || undefined,
        stdout: opts.stdout,
        stderr: opts.stderr,
        timestamps: opts.timestamps,
        tail: opts.tail || undefined,
        details: opts.details,
      },
    });
  }

  /** POST /containers/{id}/attach with `Upgrade: tcp`; resolves with the raw socket after 101. */
  attachContainer(id: string, opts: AttachOptions): Promise<HijackedStream> {
    return this.hijack('POST', `/containers/${pathPart(id)}/attach`, {
      query: {
        stream: opts.stream ?? true,
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
        logs: opts.logs,
        detachKeys: opts.detachKeys || undefined,
      },
      headers: { 'Content-Type': 'text/plain' },
    });
  }

  // --- exec ---

  async createExec(container: string, config: ExecCreateConfig): Promise<string> {
    return (await this.json<{ Id: string }>('POST', `/containers/${pathPart(container)}/exec`, { body: config })).Id;
  }

  /** Starts an exec detached (200, no stream). */
  async startExecDetached(id: string, opts: { tty: boolean; consoleSize?: [number, number] }): Promise<void> {
    await this.empty('POST', `/exec/${pathPart(id)}/start`, { body: { Detach: true, Tty: opts.tty, ...(opts.consoleSize ? { ConsoleSize: opts.consoleSize } : {}) } });
  }

  /** Starts an exec attached: the hijacked stream carries its output and input. */
  startExecAttached(id: string, opts: { tty: boolean; consoleSize?: [number, number] }): Promise<HijackedStream> {
    return this.hijack('POST', `/exec/${pathPart(id)}/start`, { body: { Detach: false, Tty: opts.tty, ...(opts.consoleSize ? { ConsoleSize: opts.consoleSize } : {}) } });
  }

  async resizeExec(id: string, size: { height: number; width: number }): Promise<void> {
    await this.empty('POST', `/exec/${pathPart(id)}/resize`, { query: { h: size.height, w: size.width } });
  }

  inspectExec(id: string): Promise<ExecInspect> {
    return this.json<ExecInspect>('GET', `/exec/${pathPart(id)}/json`);
  }

  // --- top / pause / update / events ---

  topContainer(id: string, psArgs?: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    return this.json('GET', `/containers/${pathPart(id)}/top`, { query: { ps_args: psArgs || undefined } });
  }

  async pauseContainer(id: string): Promise<void> {
    await this.empty('POST', `/containers/${pathPart(id)}/pause`);
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.empty('POST', `/containers/${pathPart(id)}/unpause`);
  }

  updateContainer(id: string, body: Record<string, unknown>): Promise<{ Warnings: string[] | null }> {
    return this.json('POST', `/containers/${pathPart(id)}/update`, { body });
  }

  /** GET /events: the response streams one JSON event per line. */
  events(opts: { since?: string; until?: string; filters?: FilterArgs } = {}): Promise<IncomingMessage> {
    return this.request('GET', '/events', { query: { since: opts.since || undefined, until: opts.until || undefined, filters: encodeFilters(opts.filters) } });
  }

  // --- archive (cp) ---

  /** HEAD /containers/{id}/archive: the stat of a path, or undefined when it does not exist. */
  async statContainerPath(id: string, path: string): Promise<ContainerPathStat | undefined> {
    const res = await this.raw('HEAD', `/containers/${pathPart(id)}/archive`, { query: { path } });
    await readBody(res);
    if (res.statusCode === 404) {
      // A missing container is an error; a missing path is an answer.
      await this.inspectContainer(id);
      return undefined;
    }
    if ((res.statusCode ?? 500) >= 400) throw statusErrors(res.statusCode ?? 500, `request returned ${res.statusCode} for HEAD ${path}`);
    return decodePathStat(res.headers['x-docker-container-path-stat']);
  }

  /** GET /containers/{id}/archive: a tar of the path and its stat. */
  async getArchive(id: string, path: string): Promise<{ stat: ContainerPathStat | undefined; tar: IncomingMessage }> {
    const res = await this.request('GET', `/containers/${pathPart(id)}/archive`, { query: { path } });
    return { stat: decodePathStat(res.headers['x-docker-container-path-stat']), tar: res };
  }

  /** PUT /containers/{id}/archive: extracts a tar into the directory at path. */
  async putArchive(id: string, path: string, tar: Readable, opts: { copyUIDGID?: boolean; noOverwriteDirNonDir?: boolean } = {}): Promise<void> {
    const res = await this.request('PUT', `/containers/${pathPart(id)}/archive`, {
      query: { path, noOverwriteDirNonDir: opts.noOverwriteDirNonDir ?? true, copyUIDGID: opts.copyUIDGID || undefined },
      headers: { 'Content-Type': 'application/x-tar' },
      stream: tar,
    });
    await readBody(res);
  }

  /** Any hijacked endpoint: sends `Connection: Upgrade`, `Upgrade: tcp`, expects 101. */
  async hijack(method: string, path: string, opts: RequestOptions): Promise<HijackedStream> {
    const full = (await this.urlPath(path, true)) + encodeQuery(opts.query);
    const headers: Record<string, string> = {
      'User-Agent': `berth-cli/${API_VERSION}`,
      ...opts.headers,
      Connection: 'Upgrade',
      Upgrade: 'tcp',
    };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
      headers['Content-Type'] ??= 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    return await new Promise<HijackedStream>((resolve, reject) => {
      const req = this.send({ ...this.baseOptions(), method, path: full, headers, agent: false });
      req.on('error', (err) => reject(this.connectionError(err)));
      req.on('upgrade', (res, socket, head) => {
        if (head && head.length) socket.unshift(head);
        const ct = res.headers['content-type'];
        resolve({ socket, contentType: Array.isArray(ct) ? ct[0] : ct });
      });
      req.on('response', (res) => {
        void readBody(res).then((body) => {
          const status = res.statusCode ?? 500;
          if (status >= 400) {
            const ct = res.headers['content-type'];
            reject(statusErrors(status, errorBodyMessage({
              statusCode: status, statusText: res.statusMessage ?? '',
              contentType: Array.isArray(ct) ? ct[0] : ct, body, route: `${method} ${path}`,
            })));
          } else {
            reject(new EngineError(`unable to upgrade to tcp, received ${status}`));
          }
        }, reject);
      });
      req.end(payload);
    });
  }

  // ---- volumes -------------------------------------------------------------------------------

  createVolume(body: VolumeCreateRequest): Promise<VolumeSummary> {
    return this.json<VolumeSummary>('POST', '/volumes/create', { body });
  }

  listVolumes(opts: { filters?: FilterArgs } = {}): Promise<VolumeListResponse> {
    return this.json<VolumeListResponse>('GET', '/volumes', { query: { filters: encodeFilters(opts.filters) } });
  }

  async inspectVolumeRaw(name: string): Promise<string> {
    const res = await this.request('GET', `/volumes/${pathPart(name)}`);
    return readBody(res);
  }

  async removeVolume(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.empty('DELETE', `/volumes/${pathPart(name)}`, { query: { force: opts.force } });
  }

  /**
   * POST /<kind>/prune (containers, images, networks, build): the JSON answer, or undefined when
   * the daemon has no such endpoint.
   */
  async prune(kind: 'containers' | 'images' | 'networks' | 'build', query: Query = {}): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.json<Record<string, unknown>>('POST', `/${kind}/prune`, { query });
    } catch (err) {
      if (err instanceof EngineError && err.message === 'page not found') return undefined;
      throw err;
    }
  }

  pruneVolumes(opts: { filters?: FilterArgs } = {}): Promise<VolumePruneResponse> {
    return this.json<VolumePruneResponse>('POST', '/volumes/prune', { query: { filters: encodeFilters(opts.filters) } });
  }
}

function decodePathStat(v: string | string[] | undefined): ContainerPathStat | undefined {
  const h = Array.isArray(v) ? v[0] : v;
  if (!h) return undefined;
  try {
    return JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as ContainerPathStat;
  } catch {
    return undefined;
  }
}
