import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, readdir, symlink, writeFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyTar } from '../../../src/layer/tar-apply.js';
import { InvalidParameterError } from '../../../src/common/errors.js';
import { lgetxattr } from '../../../src/sys/libc.js';
import { packTar, rawTar, streamOf, tempDir } from './tar-fixtures.js';

const T1 = new Date('2001-02-03T04:05:06Z');
const T2 = new Date('2011-12-13T14:15:16Z');

/** security.capability v2: cap_setuid (bit 7 -> byte 0x80, not valid UTF-8) + cap_net_raw, effective. */
const CAPS = Buffer.from([
  0x01, 0x00, 0x00, 0x02, // magic v2 | effective
  0x80, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // permitted, inheritable (low word)
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // high word
]);

async function dest(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const d = await tempDir('berth-tar-apply-');
  t.after(d.cleanup);
  return d.path;
}

test('applyTar writes files, dirs, ownership, special modes and mtimes', async (t) => {
  const dir = await dest(t);
  const tar = await packTar([
    { name: 'etc/', type: 'directory', mode: 0o750, uid: 10, gid: 20, mtime: T1 },
    { name: 'etc/passwd', content: 'root:x:0:0\n', mode: 0o644, uid: 1000, gid: 1001, mtime: T2 },
    { name: './bin/su', content: 'binary', mode: 0o4755, uid: 0, gid: 0 },
    { name: '/bin/sg', content: 'x', mode: 0o2711, uid: 5, gid: 6 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  const bytes = await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.equal(bytes, 'root:x:0:0\n'.length + 'binary'.length + 1);

  const etc = await stat(join(dir, 'etc'));
  assert.equal(etc.mode & 0o7777, 0o750);
  assert.deepEqual([etc.uid, etc.gid], [10, 20]);
  assert.equal(etc.mtime.getTime(), T1.getTime(), 'directory mtime survives the files written into it');

  const passwd = await stat(join(dir, 'etc/passwd'));
  assert.equal(await readFile(join(dir, 'etc/passwd'), 'utf8'), 'root:x:0:0\n');
  assert.deepEqual([passwd.uid, passwd.gid], [1000, 1001]);
  assert.equal(passwd.mtime.getTime(), T2.getTime());

  assert.equal((await stat(join(dir, 'bin/su'))).mode & 0o7777, 0o4755);
  const sg = await stat(join(dir, 'bin/sg'));
  assert.equal(sg.mode & 0o7777, 0o2711, 'setgid kept although chown ran');
  assert.deepEqual([sg.uid, sg.gid], [5, 6]);
  assert.equal((await stat(join(dir, 'tmp'))).mode & 0o7777, 0o1777);
});

test('applyTar creates symlinks and hardlinks', async (t) => {
  const dir = await dest(t);
  const tar = await packTar([
    { name: 'usr/lib/libc.so.6', content: 'elf' },
    { name: 'usr/lib/libc.so', type: 'symlink', linkname: 'libc.so.6', mtime: T1 },
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    { name: 'usr/lib/libc-hard', type: 'link', linkname: 'usr/lib/libc.so.6' },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'overlay' });
  assert.equal(await readlink(join(dir, 'usr/lib/libc.so')), 'libc.so.6');
  assert.equal((await lstat(join(dir, 'usr/lib/libc.so'))).mtime.getTime(), T1.getTime(), 'symlink mtime via lutimes');
  assert.equal(await readlink(join(dir, 'lib')), 'usr/lib');
  const a = await stat(join(dir, 'usr/lib/libc.so.6'));
  const b = await stat(join(dir, 'usr/lib/libc-hard'));
  assert.equal(a.ino, b.ino);
  assert.equal(a.nlink, 2);
});

test('applyTar creates device nodes and fifos', async (t) => {
  const dir = await dest(t);
  const tar = await packTar([
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
    { name: 'run/fifo', type: 'fifo', mode: 0o620 },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  const nul = await lstat(join(dir, 'dev/null'));
  assert.ok(nul.isCharacterDevice());
  assert.equal(nul.rdev, (1 << 8) | 3);
  assert.equal(nul.mode & 0o777, 0o666);
  const loop = await lstat(join(dir, 'dev/loop9'));
  assert.ok(loop.isBlockDevice());
  assert.equal(loop.rdev, (7 << 8) | 9);
  assert.equal(loop.gid, 6);
  const fifo = await lstat(join(dir, 'run/fifo'));
  assert.ok(fifo.isFIFO());
  assert.equal(fifo.mode & 0o777, 0o620);
});

test('applyTar sets binary xattrs (security.capability) from PAX records byte for byte', async (t) => {
  const dir = await dest(t);
  const tar = rawTar([
    {
      name: 'bin/ping', type: 'file', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_600_000_000,
      content: Buffer.from('ping'), xattrs: new Map([['security.capability', CAPS]]),
    },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.deepEqual(lgetxattr(join(dir, 'bin/ping'), 'security.capability'), CAPS);
});

test('applyTar sets text xattrs from tar-stream PAX headers', async (t) => {
  const dir = await dest(t);
  const tar = await packTar([{ name: 'f', content: 'x', pax: { 'SCHILY.xattr.user.note': 'hello' } }]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.equal(lgetxattr(join(dir, 'f'), 'user.note')?.toString(), 'hello');
});

test('applyTar rejects ../ escapes and writes nothing outside', async (t) => {
  const root = await dest(t);
  const dir = join(root, 'dest');
  await mkdir(dir);
  for (const name of ['../evil', 'a/../../evil', './../evil']) {
    const tar = await packTar([{ name, content: 'x' }]);
    await assert.rejects(applyTar(streamOf(tar), dir, { whiteouts: 'vfs' }), InvalidParameterError, name);
  }
  const link = await packTar([{ name: 'passwd', type: 'link', linkname: '../../etc/passwd' }]);
  await assert.rejects(applyTar(streamOf(link), dir, { whiteouts: 'vfs' }), InvalidParameterError);
  assert.equal(existsSync(join(root, 'evil')), false);
});

test('applyTar never follows a symlink out of the destination', async (t) => {
  const root = await dest(t);
  const dir = join(root, 'dest');
  const outside = join(root, 'outside');
  await mkdir(dir);
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'keep');
  // A symlink already in the destination (from a lower layer) that points outside it.
  await symlink(outside, join(dir, 'abs'));
  await symlink('../outside', join(dir, 'rel'));
  await symlink(join(outside, 'victim'), join(dir, 'victim'));
  const tar = await packTar([
    { name: 'abs/planted', content: 'a' },
    { name: 'rel/planted', content: 'b' },
    { name: 'victim', content: 'replaced' },
    { name: 'hl', type: 'link', linkname: 'abs/planted' },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.deepEqual(await readdir(outside), ['victim']);
  assert.equal(await readFile(join(outside, 'victim'), 'utf8'), 'keep');
  // Symlinks resolve as if the destination were the root directory.
  assert.equal(await readFile(join(dir, root, 'outside', 'planted'), 'utf8'), 'a');
  assert.equal(await readFile(join(dir, 'outside', 'planted'), 'utf8'), 'b');
  const victim = await lstat(join(dir, 'victim'));
  assert.ok(victim.isFile(), 'an existing symlink is replaced, not written through');
  assert.equal(await readFile(join(dir, 'victim'), 'utf8'), 'replaced');
  assert.equal((await stat(join(dir, 'hl'))).ino, (await stat(join(dir, root, 'outside', 'planted'))).ino);
});

test('vfs whiteouts delete from the tree below', async (t) => {
  const dir = await dest(t);
  await mkdir(join(dir, 'a/sub'), { recursive: true });
  await writeFile(join(dir, 'a/x'), 'x');
  await writeFile(join(dir, 'a/y'), 'y');
  await writeFile(join(dir, 'a/sub/z'), 'z');
  const tar = await packTar([{ name: 'a/.wh.x', content: '' }, { name: 'a/.wh.sub', content: '' }, { name: '.wh.missing', content: '' }]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.deepEqual((await readdir(join(dir, 'a'))).sort(), ['y']);
  assert.equal(existsSync(join(dir, 'missing')), false);
});

test('overlay whiteouts become 0/0 character devices with the entry owner', async (t) => {
  const dir = await dest(t);
  const tar = await packTar([{ name: 'a/.wh.x', content: '', uid: 3, gid: 4 }]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'overlay' });
  const st = await lstat(join(dir, 'a/x'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.deepEqual([st.uid, st.gid], [3, 4]);
  assert.equal(existsSync(join(dir, 'a/.wh.x')), false);
});

test('vfs opaque dir removes lower content but keeps this layer entries before and after the marker', async (t) => {
  const dir = await dest(t);
  await mkdir(join(dir, 'd/sub'), { recursive: true });
  await writeFile(join(dir, 'd/old'), 'old');
  await writeFile(join(dir, 'd/sub/old2'), 'old');
  await writeFile(join(dir, 'd/sub/kept-name'), 'old');
  await writeFile(join(dir, 'other'), 'untouched');
  const tar = await packTar([
    { name: 'd/', type: 'directory', mode: 0o755 },
    { name: 'd/before', content: '1' },
    { name: 'd/sub/kept-name', content: 'new' },
    { name: 'd/.wh..wh..opq', content: '' },
    { name: 'd/after', content: '2' },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.deepEqual((await readdir(join(dir, 'd'))).sort(), ['after', 'before', 'sub']);
  assert.deepEqual(await readdir(join(dir, 'd/sub')), ['kept-name']);
  assert.equal(await readFile(join(dir, 'd/sub/kept-name'), 'utf8'), 'new');
  assert.equal(await readFile(join(dir, 'other'), 'utf8'), 'untouched');
  assert.equal(existsSync(join(dir, 'd/.wh..wh..opq')), false);
});

test('overlay opaque marker sets trusted.overlay.opaque on the directory', async (t) => {
  const dir = await dest(t);
  const tar = await packTar([
    { name: 'd/', type: 'directory', mode: 0o700 },
    { name: 'd/.wh..wh..opq', content: '' },
    { name: 'd/new', content: 'n' },
    { name: 'e/.wh..wh..opq', content: '' },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'overlay' });
  assert.equal(lgetxattr(join(dir, 'd'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(lgetxattr(join(dir, 'e'), 'trusted.overlay.opaque')?.toString(), 'y', 'dir created for a marker that comes first');
  assert.deepEqual(await readdir(join(dir, 'd')), ['new']);
  assert.equal((await stat(join(dir, 'd'))).mode & 0o777, 0o700);
});

test('an entry replaces an existing entry of another type; dirs are merged', async (t) => {
  const dir = await dest(t);
  await mkdir(join(dir, 'was-dir/inner'), { recursive: true });
  await writeFile(join(dir, 'was-file'), 'f');
  await mkdir(join(dir, 'keep'));
  await writeFile(join(dir, 'keep/lower'), 'l');
  const tar = await packTar([
    { name: 'was-dir', content: 'now a file' },
    { name: 'was-file/', type: 'directory' },
    { name: 'was-file/x', content: 'x' },
    { name: 'keep/', type: 'directory', mode: 0o711 },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.equal(await readFile(join(dir, 'was-dir'), 'utf8'), 'now a file');
  assert.ok((await lstat(join(dir, 'was-file'))).isDirectory());
  assert.equal(await readFile(join(dir, 'keep/lower'), 'utf8'), 'l');
  assert.equal((await stat(join(dir, 'keep'))).mode & 0o777, 0o711);
});

test('applyTar rejects a corrupt or truncated tar', async (t) => {
  const dir = await dest(t);
  const good = await packTar([{ name: 'big', content: Buffer.alloc(5000, 1) }]);
  await assert.rejects(applyTar(streamOf(good.subarray(0, 2048)), dir, { whiteouts: 'vfs' }), InvalidParameterError);
  await assert.rejects(applyTar(streamOf(Buffer.alloc(1024, 0x41)), dir, { whiteouts: 'vfs' }), InvalidParameterError);
});

test('long names and link targets beyond 100 bytes round trip', async (t) => {
  const dir = await dest(t);
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  const tar = await packTar([
    { name: long, content: 'deep' },
    { name: 's', type: 'symlink', linkname: `/${'t'.repeat(200)}` },
  ]);
  await applyTar(streamOf(tar), dir, { whiteouts: 'vfs' });
  assert.equal(await readFile(join(dir, long), 'utf8'), 'deep');
  assert.equal(await readlink(join(dir, 's')), `/${'t'.repeat(200)}`);
});
