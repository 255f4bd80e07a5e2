import type { ChainId } from '../common/ids.js';
import type { Db } from '../store/index.js';

export interface CacheEntry {
  config: string;
  topLayer: ChainId | null;
}

/** The builder's layer cache in the metadata DB: it survives daemon restarts. */
export class BuildCache {
  constructor(private readonly db: Db) {}

  find(key: string): CacheEntry | undefined {
    const row = this.db.prepare('SELECT config, top_layer FROM build_cache WHERE cache_key = ?').get(key) as { config: string; top_layer: string | null } | undefined;
    return row ? { config: row.config, topLayer: row.top_layer as ChainId | null } : undefined;
  }

  put(key: string, entry: CacheEntry): void {
    this.db.prepare('INSERT OR REPLACE INTO build_cache (cache_key, config, top_layer, created_at) VALUES (?, ?, ?, ?)')
      .run(key, entry.config, entry.topLayer, new Date().toISOString());
  }

  remove(key: string): void {
    this.db.prepare('DELETE FROM build_cache WHERE cache_key = ?').run(key);
  }

  /** Drops every entry; returns the keys removed. */
  clear(): string[] {
    const keys = (this.db.prepare('SELECT cache_key FROM build_cache').all() as Array<{ cache_key: string }>).map((r) => r.cache_key);
    this.db.prepare('DELETE FROM build_cache').run();
    return keys;
  }

  /** Distinct top layers the entries point at. */
  tops(): ChainId[] {
    return (this.db.prepare('SELECT DISTINCT top_layer FROM build_cache WHERE top_layer IS NOT NULL').all() as Array<{ top_layer: string }>).map((r) => r.top_layer as ChainId);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM build_cache').get() as { n: number }).n;
  }
}
