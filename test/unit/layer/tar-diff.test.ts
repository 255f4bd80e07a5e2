import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, chmod, link, lstat, mkdir, readFile, readlink, stat, symlink, utimes, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { applyTar } from '../../../src/layer/tar-apply.js';
import { tarDiff } from '../../../src/layer/tar-diff.js';
import { lgetxattr, lsetxattr, mknod } from '../../../src/sys/libc.js';
import { runCommand } from '../../../src/sys/run-command.js';
import { collect, listTar, streamOf, tempDir } from './tar-fixtures.js';

const S_IFCHR = 0o020000;
const CAPS = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const d = await tempDir('berth-tar-diff-');
  t.after(d.cleanup);
  return d.path;
}

test('tarDiff of a tree round-trips through applyTar', async (t) => {
  const root = await scratch(t);
  const src = join(root, 'src');
  await mkdir(join(src, 'usr/bin'), { recursive: true });
  await writeFile(join(src, 'usr/bin/tool'), 'tool body');
  await chmod(join(src, 'usr/bin/tool'), 0o4755);
  lsetxattr(join(src, 'usr/bin/tool'), 'security.capability', CAPS);
  await link(join(src, 'usr/bin/tool'), join(src, 'usr/bin/tool2'));
  await symlink('usr/bin', join(src, 'bin'));
  mknod(join(src, 'null'), S_IFCHR | 0o666, 1, 3);
  await writeFile(join(src, 'owned'), 'o');
  await chown(join(src, 'owned'), 1234, 5678);
  await utimes(join(src, 'usr'), new Date('2000-01-01T00:00:00Z'), new Date('2000-01-01T00:00:00Z'));

  const tar = await collect(tarDiff(src, { kind: 'tree' }));
  const names = (await listTar(tar)).map((e) => `${e.type}:${e.name}`);
  assert.deepEqual(names, [
    'symlink:bin', 'character-device:null', 'file:owned',
    'directory:usr/', 'directory:usr/bin/', 'file:usr/bin/tool', 'link:usr/bin/tool2',
  ]);
  assert.deepEqual(await collect(tarDiff(src, { kind: 'tree' })), tar, 'deterministic output');

  const out = join(root, 'out');
  await mkdir(out);
  await applyTar(streamOf(tar), out, { whiteouts: 'vfs' });
  assert.equal(await readFile(join(out, 'usr/bin/tool'), 'utf8'), 'tool body');
  assert.equal((await stat(join(out, 'usr/bin/tool'))).mode & 0o7777, 0o4755);
  assert.deepEqual(lgetxattr(join(out, 'usr/bin/tool'), 'security.capability'), CAPS);
  assert.equal((await stat(join(out, 'usr/bin/tool2'))).ino, (await stat(join(out, 'usr/bin/tool'))).ino);
  assert.equal(await readlink(join(out, 'bin')), 'usr/bin');
  assert.equal((await lstat(join(out, 'null'))).rdev, (1 << 8) | 3);
  const owned = await stat(join(out, 'owned'));
  assert.deepEqual([owned.uid, owned.gid], [1234, 5678]);
  assert.equal((await stat(join(out, 'usr'))).mtime.toISOString(), '2000-01-01T00:00:00.000Z');
});

test('tarDiff of an overlay upper dir writes whiteouts in the .wh. form', async (t) => {
  const upper = await scratch(t);
  await mkdir(join(upper, 'etc'));
  mknod(join(upper, 'etc/gone'), S_IFCHR, 0, 0);
  await mkdir(join(upper, 'opq'));
  lsetxattr(join(upper, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
  await writeFile(join(upper, 'opq/fresh'), 'f');
  const entries = (await listTar(await collect(tarDiff(upper, { kind: 'overlay-upper' })))).map((e) => `${e.type}:${e.name}`);
  assert.deepEqual(entries, ['directory:etc/', 'file:etc/.wh.gone', 'directory:opq/', 'file:opq/.wh..wh..opq', 'file:opq/fresh']);
});

test('tarDiff in changes mode holds only what differs from the parent tree', async (t) => {
  const root = await scratch(t);
  const parent = join(root, 'parent');
  await mkdir(join(parent, 'd'), { recursive: true });
  await writeFile(join(parent, 'same'), 's');
  await writeFile(join(parent, 'edited'), 'e');
  await writeFile(join(parent, 'd/removed'), 'r');
  await writeFile(join(parent, 'd/kept'), 'k');
  const child = join(root, 'child');
  await runCommand(['cp', '-a', parent, child]);
  await writeFile(join(child, 'edited'), 'changed');
  await rm(join(child, 'd/removed'));
  await writeFile(join(child, 'added'), 'a');
  const entries = (await listTar(await collect(tarDiff(child, { kind: 'changes', parent })))).map((e) => `${e.type}:${e.name}`);
  assert.deepEqual(entries, ['file:added', 'directory:d/', 'file:d/.wh.removed', 'file:edited']);
});
