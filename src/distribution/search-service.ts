import { InvalidParameterError, NotImplementedError, UnavailableError, errorMessage } from '../common/errors.js';
import type { AuthConfig } from './auth-config.js';
import type { RegistryAccess } from './registry-access.js';
import { readBody, registryError } from './registry-client.js';
import { hostnameOf } from './registry-hosts.js';

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export interface SearchOptions {
  limit?: number;
  filters: Map<string, string[]>;
  auth: AuthConfig;
  signal?: AbortSignal;
}

/** `docker search`: the registry's v1 search API (`/v1/search?q=&n=`), filtered as Docker filters. */
export class SearchService {
  constructor(private readonly access: RegistryAccess) {}

  async search(term: string, opts: SearchOptions): Promise<SearchResult[]> {
    for (const k of opts.filters.keys()) {
      if (!['is-automated', 'is-official', 'stars'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    }
    const limit = opts.limit ?? 25;
    if (limit < 1 || limit > 100) throw new InvalidParameterError(`limit ${limit} is outside the range of [1, 100]`);
    // `host:port/term` searches that registry; a bare term searches docker.io.
    let host = 'docker.io';
    let q = term;
    const slash = term.indexOf('/');
    if (slash > 0) {
      const first = term.slice(0, slash);
      if (first.includes('.') || first.includes(':') || first === 'localhost') {
        host = first;
        q = term.slice(slash + 1);
      }
    }
    const ref = { domain: host, path: 'library/search' };
    const session = this.access.sessions(ref, opts.auth, { push: false })[0]!;
    const base = host === 'docker.io' ? 'https://index.docker.io' : session.baseUrl;
    const url = `${base}/v1/search?q=${encodeURIComponent(q)}&n=${limit}`;
    let res;
    try {
      res = host === 'docker.io'
        ? await session.request('GET', url, opts.signal ? { signal: opts.signal } : {})
        : await session.request('GET', `/v1/search?q=${encodeURIComponent(q)}&n=${limit}`, opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      throw new UnavailableError(`Error response from registry ${hostnameOf(host) === host ? host : host}: ${errorMessage(err)}`, { cause: err });
    }
    if (res.status === 404 || res.status === 405) {
      res.body.resume();
      throw new NotImplementedError(`registry ${host} does not offer a search API (GET /v1/search answered ${res.status})`);
    }
    if (res.status !== 200) throw await registryError(res, 'searching');
    const doc = JSON.parse((await readBody(res.body)).toString('utf8')) as { results?: Array<Partial<SearchResult>> };
    let results: SearchResult[] = (doc.results ?? []).map((r) => ({
      name: r.name ?? '', description: r.description ?? '', star_count: r.star_count ?? 0,
      is_official: r.is_official ?? false, is_automated: r.is_automated ?? false,
    }));
    const stars = opts.filters.get('stars');
    if (stars?.length) {
      const min = Math.max(...stars.map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n)) throw new InvalidParameterError(`invalid filter 'stars=${s}'`);
        return n;
      }));
      results = results.filter((r) => r.star_count >= min);
    }
    for (const key of ['is-official', 'is-automated'] as const) {
      const v = opts.filters.get(key);
      if (v?.length) {
        const want = v[0] === 'true' || v[0] === '1';
        if (!['true', 'false', '1', '0'].includes(v[0]!)) throw new InvalidParameterError(`invalid filter '${key}=${v[0]}'`);
        results = results.filter((r) => (key === 'is-official' ? r.is_official : r.is_automated) === want);
      }
    }
    return results.slice(0, limit);
  }
}
