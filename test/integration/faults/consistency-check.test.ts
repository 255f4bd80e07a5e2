import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

function check(d: TestDaemon): { code: number; out: string } {
  try {
    const out = execFileSync(process.execPath, [join(REPO, 'bin/berthd'), '--check', '--data-root', d.dataRoot, '--exec-root', d.execRoot], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: e.stdout + e.stderr };
  }
}

test('berthd --check: clean data root passes, each kind of damage is reported, a running daemon is refused', async (t) => {
  const d = await startTestDaemon();
  t.after(() => d.destroy());
  const imageId = await importBusybox(d);
  const c = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] })).json() as { Id: string };
  assert.equal((await d.api('POST', '/volumes/create', { Name: 'checked' })).status, 201);
  const online = (await d.api('GET', '/_berth/check')).json() as { Clean: boolean; Problems: unknown[]; Checked: Record<string, number> };
  assert.deepEqual(online.Problems, []);
  assert.equal(online.Clean, true);
  assert.equal(online.Checked['images'], 1);

  const busy = check(d);
  assert.equal(busy.code, 1);
  assert.match(busy.out, /cannot check a data root in use/);

  await d.stop();
  const clean = check(d);
  assert.equal(clean.code, 0, clean.out);
  assert.match(clean.out, /no problems found/);

  // Damage: the image's config blob, the volume's data dir, the container's rw layer; strays.
  rmSync(join(d.dataRoot, 'content', 'sha256', imageId.slice(7)));
  rmSync(join(d.dataRoot, 'volumes', 'checked', '_data'), { recursive: true });
  rmSync(join(d.dataRoot, 'overlay2', c.Id), { recursive: true });
  mkdirSync(join(d.dataRoot, 'overlay2', 'f'.repeat(64), 'diff'), { recursive: true });
  mkdirSync(join(d.dataRoot, 'containers', 'e'.repeat(64)), { recursive: true });
  writeFileSync(join(d.dataRoot, 'content', 'sha256', 'a'.repeat(64)), JSON.stringify({ rootfs: { type: 'layers', diff_ids: [] } }));
  const bad = check(d);
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.out, new RegExp(`inconsistency: image ${imageId}: config blob is missing`));
  assert.match(bad.out, /inconsistency: volume checked: data directory is missing/);
  assert.match(bad.out, new RegExp(`inconsistency: rw layer ${c.Id}: read-write layer missing`));
  assert.match(bad.out, new RegExp(`leak: overlay2 ${'f'.repeat(64)}`));
  assert.match(bad.out, new RegExp(`leak: directory .*containers/${'e'.repeat(64)}`));
  assert.match(bad.out, new RegExp(`leak: blob sha256:${'a'.repeat(64)}`));
  assert.match(bad.out, /6 problems found/);
  assert.ok(readdirSync(d.dataRoot).includes('berth.db'));
});
