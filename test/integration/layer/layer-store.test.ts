import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { createGraphDriver, LayerStore, Overlay2Driver, type GraphDriver } from '../../../src/layer/index.js';
import { openMetadataDb, type Db } from '../../../src/store/metadata-db.js';
import { chainIdOf, type ChainId, type DiffId } from '../../../src/common/ids.js';
import { InvalidParameterError, NotFoundError } from '../../../src/common/errors.js';
import { mountPoints } from '../../../src/layer/mount-table.js';
import { packTar, streamOf } from '../../unit/layer/tar-fixtures.js';

function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

async function overlaySupported(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const probe = await mkdtemp(join(tmpdir(), 'berth-overlay-probe-'));
  try {
    return await Overlay2Driver.supported(join(probe, 'overlay2'));
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

const skips = {
  overlay2: process.getuid?.() !== 0 ? 'needs root' : (await overlaySupported()) ? false : 'overlayfs is not usable under /tmp',
  vfs: process.getuid?.() !== 0 ? 'needs root' : false,
} as const;

for (const preferred of ['overlay2', 'vfs'] as const) {
  describe(`LayerStore on ${preferred}`, { skip: skips[preferred] }, () => {
    let root = '';
    let db: Db;
    let driver: GraphDriver;
    let store: LayerStore;

    /** The driver's layer directories (cache ids). */
    async function cacheDirs(): Promise<string[]> {
      const dir = driver.name === 'overlay2' ? join(root, 'overlay2') : join(root, 'vfs', 'dir');
      try {
        return (await readdir(dir)).filter((n) => n !== 'l' && !n.startsWith('.')).sort();
      } catch {
        return [];
      }
    }

    function rowCount(): number {
      return (db.prepare('SELECT count(*) AS n FROM layers').get() as { n: number }).n;
    }

    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-layer-store-'));
      db = openMetadataDb(join(root, 'berth.db'));
      driver = await createGraphDriver({ root, preferred });
      assert.equal(driver.name, preferred);
      store = new LayerStore({ db, driver });
    });

    afterEach(async () => {
      await driver.cleanup();
      db.close();
      const left = (await mountPoints()).filter((m) => m.startsWith(`${root}/`));
      await rm(root, { recursive: true, force: true });
      assert.deepEqual(left, []);
    });

    it('registering the same tar twice yields one layer', async () => {
      const tar = await packTar([{ name: 'hello', content: 'world' }]);
      const a = await store.register(streamOf(tar), null);
      const b = await store.register(streamOf(tar), null);
      assert.deepEqual(b, a);
      assert.equal(a.diffId, sha256(tar));
      assert.equal(a.chainId, a.diffId, 'a base layer chain id is its diff id');
      assert.equal(a.size, 5);
      assert.equal(store.list().length, 1);
      assert.equal(rowCount(), 1);
      assert.deepEqual(await cacheDirs(), [store.get(a.chainId).cacheId]);
    });

    it('accepts gzip input and hashes the uncompressed stream', async () => {
      const tar = await packTar([{ name: 'z', content: 'zipped' }]);
      const r = await store.register(streamOf(gzipSync(tar)), null);
      assert.equal(r.diffId, sha256(tar));
    });

    it('chains layers and sums chain sizes', async () => {
      const base = await store.register(streamOf(await packTar([{ name: 'a', content: 'aaaa' }])), null);
      const childTar = await packTar([{ name: 'b', content: 'bb' }, { name: '.wh.a', content: '' }]);
      const child = await store.register(streamOf(childTar), base.chainId);
      assert.equal(child.chainId, chainIdOf([base.diffId, child.diffId]));
      assert.equal(store.get(child.chainId).parent, base.chainId);
      assert.equal(store.chainSize(child.chainId), 6);

      const cid = 'c'.repeat(64);
      assert.equal(await store.createRwLayer(cid, child.chainId), cid);
      const rootfs = await store.mountRw(cid);
      assert.deepEqual((await readdir(rootfs)).sort(), ['b']);
      await writeFile(join(rootfs, 'new'), 'container data');
      assert.ok((await store.rwSize(cid)) >= 'container data'.length);
      assert.equal(typeof (await store.driverMetadata(cid)), 'object');
      await store.unmountRw(cid);
      await store.removeRwLayer(cid);

      assert.equal(await store.release(base.chainId), false, 'a parent of another layer stays');
      assert.equal(await store.release(child.chainId), true);
      assert.equal(await store.release(base.chainId), true);
      assert.equal(rowCount(), 0);
      assert.deepEqual(await cacheDirs(), []);
    });

    it('a truncated tar leaves no row and no directory', async () => {
      const tar = await packTar([{ name: 'big', content: Buffer.alloc(10_000, 7) }]);
      await assert.rejects(store.register(streamOf(tar.subarray(0, 3000)), null), InvalidParameterError);
      assert.equal(rowCount(), 0);
      assert.deepEqual(await cacheDirs(), []);
    });

    it('an invalid tar leaves no row and no directory', async () => {
      await assert.rejects(store.register(streamOf(Buffer.alloc(2048, 0x5a)), null), InvalidParameterError);
      assert.equal(rowCount(), 0);
      assert.deepEqual(await cacheDirs(), []);
    });

    it('a digest other than the expected one is rejected and nothing is kept', async () => {
      const tar = await packTar([{ name: 'x', content: 'x' }]);
      const expectedDiffId = `sha256:${'0'.repeat(64)}` as DiffId;
      await assert.rejects(store.register(streamOf(tar), null, { expectedDiffId }), InvalidParameterError);
      assert.equal(rowCount(), 0);
      assert.deepEqual(await cacheDirs(), []);
    });

    it('get throws NotFound, find returns undefined, parents must exist', async () => {
      const missing = `sha256:${'1'.repeat(64)}` as ChainId;
      assert.throws(() => store.get(missing), NotFoundError);
      assert.equal(store.find(missing), undefined);
      await assert.rejects(store.register(streamOf(await packTar([{ name: 'x', content: 'x' }])), missing), NotFoundError);
      assert.equal(rowCount(), 0);
    });

    it('sweepIncomplete removes unfinished rows and their files', async () => {
      const kept = await store.register(streamOf(await packTar([{ name: 'k', content: 'k' }])), null);
      await driver.create('orphan', null);
      db.prepare("INSERT INTO layers (chain_id, diff_id, parent, cache_id, size, incomplete, created_at) VALUES ('pending:orphan', '', ?, 'orphan', 0, 1, 'now')")
        .run(kept.chainId);
      assert.equal(await store.sweepIncomplete(), 1);
      assert.equal(await driver.exists('orphan'), false);
      assert.equal(rowCount(), 1);
      assert.equal(await readFile(join(await driver.mount(store.get(kept.chainId).cacheId), 'k'), 'utf8'), 'k');
      await driver.unmount(store.get(kept.chainId).cacheId);
    });
  });
}
