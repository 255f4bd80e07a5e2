import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataDb } from '../../../src/store/metadata-db.js';
import { BlobStore } from '../../../src/store/blob-store.js';
import { BlobRecords } from '../../../src/distribution/blob-records.js';
import { checkLayerBlobs, sweepUnrecordedBlobs } from '../../../src/distribution/layer-blob-check.js';

test('layer blobs no record holds: pending offline, a leak online, removed by the start-up sweep; recorded blobs and configs stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-blobcheck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openMetadataDb(join(dir, 'berth.db'));
  t.after(() => db.close());
  const blobs = new BlobStore(join(dir, 'content'));
  const config = await blobs.ingest(Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [] } })));
  const kept = await blobs.ingest(randomBytes(4096));
  new BlobRecords(db).add({ diffId: 'sha256:' + 'a'.repeat(64), digest: kept, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 4096, registry: 'r', repository: 'x' });
  const left = await blobs.ingest(randomBytes(4096));

  const offline = await checkLayerBlobs({ db, blobs, offline: true });
  assert.deepEqual(offline.problems.map((p) => [p.kind, p.subject]), [['pending', `blob ${left}`]]);
  const online = await checkLayerBlobs({ db, blobs, offline: false });
  assert.deepEqual(online.problems.map((p) => p.kind), ['leak']);

  assert.equal(await sweepUnrecordedBlobs({ db, blobs }), 1);
  assert.equal(await blobs.has(left), false);
  assert.equal(await blobs.has(kept), true);
  assert.equal(await blobs.has(config), true);
  assert.deepEqual((await checkLayerBlobs({ db, blobs, offline: false })).problems, []);
});
