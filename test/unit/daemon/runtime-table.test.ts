import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRuntimeTable, declaredRuntimes } from '../../../src/daemon/runtime-table.js';
import { writeHybridLauncher } from '../../../src/runtime/index.js';

test('runtimes from daemon.json and --add-runtime, with Docker\'s checks', () => {
  const d = declaredRuntimes({ runtimes: { fast: { path: '/opt/fast', runtimeArgs: ['--debug'] } } }, ['other=/opt/other']);
  assert.deepEqual(d, [{ name: 'fast', path: '/opt/fast', args: ['--debug'] }, { name: 'other', path: '/opt/other', args: [] }]);
  assert.throws(() => declaredRuntimes({ runtimes: { runc: { path: '/x' } } }, []), /runtime name 'runc' is reserved/);
  assert.throws(() => declaredRuntimes({}, ['crun=/x']), /runtime name 'crun' is reserved/);
  assert.throws(() => declaredRuntimes({ runtimes: { a: {} } }, []), /runtime a: path is required/);
  assert.throws(() => declaredRuntimes({ runtimes: { a: { path: '/x', runtimeArgs: [1] } } }, []), /runtimeArgs must be a list of strings/);
  assert.throws(() => declaredRuntimes({ runtimes: { a: { path: '/x' } } }, ['a=/y']), /declared more than once/);
  assert.throws(() => declaredRuntimes({}, ['noequals']), /invalid runtime argument: noequals/);
});

test('the table: crun by default when installed, a launcher for it on hybrid hosts, unknown default refused', async (t) => {
  const execRoot = mkdtempSync(join(tmpdir(), 'berth-rt-'));
  t.after(() => rmSync(execRoot, { recursive: true, force: true }));
  const table = await buildRuntimeTable({ execRoot, defaultRuntime: '', addRuntimes: ['mine=/opt/mine'], config: {} });
  const names = table.entries.map((e) => e.name);
  assert.ok(names.includes('mine'));
  assert.equal(table.defaultName, existsSync('/usr/bin/crun') ? 'crun' : 'runc');
  for (const e of table.entries) assert.equal(e.root, join(execRoot, e.name));
  const crun = table.entries.find((e) => e.name === 'crun');
  if (crun?.createPath) {
    // The compiled launcher takes the runtime as its first argument; the script names it itself.
    if (crun.createArgs) {
      assert.match(crun.createPath, /berth-hybrid-launch$/);
      assert.deepEqual(crun.createArgs, ['/usr/bin/crun']);
    } else {
      assert.match(readFileSync(crun.createPath, 'utf8'), /mount --make-rprivate \/sys\/fs\/cgroup/);
    }
  }
  await assert.rejects(buildRuntimeTable({ execRoot, defaultRuntime: 'ghost', addRuntimes: [], config: {} }), /specified default runtime 'ghost' does not exist/);
  const pinned = await buildRuntimeTable({ execRoot, defaultRuntime: 'mine', addRuntimes: ['mine=/opt/mine'], config: {} });
  assert.equal(pinned.defaultName, 'mine');
});

test('the launcher script, when no compiled one exists, keeps the detach out of the host\'s mounts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-launch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const l = await writeHybridLauncher(dir, '/usr/bin/crun', join(dir, 'not-built'));
  assert.deepEqual(l.args, []);
  const script = readFileSync(l.path, 'utf8');
  // Made private before the detach: on hosts with shared mounts a detach would reach the host.
  assert.match(script, /unshare --mount --propagation unchanged \/bin\/sh -c 'mount --make-rprivate \/sys\/fs\/cgroup && \{ umount -l \/sys\/fs\/cgroup\/unified/);
  assert.match(script, /'\/usr\/bin\/crun' "\$@"$/m);
});
