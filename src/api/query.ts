import { InvalidParameterError } from '../common/errors.js';

/** Typed readers over the query string, with moby's boolean rules (false: "", 0, no, false, none). */
export class Query {
  constructor(private readonly params: URLSearchParams) {}

  has(key: string): boolean {
    return this.params.has(key);
  }

  string(key: string): string | undefined {
    const v = this.params.get(key);
    return v === null ? undefined : v;
  }

  all(key: string): string[] {
    return this.params.getAll(key);
  }

  bool(key: string, dflt = false): boolean {
    const v = this.params.get(key);
    if (v === null) return dflt;
    return !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
  }

  int(key: string): number | undefined {
    const v = this.params.get(key);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || !/^-?\d+$/.test(v.trim())) {
      throw new InvalidParameterError(`invalid value for ${key}: ${JSON.stringify(v)}`);
    }
    return n;
  }

  /** filters={"k":{"v":true}} or legacy {"k":["v"]}; returns key -> values. */
  filters(key = 'filters'): Map<string, string[]> {
    const raw = this.params.get(key);
    const out = new Map<string, string[]>();
    if (raw === null || raw.trim() === '') return out;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new InvalidParameterError(`invalid filter '${raw}'`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new InvalidParameterError(`invalid filter '${raw}'`);
    }
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (Array.isArray(v)) out.set(k, v.map(String));
      else if (v && typeof v === 'object') {
        out.set(k, Object.entries(v as Record<string, unknown>).filter(([, on]) => on === true).map(([name]) => name));
      } else {
        throw new InvalidParameterError(`invalid filter '${raw}'`);
      }
    }
    return out;
  }
}
