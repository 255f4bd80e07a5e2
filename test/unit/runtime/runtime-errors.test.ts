import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crunInRuncWords, hybridWithUnifiedControllers, inRuncWords, runtimeFlavor } from '../../../src/runtime/index.js';

function rootfs(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rterr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  // A link pointing out of the root must be resolved inside it, never on the host.
  symlinkSync('/etc/hostname', join(dir, 'escape'));
  return dir;
}

const crunNotFound = (name: string): string => `executable file \`${name}\` not found in $PATH: No such file or directory`;

test('a command name crun cannot find reads as runc words it (exit 127 for the clients)', async () => {
  assert.equal(await inRuncWords(crunNotFound('nope')), 'exec: "nope": executable file not found in $PATH');
  assert.equal(await inRuncWords(`prefix: ${crunNotFound('nope')}: unknown`), 'prefix: exec: "nope": executable file not found in $PATH: unknown');
});

test('a path crun cannot run is told apart by what the container root holds there', async (t) => {
  const root = rootfs(t);
  assert.equal(await inRuncWords(crunNotFound('/bin/nope'), { rootfs: root }), 'exec: "/bin/nope": stat /bin/nope: no such file or directory');
  assert.equal(await inRuncWords(crunNotFound('/etc/passwd'), { rootfs: root }), 'exec: "/etc/passwd": permission denied');
  assert.equal(await inRuncWords(crunNotFound('/etc'), { rootfs: root }), 'exec: "/etc": permission denied');
  // /escape -> /etc/hostname resolves inside the root, where there is none.
  assert.equal(await inRuncWords(crunNotFound('/escape'), { rootfs: root }), 'exec: "/escape": stat /escape: no such file or directory');
  assert.equal(await inRuncWords('open executable: Operation not permitted', { rootfs: root, command: '/etc' }), 'exec: "/etc": permission denied');
  assert.equal(await inRuncWords('open executable: Permission denied', { rootfs: root, command: '/etc/passwd' }), 'exec: "/etc/passwd": permission denied');
});

test('other runtime messages pass through unchanged', async () => {
  assert.equal(await inRuncWords('cannot allocate memory'), 'cannot allocate memory');
  assert.equal(await inRuncWords('open executable: Operation not permitted'), 'open executable: Operation not permitted');
});

test('flavor and hybrid cgroup detection', (t) => {
  assert.equal(runtimeFlavor('/usr/bin/crun'), 'crun');
  assert.equal(runtimeFlavor('/usr/sbin/runc'), 'runc');
  const dir = mkdtempSync(join(tmpdir(), 'berth-cg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(hybridWithUnifiedControllers(dir), false, 'no unified mount: legacy');
  mkdirSync(join(dir, 'unified'));
  writeFileSync(join(dir, 'unified', 'cgroup.controllers'), '');
  assert.equal(hybridWithUnifiedControllers(dir), false, 'unified without controllers');
  writeFileSync(join(dir, 'unified', 'cgroup.controllers'), 'hugetlb\n');
  assert.equal(hybridWithUnifiedControllers(dir), true);
  writeFileSync(join(dir, 'cgroup.controllers'), 'cpu memory\n');
  assert.equal(hybridWithUnifiedControllers(dir), false, 'pure cgroup v2');
});

test('crun\'s lifecycle errors read as runc\'s', () => {
  assert.equal(crunInRuncWords('error opening file `/run/x/crun/abc/status`: No such file or directory'), 'container does not exist');
  assert.equal(crunInRuncWords('open pidfd: No such process'), 'container not running');
  assert.equal(crunInRuncWords('the container `abc` is not running'), 'container not running');
  assert.equal(crunInRuncWords('something else'), 'something else');
});
