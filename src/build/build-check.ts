import { readdir } from 'node:fs/promises';
import type { CheckProblem } from '../common/index.js';
import type { Db } from '../store/index.js';

/**
 * The builder's state: every cache entry names an existing layer and holds a JSON config;
 * scratch layers and context directories of builds cut short are pending (start-up removes them).
 * Returns the scratch layer ids so the layer check does not count them as leaks.
 */
export async function checkBuildState(o: { db: Db; scratchDir: string; tmpRoot: string }): Promise<{ checked: number; problems: CheckProblem[]; scratchLayerIds: Set<string>; topLayers: string[] }> {
  const problems: CheckProblem[] = [];
  const rows = o.db.prepare('SELECT cache_key, config, top_layer FROM build_cache').all() as Array<{ cache_key: string; config: string; top_layer: string | null }>;
  const layers = new Set((o.db.prepare('SELECT chain_id FROM layers WHERE incomplete = 0').all() as Array<{ chain_id: string }>).map((r) => r.chain_id));
  for (const r of rows) {
    const subject = `build cache ${r.cache_key.slice(0, 19)}`;
    if (r.top_layer !== null && !layers.has(r.top_layer)) problems.push({ kind: 'inconsistency', subject, message: `layer ${r.top_layer} is missing` });
    try { JSON.parse(r.config); } catch { problems.push({ kind: 'inconsistency', subject, message: 'config is not JSON' }); }
  }
  const scratchLayerIds = new Set(await readdir(o.scratchDir).catch(() => [] as string[]));
  for (const id of scratchLayerIds) problems.push({ kind: 'pending', subject: `build scratch layer ${id}`, message: 'left by a build cut short' });
  for (const name of await readdir(o.tmpRoot).catch(() => [] as string[])) {
    problems.push({ kind: 'pending', subject: `build context ${name}`, message: 'left by a build cut short' });
  }
  const topLayers = rows.map((r) => r.top_layer).filter((t): t is string => t !== null);
  return { checked: rows.length, problems, scratchLayerIds, topLayers };
}
