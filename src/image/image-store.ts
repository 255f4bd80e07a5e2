import type { Db } from '../store/metadata-db.js';
import { NotFoundError, InvalidParameterError } from '../common/errors.js';
import { sha256Digest, type ChainId, type ImageId } from '../common/ids.js';
import type { ImageConfig } from './image-config.js';
import { parseReference, withDefaultTag, formatReference } from '../common/reference.js';

export interface ImageRecord {
  id: ImageId;
  /** The exact config bytes whose sha256 is the id. */
  configJson: string;
  config: ImageConfig;
  topLayer: ChainId | null;
  createdAt: string;
  lastTagTime: string | null;
}

interface ImageRow {
  id: string;
  config: string;
  top_layer: string | null;
  created_at: string;
  last_tag_time: string | null;
}

function toRecord(row: ImageRow): ImageRecord {
  return {
    id: row.id as ImageId,
    configJson: row.config,
    config: JSON.parse(row.config) as ImageConfig,
    topLayer: row.top_layer as ChainId | null,
    createdAt: row.created_at,
    lastTagTime: row.last_tag_time,
  };
}

/** Images by config digest and the references (canonical names) pointing at them. */
export class ImageStore {
  constructor(private readonly db: Db) {}

  /** Stores an image config; idempotent (the same bytes give the same id). */
  create(configJson: string, topLayer: ChainId | null): ImageId {
    const id = sha256Digest(configJson) as string as ImageId;
    this.db
      .prepare('INSERT OR IGNORE INTO images (id, config, top_layer, created_at) VALUES (?, ?, ?, ?)')
      .run(id, configJson, topLayer, new Date().toISOString());
    return id;
  }

  find(id: string): ImageRecord | undefined {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  get(id: string): ImageRecord {
    const rec = this.find(id);
    if (!rec) throw new NotFoundError(`No such image: ${id}`);
    return rec;
  }

  list(): ImageRecord[] {
    return (this.db.prepare('SELECT * FROM images ORDER BY created_at DESC').all() as ImageRow[]).map(toRecord);
  }

  /**
   * Turns what a user typed into an image id: a reference (busybox, busybox:1, docker.io/x/y@sha256:..),
   * a full id (sha256:<hex> or bare hex), or a unique id prefix. Undefined when nothing matches.
   */
  findByName(name: string): ImageRecord | undefined {
    const hexId = /^(?:sha256:)?([0-9a-f]{64})$/.exec(name);
    if (hexId) return this.find(`sha256:${hexId[1]}`);
    let canonical: string | undefined;
    try {
      canonical = formatReference(withDefaultTag(parseReference(name)));
    } catch {
      canonical = undefined;
    }
    if (canonical) {
      const table = canonical.includes('@') ? 'repo_digests' : 'refs';
      const row = this.db.prepare(`SELECT image_id FROM ${table} WHERE name = ?`).get(canonical.replace(/:[^/@]+@/, '@')) as { image_id: string } | undefined;
      if (row) return this.find(row.image_id);
    }
    const prefix = /^(?:sha256:)?([0-9a-f]{1,63})$/.exec(name);
    if (prefix) {
      const rows = this.db.prepare("SELECT id FROM images WHERE id LIKE ? LIMIT 2").all(`sha256:${prefix[1]}%`) as { id: string }[];
      if (rows.length === 1) return this.find(rows[0]!.id);
    }
    return undefined;
  }

  resolve(name: string): ImageRecord {
    const rec = this.findByName(name);
    if (!rec) throw new NotFoundError(`No such image: ${name}`);
    return rec;
  }

  /** Points the canonical reference at the image; returns the image it pointed at before, if any. */
  tag(id: ImageId, canonicalRef: string): string | undefined {
    return this.db.transaction(() => {
      const prev = this.db.prepare('SELECT image_id FROM refs WHERE name = ?').get(canonicalRef) as { image_id: string } | undefined;
      this.db.prepare('INSERT INTO refs (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id').run(canonicalRef, id);
      this.db.prepare('UPDATE images SET last_tag_time = ? WHERE id = ?').run(new Date().toISOString(), id);
      return prev?.image_id;
    })();
  }

  untag(canonicalRef: string): void {
    const info = this.db.prepare('DELETE FROM refs WHERE name = ?').run(canonicalRef);
    if (info.changes === 0) throw new NotFoundError(`No such image: ${canonicalRef}`);
  }

  findRef(canonicalRef: string): ImageId | undefined {
    const row = this.db.prepare('SELECT image_id FROM refs WHERE name = ?').get(canonicalRef) as { image_id: string } | undefined;
    return row?.image_id as ImageId | undefined;
  }

  refsOf(id: string): string[] {
    return (this.db.prepare('SELECT name FROM refs WHERE image_id = ? ORDER BY name').all(id) as { name: string }[]).map((r) => r.name);
  }

  allRefs(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.db.prepare('SELECT name, image_id FROM refs ORDER BY name').all() as { name: string; image_id: string }[]) {
      const list = out.get(r.image_id) ?? [];
      list.push(r.name);
      out.set(r.image_id, list);
    }
    return out;
  }

  /** Records that `repo@digest` (canonical) names the image (a manifest pulled or pushed). */
  addRepoDigest(id: ImageId, canonicalDigestRef: string): void {
    this.db.prepare('INSERT INTO repo_digests (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id').run(canonicalDigestRef, id);
  }

  removeRepoDigest(canonicalDigestRef: string): void {
    this.db.prepare('DELETE FROM repo_digests WHERE name = ?').run(canonicalDigestRef);
  }

  /** Canonical `repo@sha256:..` names of the image. */
  repoDigestsOf(id: string): string[] {
    return (this.db.prepare('SELECT name FROM repo_digests WHERE image_id = ? ORDER BY name').all(id) as { name: string }[]).map((r) => r.name);
  }

  /** Deletes the image row (refs must be gone). Returns its top layer for the caller to release. */
  delete(id: string): ChainId | null {
    return this.db.transaction(() => {
      const rec = this.get(id);
      const refs = this.refsOf(id);
      if (refs.length) throw new InvalidParameterError(`image ${id} still has references`);
      this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
      return rec.topLayer;
    })();
  }

  /** Is another image stacked on this chain (a child sharing the top layer)? */
  countUsingLayer(chainId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM images WHERE top_layer = ?').get(chainId) as { n: number }).n;
  }
}
