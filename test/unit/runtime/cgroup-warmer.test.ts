import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupWarmer } from '../../../src/runtime/index.js';

function fixture(t: { after(fn: () => void): void }, procCgroup: string): { proc: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-warm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const proc = join(dir, 'cgroup');
  writeFileSync(proc, procCgroup);
  return { proc, root: join(dir, 'fs') };
}

test('the warmer writes to the cgroup berthd is already in: pids on v1 and hybrid hosts, the unified one on v2', async (t) => {
  const hybrid = fixture(t, '9:name=systemd:/\n8:pids:/system.slice/berth.service\n4:memory:/x\n0::/\n');
  assert.equal(new CgroupWarmer(hybrid.proc, hybrid.root).targetFile(), `${hybrid.root}/pids/system.slice/berth.service/cgroup.procs`);
  const root = fixture(t, '8:pids:/\n0::/\n');
  assert.equal(new CgroupWarmer(root.proc, root.root).targetFile(), `${root.root}/pids/cgroup.procs`);
  const v2 = fixture(t, '0::/system.slice/berth.service\n');
  assert.equal(new CgroupWarmer(v2.proc, v2.root).targetFile(), `${v2.root}/system.slice/berth.service/cgroup.procs`);
  const none = fixture(t, '');
  assert.equal(new CgroupWarmer(none.proc, none.root).targetFile(), null);

  // warm() writes berthd's own pid there (a move to where it already is), once at a time.
  mkdirSync(join(v2.root, 'system.slice', 'berth.service'), { recursive: true });
  const w = new CgroupWarmer(v2.proc, v2.root);
  w.warm();
  w.warm();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(readFileSync(join(v2.root, 'system.slice', 'berth.service', 'cgroup.procs'), 'utf8'), `${process.pid}\n`);
  // A file that cannot be written turns it off.
  const gone = fixture(t, '0::/missing\n');
  const off = new CgroupWarmer(gone.proc, gone.root);
  off.warm();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(off.targetFile(), null);
});
