/**
 * One conformance suite for every GraphDriver: run from overlay2.test.ts and vfs.test.ts.
 * Needs root (device nodes, overlay mounts, trusted.* xattrs).
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphDriver } from '../../../src/layer/graph-driver.js';
import { mountPoints } from '../../../src/layer/mount-table.js';
import { collect, listTar, packTar, streamOf } from '../../unit/layer/tar-fixtures.js';

export interface GraphDriverSuiteOptions {
  /** Builds the driver under test rooted at `root`. */
  make: (root: string) => GraphDriver;
  /** A reason to skip the whole suite (e.g. overlayfs unavailable), or false. */
  skip: string | false;
}

async function mountsUnder(root: string): Promise<string[]> {
  return (await mountPoints()).filter((m) => m === root || m.startsWith(`${root}/`));
}

async function baseTar(): Promise<Buffer> {
  return packTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/hostname', content: 'base\n' },
    { name: 'etc/remove-me', content: 'doomed' },
    { name: 'opq/', type: 'directory', mode: 0o755 },
    { name: 'opq/lower1', content: 'l1' },
    { name: 'opq/sub/', type: 'directory', mode: 0o755 },
    { name: 'opq/sub/lower2', content: 'l2' },
    { name: 'shared/', type: 'directory', mode: 0o755 },
    { name: 'shared/a', content: 'from base' },
    { name: 'dev/', type: 'directory', mode: 0o755 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  ]);
}

async function childTar(): Promise<Buffer> {
  return packTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/.wh.remove-me', content: '' },
    { name: 'opq/', type: 'directory', mode: 0o755 },
    { name: 'opq/.wh..wh..opq', content: '' },
    { name: 'opq/new', content: 'fresh' },
    { name: 'shared/', type: 'directory', mode: 0o755 },
    { name: 'shared/b', content: 'from child' },
  ]);
}

export function graphDriverSuite(name: string, opts: GraphDriverSuiteOptions): void {
  describe(`GraphDriver conformance: ${name}`, { skip: opts.skip }, () => {
    let root = '';
    let driver: GraphDriver;

    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), `berth-${name}-`));
      driver = opts.make(join(root, name));
    });

    afterEach(async () => {
      await driver.cleanup();
      const left = await mountsUnder(root);
      await rm(root, { recursive: true, force: true });
      assert.deepEqual(left, [], 'no mount remains after the test');
    });

    async function stack(): Promise<void> {
      await driver.create('base', null);
      await driver.applyDiff('base', streamOf(await baseTar()));
      await driver.create('child', 'base');
      await driver.applyDiff('child', streamOf(await childTar()));
    }

    it('stacks layers: whiteouts, opaque dirs, an rw layer, diff and removal', async () => {
      await stack();
      await driver.create('rw', 'child');
      const merged = await driver.mount('rw');

      assert.equal(await readFile(join(merged, 'etc/hostname'), 'utf8'), 'base\n');
      assert.equal(existsSync(join(merged, 'etc/remove-me')), false, 'whited-out file is gone');
      assert.deepEqual((await readdir(join(merged, 'opq'))).sort(), ['new'], 'opaque dir shows only the new content');
      assert.deepEqual((await readdir(join(merged, 'shared'))).sort(), ['a', 'b'], 'files from all layers');

      await writeFile(join(merged, 'newfile'), 'written in the container');
      await rm(join(merged, 'shared/a'));
      assert.ok((await driver.diffSize('rw')) > 0);

      const entries = await listTar(await collect(await driver.diff('rw')));
      const names = entries.map((e) => e.name);
      assert.ok(names.includes('newfile'), `diff has the new file: ${names.join(', ')}`);
      assert.ok(names.includes('shared/.wh.a'), `diff has the whiteout: ${names.join(', ')}`);
      assert.ok(!names.includes('etc/hostname'), 'unchanged lower files are not in the diff');

      await driver.unmount('rw');
      assert.deepEqual(await mountsUnder(root), []);
      for (const id of ['rw', 'child', 'base']) {
        await driver.remove(id);
        assert.equal(await driver.exists(id), false);
      }
    });

    it('a child layer diff, applied on the base again, reproduces the child view', async () => {
      await stack();
      const tar = await collect(await driver.diff('child'));
      const names = (await listTar(tar)).map((e) => e.name);
      assert.ok(names.includes('etc/.wh.remove-me'), names.join(', '));
      assert.ok(names.includes('opq/new'), names.join(', '));
      assert.ok(!names.includes('etc/hostname'), names.join(', '));
      // overlay2 keeps the opaque marker; vfs, comparing trees, may express it as one whiteout per lower entry.
      if (driver.name === 'overlay2') assert.ok(names.includes('opq/.wh..wh..opq'), names.join(', '));

      await driver.create('replay', 'base');
      await driver.applyDiff('replay', streamOf(tar));
      await driver.create('rw', 'replay');
      const view = await driver.mount('rw');
      assert.equal(existsSync(join(view, 'etc/remove-me')), false);
      assert.deepEqual((await readdir(join(view, 'opq'))).sort(), ['new']);
      assert.deepEqual((await readdir(join(view, 'shared'))).sort(), ['a', 'b']);
      assert.equal(await readFile(join(view, 'etc/hostname'), 'utf8'), 'base\n');
      await driver.unmount('rw');
    });

    it('mounts a base layer on its own and sizes it', async () => {
      await driver.create('base', null);
      const bytes = await driver.applyDiff('base', streamOf(await baseTar()));
      assert.equal(bytes, 'base\n'.length + 'doomed'.length + 4 + 'from base'.length);
      assert.equal(await driver.diffSize('base'), bytes);
      const path = await driver.mount('base');
      assert.equal(await readFile(join(path, 'shared/a'), 'utf8'), 'from base');
      await driver.unmount('base');

      await driver.create('rw', 'base');
      const merged = await driver.mount('rw');
      assert.equal(await readFile(join(merged, 'etc/hostname'), 'utf8'), 'base\n');
      assert.equal(await driver.diffSize('rw'), 0, 'an untouched rw layer has no changes');
      await driver.unmount('rw');
    });

    it('reference-counts mounts', async () => {
      await stack();
      await driver.create('rw', 'child');
      const a = await driver.mount('rw');
      const b = await driver.mount('rw');
      assert.equal(a, b);
      await driver.unmount('rw');
      assert.equal(await readFile(join(a, 'shared/b'), 'utf8'), 'from child', 'still mounted after one of two unmounts');
      await driver.unmount('rw');
      assert.deepEqual(await mountsUnder(root), []);
    });

    it('cleanup() unmounts whatever is left mounted', async () => {
      await stack();
      await driver.create('rw', 'child');
      await driver.mount('rw');
      await driver.cleanup();
      assert.deepEqual(await mountsUnder(root), []);
    });

    it('remove() unmounts a mounted layer; removing a missing layer is not an error', async () => {
      await stack();
      await driver.create('rw', 'child');
      await driver.mount('rw');
      await driver.remove('rw');
      assert.equal(await driver.exists('rw'), false);
      assert.deepEqual(await mountsUnder(root), []);
      await driver.remove('never-existed');
    });

    it('mounts a chain of 80 layers', async () => {
      let parent: string | null = null;
      for (let i = 0; i < 80; i++) {
        const id = `layer${i}`;
        await driver.create(id, parent);
        await driver.applyDiff(id, streamOf(await packTar([{ name: `files/f${i}`, content: String(i) }])));
        parent = id;
      }
      await driver.create('rw', parent);
      const merged = await driver.mount('rw');
      assert.equal((await readdir(join(merged, 'files'))).length, 80);
      assert.equal(await readFile(join(merged, 'files/f0'), 'utf8'), '0');
      await driver.unmount('rw');
    });

    it('returns metadata for inspect', async () => {
      await stack();
      await driver.create('rw', 'child');
      const meta = await driver.metadata('rw');
      if (driver.name === 'overlay2') {
        assert.equal(meta['LowerDir'], `${join(root, name, 'child/diff')}:${join(root, name, 'base/diff')}`);
        assert.equal(meta['UpperDir'], join(root, name, 'rw/diff'));
        assert.equal(meta['MergedDir'], join(root, name, 'rw/merged'));
        assert.equal(meta['WorkDir'], join(root, name, 'rw/work'));
      } else {
        assert.deepEqual(meta, {});
      }
    });

    it('refuses to create a layer twice', async () => {
      await driver.create('base', null);
      await assert.rejects(driver.create('base', null));
    });
  });
}
