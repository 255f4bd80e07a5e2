import type { CheckProblem } from '../common/index.js';
import type { Digest } from '../common/ids.js';
import { isImageConfigBlob } from '../image/index.js';
import type { BlobStore, Db } from '../store/index.js';
import { BlobRecords } from './blob-records.js';

/**
 * Content blobs that nothing accounts for: not an image's config (those belong to the image
 * check), and not a compressed layer blob recorded for a layer (pulled or pushed). What a pull
 * cut short by a crash leaves.
 */
async function unrecordedBlobs(o: { db: Db; blobs: BlobStore }): Promise<Digest[]> {
  const recorded = new BlobRecords(o.db).knownDigests();
  const images = new Set((o.db.prepare('SELECT id FROM images').all() as Array<{ id: string }>).map((r) => r.id));
  const out: Digest[] = [];
  for (const d of await o.blobs.list()) {
    if (recorded.has(d) || images.has(d) || await isImageConfigBlob(o.blobs, d)) continue;
    out.push(d);
  }
  return out;
}

/**
 * The consistency check's part for layer blobs. Offline they are `pending` (the next start
 * removes them); online, with no pull under way, a leak.
 */
export async function checkLayerBlobs(o: { db: Db; blobs: BlobStore; offline: boolean }): Promise<{ checked: number; problems: CheckProblem[] }> {
  const left = await unrecordedBlobs(o);
  return {
    checked: new BlobRecords(o.db).knownDigests().size,
    problems: left.map((d) => ({ kind: o.offline ? 'pending' as const : 'leak' as const, subject: `blob ${d}`, message: 'layer blob that no layer holds (left by an interrupted pull)' })),
  };
}

/** Start-up (no pull runs yet): removes the blobs an interrupted pull left. */
export async function sweepUnrecordedBlobs(o: { db: Db; blobs: BlobStore }): Promise<number> {
  const left = await unrecordedBlobs(o);
  for (const d of left) await o.blobs.remove(d);
  return left.length;
}
