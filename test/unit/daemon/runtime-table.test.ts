import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRuntimeTable, declaredRuntimes } from '../../../src/daemon/runtime-table.js';

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
    const script = readFileSync(crun.createPath, 'utf8');
    assert.match(script, /unshare --mount --propagation unchanged/);
    assert.match(script, /umount -l \/sys\/fs\/cgroup\/unified/);
  }
  await assert.rejects(buildRuntimeTable({ execRoot, defaultRuntime: 'ghost', addRuntimes: [], config: {} }), /specified default runtime 'ghost' does not exist/);
  const pinned = await buildRuntimeTable({ execRoot, defaultRuntime: 'mine', addRuntimes: ['mine=/opt/mine'], config: {} });
  assert.equal(pinned.defaultName, 'mine');
});
