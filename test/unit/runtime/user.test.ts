import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveUser } from '../../../src/runtime/user.js';
import { resolveInRootfs } from '../../../src/runtime/rootfs-path.js';
import { InvalidParameterError } from '../../../src/common/errors.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:1000:1001:App:/home/app:/bin/sh',
  '',
].join('\n');
const GROUP = [
  'root:x:0:',
  'wheel:x:10:root,app',
  'audio:x:29:app',
  'staff:x:50:',
  'appgrp:x:1001:',
  '',
].join('\n');

async function rootfs(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-user-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'etc'));
  await writeFile(join(dir, 'etc/passwd'), PASSWD);
  await writeFile(join(dir, 'etc/group'), GROUP);
  return dir;
}

test('resolveUser follows Docker\'s rules', async (t) => {
  const dir = await rootfs(t);
  const table: Array<[string, { uid: number; gid: number; additionalGids: number[] }]> = [
    ['', { uid: 0, gid: 0, additionalGids: [10] }],
    ['root', { uid: 0, gid: 0, additionalGids: [10] }],
    ['app', { uid: 1000, gid: 1001, additionalGids: [10, 29] }],
    ['1000', { uid: 1000, gid: 1001, additionalGids: [10, 29] }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [] }],
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [] }],
    ['app:77', { uid: 1000, gid: 77, additionalGids: [] }],
    ['4242:4243', { uid: 4242, gid: 4243, additionalGids: [] }],
    ['daemon', { uid: 1, gid: 1, additionalGids: [] }],
  ];
  for (const [spec, want] of table) {
    assert.deepEqual(await resolveUser(dir, spec), want, `user "${spec}"`);
  }
});

test('unknown names are InvalidParameterErrors with Docker\'s wording', async (t) => {
  const dir = await rootfs(t);
  await assert.rejects(resolveUser(dir, 'nobody'), (err: unknown) =>
    err instanceof InvalidParameterError && err.message === 'unable to find user nobody: no matching entries in passwd file');
  await assert.rejects(resolveUser(dir, 'app:nogroup'), /unable to find group nogroup: no matching entries in group file/);
});

test('a rootfs without passwd still takes numeric ids', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-user-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.deepEqual(await resolveUser(dir, ''), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveUser(dir, '7:8'), { uid: 7, gid: 8, additionalGids: [] });
  await assert.rejects(resolveUser(dir, 'app'), InvalidParameterError);
});

test('symlinks in the rootfs cannot reach host files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-user-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'etc'));
  await mkdir(join(dir, 'real'));
  await writeFile(join(dir, 'real/passwd'), 'evil:x:0:0::/:/bin/sh\n');
  // An absolute link to a host file must resolve inside the rootfs, where it does not exist.
  await symlink('/etc/shadow', join(dir, 'etc/passwd'));
  await symlink('../../../../../../real/group', join(dir, 'etc/group'));
  assert.equal(await resolveInRootfs(dir, '/etc/passwd'), join(dir, 'etc/shadow'));
  assert.equal(await resolveInRootfs(dir, '/etc/group'), join(dir, 'real/group'));
  await assert.rejects(resolveUser(dir, 'root'), /unable to find user root/);
  await rm(join(dir, 'etc/passwd'));
  await symlink('/real/passwd', join(dir, 'etc/passwd'));
  assert.deepEqual(await resolveUser(dir, 'evil'), { uid: 0, gid: 0, additionalGids: [] });
});
