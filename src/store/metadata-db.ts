import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

/**
 * Schema migrations, applied in order; the index + 1 is the schema version (PRAGMA user_version).
 * Rows being created carry `incomplete = 1` until their files are in place; start-up sweeps them.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent TEXT REFERENCES layers(chain_id),
    cache_id TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL DEFAULT 0,
    incomplete INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE TABLE images (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    top_layer TEXT REFERENCES layers(chain_id),
    created_at TEXT NOT NULL,
    last_tag_time TEXT
  );
  CREATE TABLE refs (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id)
  );
  CREATE INDEX refs_image ON refs(image_id);
  CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL,
    incomplete INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX containers_image ON containers(image_id);
  `,
  // Volumes (the local driver's metadata; the data lives under <data-root>/volumes/<name>/_data).
  `
  CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    created_at TEXT NOT NULL,
    labels TEXT,
    options TEXT,
    anonymous INTEGER NOT NULL DEFAULT 0
  );
  `,
  // The builder's layer cache: a step's key -> the exact image config it produced.
  `
  CREATE TABLE IF NOT EXISTS build_cache (
    cache_key TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    top_layer TEXT,
    created_at TEXT NOT NULL
  );
  `,
  // Networks, container memberships (the ip column is the lease) and run sandboxes (ports).
  `
  CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS network_endpoints (
    container_id TEXT NOT NULL,
    network_id TEXT NOT NULL,
    config TEXT NOT NULL,
    ip TEXT,
    mac TEXT,
    iface TEXT,
    PRIMARY KEY (container_id, network_id)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS network_leases ON network_endpoints(network_id, ip);
  CREATE INDEX IF NOT EXISTS network_endpoints_network ON network_endpoints(network_id);
  CREATE TABLE IF NOT EXISTS network_sandboxes (
    container_id TEXT PRIMARY KEY,
    netns TEXT NOT NULL,
    ports TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0
  );
  `,
  // Registry metadata: the manifest digests an image is known by (RepoDigests, name@sha256:..),
  // and which compressed blob in which repository holds each layer (so a push of a pulled image
  // sends the very same blobs, and can mount or skip them).
  `
  CREATE TABLE IF NOT EXISTS repo_digests (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS repo_digests_image ON repo_digests(image_id);
  CREATE TRIGGER IF NOT EXISTS repo_digests_image_gone AFTER DELETE ON images
  BEGIN DELETE FROM repo_digests WHERE image_id = old.id; END;
  CREATE TABLE IF NOT EXISTS layer_blobs (
    diff_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    PRIMARY KEY (diff_id, digest, registry, repository)
  );
  CREATE INDEX IF NOT EXISTS layer_blobs_digest ON layer_blobs(digest);
  `,
  // When each build cache entry was last used, how often, and the entry it was built on.
  `
  CREATE TABLE IF NOT EXISTS build_cache_usage (
    cache_key TEXT PRIMARY KEY,
    parent_state TEXT,
    last_used_at TEXT NOT NULL,
    usage_count INTEGER NOT NULL
  );
  `,
  // IPv6 leases of endpoints on IPv6 networks, while their containers' sandboxes are up.
  `
  CREATE TABLE IF NOT EXISTS network_endpoint_ipv6 (
    container_id TEXT NOT NULL,
    network_id TEXT NOT NULL,
    ip6 TEXT NOT NULL,
    PRIMARY KEY (container_id, network_id)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS network_leases_ipv6 ON network_endpoint_ipv6(network_id, ip6);
  `,
];

export function openMetadataDb(path: string): Db {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
