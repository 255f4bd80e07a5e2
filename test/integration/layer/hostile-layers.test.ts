import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, lstat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { createGraphDriver, LayerStore, encodeTarHeader, type GraphDriver } from '../../../src/layer/index.js';
import { openMetadataDb, type Db } from '../../../src/store/metadata-db.js';
import type { DiffId } from '../../../src/common/ids.js';
import { InvalidParameterError } from '../../../src/common/errors.js';
import { mountPoints } from '../../../src/layer/mount-table.js';
import { collect, packTar, rawTar, streamOf } from '../../unit/layer/tar-fixtures.js';

function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

/** A header block for a special record (PAX 'x' or GNU long name 'L') claiming `size` bytes. */
function specialHeader(typeflag: string, size: number): Buffer {
  const b = encodeTarHeader({ name: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 });
  b.write(typeflag, 156, 1, 'ascii');
  b.write(size.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

for (const preferred of ['overlay2', 'vfs'] as const) {
  describe(`hostile layer tars on ${preferred}`, { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
    let root = '';
    let outside = '';
    let db: Db;
    let driver: GraphDriver;
    let store: LayerStore;

    async function leftovers(): Promise<{ rows: number; dirs: number; splits: number }> {
      const dir = driver.name === 'overlay2' ? join(root, 'overlay2') : join(root, 'vfs', 'dir');
      const dirs = existsSync(dir) ? (await readdir(dir)).filter((n) => n !== 'l' && !n.startsWith('.')).length : 0;
      const sp = join(root, 'layerdb', 'tar-split');
      const splits = existsSync(sp) ? (await readdir(sp)).length : 0;
      return { rows: (db.prepare('SELECT count(*) AS n FROM layers').get() as { n: number }).n, dirs, splits };
    }

    async function rejectsCleanly(tar: Buffer, pattern: RegExp, opts: { expectedDiffId?: DiffId } = {}): Promise<void> {
      await assert.rejects(store.register(streamOf(tar), null, opts), (err: Error) => {
        assert.ok(err instanceof InvalidParameterError, `${err.constructor.name}: ${err.message}`);
        assert.match(err.message, pattern);
        return true;
      });
      assert.deepEqual(await leftovers(), { rows: 0, dirs: 0, splits: 0 });
      assert.deepEqual(await readdir(outside), ['victim']);
      assert.equal(await readFile(join(outside, 'victim'), 'utf8'), 'keep');
    }

    /** The layer's own files (for overlay2 its diff dir, for vfs its whole tree). */
    async function layerDir(chainId: string): Promise<string> {
      const rec = store.get(chainId as never);
      return driver.contentDir(rec.cacheId);
    }

    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-hostile-'));
      outside = join(root, 'outside');
      await mkdir(outside);
      await writeFile(join(outside, 'victim'), 'keep');
      db = openMetadataDb(join(root, 'berth.db'));
      driver = await createGraphDriver({ root, preferred });
      store = new LayerStore({ db, driver, splitRoot: join(root, 'layerdb', 'tar-split'), maxLayerBytes: 1024 * 1024 });
    });

    afterEach(async () => {
      await driver.cleanup();
      db.close();
      const left = (await mountPoints()).filter((m) => m.startsWith(`${root}/`));
      await rm(root, { recursive: true, force: true });
      assert.deepEqual(left, []);
    });

    it('re-creates registered tars byte for byte (PAX, long names, links, xattrs, trailing padding, gzip)', async () => {
      const long = `${'d'.repeat(120)}/${'f'.repeat(110)}`;
      const a = await packTar([
        { name: 'dir', type: 'directory', mode: 0o755 },
        { name: 'dir/file', content: 'hello\n', mode: 0o640, uid: 1000, gid: 1000 },
        { name: 'dir/sym', type: 'symlink', linkname: 'file' },
        { name: 'dir/hard', type: 'link', linkname: 'dir/file' },
        { name: long, content: Buffer.alloc(3000, 7) },
        { name: 'ünïcode', content: 'x' },
        { name: 'empty', content: '' },
      ]);
      const b = rawTar([
        { name: 'caps', type: 'file', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1, xattrs: new Map([['user.bin', Buffer.from([0x80, 0xff, 0])]]), content: Buffer.from('#!/bin/sh\n') },
      ]);
      // GNU tar pads archives to 10240-byte records: the padding is part of the diff id.
      const padded = Buffer.concat([a, Buffer.alloc(10240 - (a.length % 10240))]);
      for (const tar of [a, b, padded]) {
        const res = await store.register(streamOf(tar), null);
        assert.equal(res.diffId, sha256(tar));
        assert.ok((await collect(await store.tar(res.chainId))).equals(tar));
        const { size, stream } = await store.tarWithSize(res.chainId);
        assert.equal(size, tar.length);
        stream.destroy();
      }
      const gz = await store.register(streamOf(gzipSync(Buffer.concat([a.subarray(0, 512 * 4), Buffer.alloc(1024)]))), null);
      assert.equal((await collect(await store.tar(gz.chainId))).length, 512 * 4 + 1024);
    });

    it('a layer whose files changed on disk fails verification instead of giving wrong bytes', async () => {
      const tar = await packTar([{ name: 'f', content: 'original' }]);
      const res = await store.register(streamOf(tar), null);
      await writeFile(join(await layerDir(res.chainId), 'f'), 'tampered');
      await assert.rejects(collect(await store.tar(res.chainId)), /digest mismatch/);
    });

    it('../ members, hardlink escapes and whiteouts above the root are refused; nothing is left', async () => {
      await rejectsCleanly(await packTar([{ name: 'ok', content: 'x' }, { name: '../victim', content: 'pwned' }]), /escapes/);
      await rejectsCleanly(await packTar([{ name: 'hl', type: 'link', linkname: '../outside/victim' }]), /escapes/);
      await rejectsCleanly(await packTar([{ name: '../.wh.victim', content: '' }]), /escapes/);
      await rejectsCleanly(await packTar([{ name: 'sym', type: 'symlink', linkname: outside }, { name: 'hl', type: 'link', linkname: 'sym/victim' }]), /does not exist/);
    });

    it('absolute names, symlink escapes and whiteouts through symlinks stay inside the layer', async () => {
      const tar = await packTar([
        { name: `/${outside.slice(1)}/abs-planted`, content: 'a' },
        { name: 'up', type: 'symlink', linkname: '../../../../../../..' },
        { name: 'up/up-planted', content: 'b' },
        { name: 'abs', type: 'symlink', linkname: outside },
        { name: 'abs/sym-planted', content: 'c' },
        { name: 'abs/.wh.victim', content: '' },
        { name: 'dev', type: 'directory' },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      ]);
      const res = await store.register(streamOf(tar), null);
      assert.deepEqual(await readdir(outside), ['victim']);
      assert.equal(await readFile(join(outside, 'victim'), 'utf8'), 'keep');
      const dir = await layerDir(res.chainId);
      assert.equal(await readFile(join(dir, outside, 'abs-planted'), 'utf8'), 'a');
      assert.equal(await readFile(join(dir, 'up-planted'), 'utf8'), 'b');
      assert.equal(await readFile(join(dir, outside, 'sym-planted'), 'utf8'), 'c');
      // Device nodes are allowed in layers (as with Docker running as root), inside the layer only.
      const dev = await lstat(join(dir, 'dev', 'null'));
      assert.ok(dev.isCharacterDevice());
      // And the exact tar still comes back.
      assert.ok((await collect(await store.tar(res.chainId))).equals(tar));
    });

    it('oversized PAX and long-name records are refused before they are buffered', async () => {
      await rejectsCleanly(Buffer.concat([specialHeader('x', 8 * 1024 * 1024), Buffer.alloc(4096)]), /PAX record of 8388608 bytes exceeds/);
      await rejectsCleanly(Buffer.concat([specialHeader('L', 8 * 1024 * 1024), Buffer.alloc(4096)]), /long name record of 8388608 bytes exceeds/);
    });

    it('a decompression bomb stops at the size limit; digest mismatches are errors', async () => {
      const big = await packTar([{ name: 'zeros', content: Buffer.alloc(8 * 1024 * 1024) }]);
      const bomb = gzipSync(big, { level: 9 });
      assert.ok(bomb.length < 64 * 1024);
      await rejectsCleanly(bomb, /exceeds the size limit of 1048576 bytes/);
      const tar = await packTar([{ name: 'f', content: 'x' }]);
      await rejectsCleanly(tar, /digest mismatch/, { expectedDiffId: `sha256:${'0'.repeat(64)}` as DiffId });
    });
  });
}

