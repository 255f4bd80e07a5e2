import type { ChainId } from '../common/ids.js';
import type { Db } from '../store/index.js';

export interface CacheEntry {
  config: string;
  topLayer: ChainId | null;
}

/** An entry as `system df` lists it. */
export interface CacheRow extends CacheEntry {
  key: string;
  createdAt: string;
  lastUsedAt: string | undefined;
  usageCount: number;
  /** Id of the build state the entry's step ran on. */
  parentState: string | undefined;
}

/** The builder's layer cache in the metadata DB: it survives daemon restarts. */
export class BuildCache {
  constructor(private readonly db: Db) {}

  find(key: string): CacheEntry | undefined {
    const row = this.db.prepare('SELECT config, top_layer FROM build_cache WHERE cache_key = ?').get(key) as { config: string; top_layer: string | null } | undefined;
    return row ? { config: row.config, topLayer: row.top_layer as ChainId | null } : undefined;
  }

  put(key: string, entry: CacheEntry, parentState?: string): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO build_cache (cache_key, config, top_layer, created_at) VALUES (?, ?, ?, ?)')
        .run(key, entry.config, entry.topLayer, now);
      this.db.prepare('INSERT OR REPLACE INTO build_cache_usage (cache_key, parent_state, last_used_at, usage_count) VALUES (?, ?, ?, 1)')
        .run(key, parentState ?? null, now);
    })();
  }

  /** Counts a cache hit. */
  touch(key: string): void {
    const now = new Date().toISOString();
    const r = this.db.prepare('UPDATE build_cache_usage SET last_used_at = ?, usage_count = usage_count + 1 WHERE cache_key = ?').run(now, key);
    if (r.changes === 0) this.db.prepare('INSERT OR REPLACE INTO build_cache_usage (cache_key, parent_state, last_used_at, usage_count) VALUES (?, NULL, ?, 1)').run(key, now);
  }

  remove(key: string): void {
    this.db.prepare('DELETE FROM build_cache WHERE cache_key = ?').run(key);
    this.db.prepare('DELETE FROM build_cache_usage WHERE cache_key = ?').run(key);
  }

  /** Every entry with its usage, oldest first. */
  rows(): CacheRow[] {
    const rows = this.db.prepare(`SELECT c.cache_key, c.config, c.top_layer, c.created_at, u.parent_state, u.last_used_at, u.usage_count
      FROM build_cache c LEFT JOIN build_cache_usage u ON u.cache_key = c.cache_key ORDER BY c.created_at, c.cache_key`).all() as Array<{
      cache_key: string; config: string; top_layer: string | null; created_at: string; parent_state: string | null; last_used_at: string | null; usage_count: number | null;
    }>;
    return rows.map((r) => ({
      key: r.cache_key, config: r.config, topLayer: r.top_layer as ChainId | null, createdAt: r.created_at,
      lastUsedAt: r.last_used_at ?? undefined, usageCount: r.usage_count ?? 0, parentState: r.parent_state ?? undefined,
    }));
  }

  /** Drops every entry; returns the keys removed. */
  clear(): string[] {
    const keys = (this.db.prepare('SELECT cache_key FROM build_cache').all() as Array<{ cache_key: string }>).map((r) => r.cache_key);
    this.db.prepare('DELETE FROM build_cache').run();
    this.db.prepare('DELETE FROM build_cache_usage').run();
    return keys;
  }

  /** Distinct top layers the entries point at. */
  tops(): ChainId[] {
    return (this.db.prepare('SELECT DISTINCT top_layer FROM build_cache WHERE top_layer IS NOT NULL').all() as Array<{ top_layer: string }>).map((r) => r.top_layer as ChainId);
  }

  /** Drops the entries standing on a layer that was deleted. */
  removeByLayer(chainId: ChainId): void {
    this.db.prepare('DELETE FROM build_cache WHERE top_layer = ?').run(chainId);
  }

  /** Drops entries whose layer no longer exists (start-up); returns how many. */
  removeStale(): number {
    return this.db.prepare('DELETE FROM build_cache WHERE top_layer IS NOT NULL AND top_layer NOT IN (SELECT chain_id FROM layers WHERE incomplete = 0)').run().changes;
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM build_cache').get() as { n: number }).n;
  }
}
