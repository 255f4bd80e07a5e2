import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyTar } from '../../../src/layer/tar-apply.js';
import { TarSplitRecorder, assembleTar, assembledSize } from '../../../src/layer/tar-split.js';
import { listChanges } from '../../../src/layer/tar-diff.js';
import { encodeTarHeader } from '../../../src/layer/tar-header.js';
import { collect, packTar, streamOf, tempDir } from './tar-fixtures.js';

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const d = await tempDir('berth-tar-split-');
  t.after(d.cleanup);
  return d.path;
}

/** Applies `tar` into a fresh dir with a recorder in front, as the layer store does; returns what assembleTar needs. */
async function record(root: string, tar: Buffer): Promise<{ records: string; paths: Array<string | null>; dest: string }> {
  const dest = join(root, 'dest');
  await mkdir(dest);
  const records = join(root, 'records');
  const fh = await open(records, 'w');
  const recorder = new TarSplitRecorder(fh);
  const paths: Array<string | null> = [];
  streamOf(tar).pipe(recorder);
  await applyTar(recorder, dest, { whiteouts: 'vfs', onFile: (rel) => paths.push(rel) });
  await fh.close();
  assert.equal(recorder.fileEntries, paths.length);
  return { records, paths, dest };
}

test('the recorder and assembleTar give back the exact tar: PAX, GNU long names, old-style dir names, padding after the end', async (t) => {
  const root = await scratch(t);
  const gnuLong = await packTar([{ name: `${'x'.repeat(150)}/file`, content: 'long' }]);
  const pax = Buffer.concat([
    encodeTarHeader({ name: 'ünï', type: 'file', mode: 0o644, uid: 70000000, gid: 0, size: 3, mtime: 5 }),
    Buffer.from('abc'), Buffer.alloc(509),
    // An old-style directory: a regular-file typeflag with a trailing slash.
    (() => { const b = encodeTarHeader({ name: 'olddir/', type: 'file', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 5 }); return b; })(),
    Buffer.alloc(1024), Buffer.alloc(4096), // the end marker, then zero padding up to a record size
  ]);
  for (const [i, tar] of [gnuLong, pax].entries()) {
    const dir = join(root, String(i));
    await mkdir(dir);
    const r = await record(dir, tar);
    assert.equal(await assembledSize(r.records), tar.length);
    assert.ok((await collect(assembleTar(r.records, r.paths, r.dest))).equals(tar));
  }
});

test('assembleTar never reads through a symlinked directory', async (t) => {
  const root = await scratch(t);
  const tar = await packTar([{ name: 'd', type: 'directory' }, { name: 'd/f', content: 'inside' }]);
  const r = await record(root, tar);
  const outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'f'), 'SECRET');
  const { rm, symlink } = await import('node:fs/promises');
  await rm(join(r.dest, 'd'), { recursive: true });
  await symlink(outside, join(r.dest, 'd'));
  await assert.rejects(collect(assembleTar(r.records, r.paths, r.dest)), /missing or moved/);
  assert.equal(await readFile(join(outside, 'f'), 'utf8'), 'SECRET');
});

test('listChanges: added, modified, deleted; excluded files and directories changed only for them are left out', async (t) => {
  const root = await scratch(t);
  const lower = join(root, 'lower');
  const upper = join(root, 'upper');
  await mkdir(join(lower, 'etc'), { recursive: true });
  await mkdir(join(lower, 'tmp'), { recursive: true });
  await writeFile(join(lower, 'etc', 'passwd'), 'root');
  await writeFile(join(lower, 'gone'), 'x');
  await mkdir(join(upper, 'etc'), { recursive: true });
  await writeFile(join(upper, 'etc', 'hosts'), '');
  await writeFile(join(upper, 'etc', 'hostname'), '');
  await mkdir(join(upper, 'tmp'), { recursive: true });
  await writeFile(join(upper, 'tmp', 'new'), 'n');
  await mkdir(join(upper, 'added', 'sub'), { recursive: true });
  const { mknod } = await import('../../../src/sys/libc.js');
  mknod(join(upper, 'gone'), 0o020000, 0, 0);
  const exclude = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf']);
  const changes = await listChanges(upper, { kind: 'overlay-upper' }, [lower], { exclude });
  assert.deepEqual(changes, [
    { Path: '/added', Kind: 1 },
    { Path: '/added/sub', Kind: 1 },
    { Path: '/gone', Kind: 2 },
    { Path: '/tmp', Kind: 0 },
    { Path: '/tmp/new', Kind: 1 },
  ]);
  // Another change under /etc keeps /etc.
  await writeFile(join(upper, 'etc', 'motd'), 'hi');
  const more = await listChanges(upper, { kind: 'overlay-upper' }, [lower], { exclude });
  assert.deepEqual(more.slice(2, 4), [{ Path: '/etc', Kind: 0 }, { Path: '/etc/motd', Kind: 1 }]);
});
