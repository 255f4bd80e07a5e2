import type { CheckProblem } from '../common/index.js';
import type { Db } from '../store/index.js';
import type { GraphDriver } from './graph-driver.js';

interface Row {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  cache_id: string;
  incomplete: number;
}

export interface LayerCheckOptions {
  db: Db;
  driver: GraphDriver;
  /** Driver ids that are not image layers but are known: containers' rw layers, build scratch layers. */
  rwLayerIds: ReadonlySet<string>;
  /** Top layers something stands on (images, containers' images, the build cache); with their parents, the rest leak. */
  referencedTops: ReadonlySet<string>;
}

/** The chain ids reachable from `tops` through parents. */
export function layerClosure(db: Db, tops: Iterable<string>): Set<string> {
  const parentOf = new Map((db.prepare('SELECT chain_id, parent FROM layers').all() as Array<{ chain_id: string; parent: string | null }>)
    .map((r) => [r.chain_id, r.parent]));
  const out = new Set<string>();
  for (const top of tops) {
    for (let id: string | null | undefined = top; id && !out.has(id); id = parentOf.get(id)) out.add(id);
  }
  return out;
}

/**
 * Layer rows against the graph driver: every complete layer's parent is a complete layer and its
 * files exist; incomplete rows are pending (swept at start-up); driver dirs nothing refers to leak.
 */
export async function checkLayers(o: LayerCheckOptions): Promise<{ checked: number; problems: CheckProblem[] }> {
  const problems: CheckProblem[] = [];
  const rows = o.db.prepare('SELECT chain_id, diff_id, parent, cache_id, incomplete FROM layers').all() as Row[];
  const complete = new Map(rows.filter((r) => r.incomplete === 0).map((r) => [r.chain_id, r]));
  for (const r of rows) {
    const subject = `layer ${r.chain_id}`;
    if (r.incomplete !== 0) {
      problems.push({ kind: 'pending', subject, message: 'incomplete registration or removal' });
      continue;
    }
    if (!/^sha256:[0-9a-f]{64}$/.test(r.chain_id) || !/^sha256:[0-9a-f]{64}$/.test(r.diff_id)) {
      problems.push({ kind: 'inconsistency', subject, message: `malformed chain id or diff id (${r.diff_id})` });
    }
    if (r.parent !== null && !complete.has(r.parent)) {
      problems.push({ kind: 'inconsistency', subject, message: `parent layer ${r.parent} is missing` });
    }
    if (!(await o.driver.exists(r.cache_id))) {
      problems.push({ kind: 'inconsistency', subject, message: `files ${r.cache_id} are missing from ${o.driver.name}` });
    }
  }
  const reachable = layerClosure(o.db, o.referencedTops);
  for (const r of complete.values()) {
    if (!reachable.has(r.chain_id)) problems.push({ kind: 'leak', subject: `layer ${r.chain_id}`, message: 'no image, container or build cache entry uses this layer' });
  }
  const known = new Set(rows.map((r) => r.cache_id));
  for (const id of await o.driver.ids()) {
    if (known.has(id) || o.rwLayerIds.has(id)) continue;
    problems.push({ kind: 'leak', subject: `${o.driver.name} ${id}`, message: 'layer files that no layer or container refers to' });
  }
  for (const id of o.rwLayerIds) {
    if (!(await o.driver.exists(id))) {
      problems.push({ kind: 'inconsistency', subject: `rw layer ${id}`, message: `read-write layer missing from ${o.driver.name}` });
    }
  }
  return { checked: rows.length, problems };
}
