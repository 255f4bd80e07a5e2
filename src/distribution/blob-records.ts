import type { Db } from '../store/index.js';

export interface LayerBlob {
  diffId: string;
  digest: string;
  mediaType: string;
  size: number;
  /** Registry host (docker.io, localhost:5000); empty for a blob made locally. */
  registry: string;
  repository: string;
}

/** Which compressed blobs hold each layer, and in which repositories they are known to exist. */
export class BlobRecords {
  constructor(private readonly db: Db) {}

  add(b: LayerBlob): void {
    this.db
      .prepare('INSERT OR IGNORE INTO layer_blobs (diff_id, digest, media_type, size, registry, repository) VALUES (?, ?, ?, ?, ?, ?)')
      .run(b.diffId, b.digest, b.mediaType, b.size, b.registry, b.repository);
  }

  forDiffId(diffId: string): LayerBlob[] {
    const rows = this.db.prepare('SELECT * FROM layer_blobs WHERE diff_id = ? ORDER BY rowid DESC').all(diffId) as Array<{
      diff_id: string; digest: string; media_type: string; size: number; registry: string; repository: string;
    }>;
    return rows.map((r) => ({ diffId: r.diff_id, digest: r.digest, mediaType: r.media_type, size: r.size, registry: r.registry, repository: r.repository }));
  }

  /** Digests of every recorded blob (for garbage collection of the blob store). */
  knownDigests(): Set<string> {
    return new Set((this.db.prepare('SELECT DISTINCT digest FROM layer_blobs').all() as { digest: string }[]).map((r) => r.digest));
  }

  removeDiffId(diffId: string): void {
    this.db.prepare('DELETE FROM layer_blobs WHERE diff_id = ?').run(diffId);
  }
}
