import type { CheckProblem } from '../common/index.js';
import { chainIdOf, sha256Digest, type Digest } from '../common/ids.js';
import type { BlobStore, Db } from '../store/index.js';

interface ImageRow {
  id: string;
  config: string;
  top_layer: string | null;
}

/** Config blobs are small; larger blobs are layers or other content this check does not own. */
const CONFIG_BLOB_MAX = 4 << 20;

/** True when the blob parses as an image config (its `rootfs` names layers). */
export async function isImageConfigBlob(blobs: BlobStore, digest: Digest): Promise<boolean> {
  try {
    if ((await blobs.size(digest)) > CONFIG_BLOB_MAX) return false;
    const doc = JSON.parse((await blobs.get(digest)).toString('utf8')) as { rootfs?: { type?: unknown } };
    return typeof doc === 'object' && doc !== null && doc.rootfs?.type === 'layers';
  } catch {
    return false;
  }
}

/**
 * Image rows against the content store and the layer rows: the config bytes hash to the id, the
 * config blob is present and identical, the top layer exists and matches rootfs.diff_ids; every
 * reference names an image; config blobs without an image row leak.
 */
export async function checkImages(o: { db: Db; blobs: BlobStore }): Promise<{ checked: number; problems: CheckProblem[] }> {
  const problems: CheckProblem[] = [];
  const rows = o.db.prepare('SELECT id, config, top_layer FROM images').all() as ImageRow[];
  const layers = new Set((o.db.prepare('SELECT chain_id FROM layers WHERE incomplete = 0').all() as Array<{ chain_id: string }>).map((r) => r.chain_id));
  for (const r of rows) {
    const subject = `image ${r.id}`;
    if (sha256Digest(r.config) !== r.id) problems.push({ kind: 'inconsistency', subject, message: 'stored config does not hash to the image id' });
    try {
      const blob = await o.blobs.get(r.id as Digest);
      if (sha256Digest(blob) !== r.id) problems.push({ kind: 'inconsistency', subject, message: 'config blob does not hash to the image id' });
    } catch {
      problems.push({ kind: 'inconsistency', subject, message: 'config blob is missing' });
    }
    let diffIds: string[] = [];
    try {
      diffIds = (JSON.parse(r.config) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
    } catch {
      problems.push({ kind: 'inconsistency', subject, message: 'config is not JSON' });
    }
    if (chainIdOf(diffIds) !== r.top_layer) problems.push({ kind: 'inconsistency', subject, message: 'rootfs.diff_ids do not match the top layer' });
    if (r.top_layer !== null && !layers.has(r.top_layer)) problems.push({ kind: 'inconsistency', subject, message: `top layer ${r.top_layer} is missing` });
  }
  const ids = new Set(rows.map((r) => r.id));
  for (const ref of o.db.prepare('SELECT name, image_id FROM refs').all() as Array<{ name: string; image_id: string }>) {
    if (!ids.has(ref.image_id)) problems.push({ kind: 'inconsistency', subject: `reference ${ref.name}`, message: `points at missing image ${ref.image_id}` });
  }
  for (const d of await o.blobs.list()) {
    if (!ids.has(d) && await isImageConfigBlob(o.blobs, d)) problems.push({ kind: 'leak', subject: `blob ${d}`, message: 'image config blob without an image' });
  }
  for (const s of await o.blobs.strays()) problems.push({ kind: 'pending', subject: `content ${s}`, message: 'temporary file of an unfinished write' });
  return { checked: rows.length, problems };
}

/** Start-up: removes image config blobs whose image row never appeared or is gone (a crash between the two). */
export async function sweepOrphanConfigBlobs(o: { db: Db; blobs: BlobStore }): Promise<number> {
  const ids = new Set((o.db.prepare('SELECT id FROM images').all() as Array<{ id: string }>).map((r) => r.id));
  let removed = 0;
  for (const d of await o.blobs.list()) {
    if (ids.has(d) || !(await isImageConfigBlob(o.blobs, d))) continue;
    await o.blobs.remove(d);
    removed++;
  }
  return removed;
}

/** The top layers images stand on. */
export function imageTopLayers(db: Db): string[] {
  return (db.prepare('SELECT DISTINCT top_layer FROM images WHERE top_layer IS NOT NULL').all() as Array<{ top_layer: string }>).map((r) => r.top_layer);
}
