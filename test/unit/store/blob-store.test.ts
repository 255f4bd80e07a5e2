import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStore } from '../../../src/store/blob-store.js';
import { sha256Digest, type Digest } from '../../../src/common/ids.js';

test('blobs are stored by digest, verified, and a mismatch leaves nothing', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-blobs-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const store = new BlobStore(root);
  const data = Buffer.from('{"hello":"world"}');
  const d = await store.ingest(data);
  assert.equal(d, sha256Digest(data));
  assert.ok(await store.has(d));
  assert.deepEqual(await store.get(d), data);
  assert.equal(await store.ingest(data, { expected: d }), d);
  async function* chunks(): AsyncIterable<Buffer> { yield Buffer.from('ab'); yield Buffer.from('c'); }
  assert.equal(await store.ingest(chunks()), sha256Digest('abc'));
  const wrong = sha256Digest('something else') as Digest;
  await assert.rejects(store.ingest(Buffer.from('x'), { expected: wrong }), /digest mismatch/);
  assert.ok(!(await store.has(sha256Digest('x'))));
  assert.deepEqual(readdirSync(join(root, 'ingest')), [], 'no temp file left');
  await assert.rejects(store.get(wrong), /not found/);
  await store.remove(d);
  assert.ok(!(await store.has(d)));
});
