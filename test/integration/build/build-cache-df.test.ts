import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

// `system df` reports the build cache; `builder prune` frees what it reported.
let d: TestDaemon;
let dir: string;

interface CacheRecord { ID: string; Parent?: string; Parents?: string[]; Type: string; Description: string; InUse: boolean; Shared: boolean; Size: number; CreatedAt: string; LastUsedAt: string | null; UsageCount: number }

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
  dir = mkdtempSync(join(tmpdir(), 'berth-cachedf-'));
  // The first stage's layer is held by the cache alone; the final image holds the COPY layer.
  writeFileSync(join(dir, 'Dockerfile'), [
    'FROM busybox AS gen',
    'RUN head -c 300000 /dev/zero > /blob && echo small > /small',
    'ENV STAGE=done',
    'FROM busybox',
    'COPY --from=gen /small /small',
    'CMD ["cat", "/small"]',
  ].join('\n') + '\n');
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await d?.destroy();
});

async function cache(version = ''): Promise<CacheRecord[]> {
  const r = await d.api('GET', `${version}/system/df?type=build-cache`);
  assert.equal(r.status, 200);
  return (r.json() as { BuildCache: CacheRecord[] }).BuildCache;
}

let total = 0;

test('entries appear with Docker\'s fields: sizes, sharing with images, parents, usage counts', async () => {
  assert.deepEqual(await cache(), [], 'no builds, no cache');
  const b = d.berth(['build', '-t', 'cached-df', dir]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  let recs = await cache();
  const run = recs.find((r) => r.Description.includes('head -c 300000'))!;
  const env = recs.find((r) => r.Description.includes('STAGE=done'))!;
  const copy = recs.find((r) => r.Description.includes('COPY') || r.Description.includes('copy'))!;
  assert.ok(run && env && copy, JSON.stringify(recs));
  assert.deepEqual(Object.keys(run).sort(), ['CreatedAt', 'Description', 'ID', 'InUse', 'LastUsedAt', 'Shared', 'Size', 'Type', 'UsageCount']);
  assert.deepEqual(env.Parents, [run.ID], 'the ENV step stands on the RUN step');
  assert.equal(run.Type, 'regular');
  assert.equal(run.InUse, false);
  assert.equal(run.Shared, false, 'only the cache holds the first stage');
  assert.ok(run.Size >= 300000, `size ${run.Size}`);
  assert.equal(env.Size, 0, 'a metadata step adds no layer');
  assert.equal(copy.Shared, true, 'the tagged image holds the COPY layer');
  assert.equal(run.UsageCount, 1);
  assert.ok(!Number.isNaN(Date.parse(run.CreatedAt)) && run.LastUsedAt !== null);
  const old = (await cache('/v1.41')).find((r) => r.ID === env.ID)!;
  assert.equal(old.Parent, run.ID, 'API 1.41 has Parent');
  // A rebuild hits the cache: usage counts go up.
  const again = d.berth(['build', '-t', 'cached-df', dir]);
  assert.match(again.stdout, /Using cache/);
  recs = await cache();
  assert.equal(recs.find((r) => r.ID === run.ID)!.UsageCount, 2);
  total = recs.filter((r) => !r.Shared).reduce((n, r) => n + r.Size, 0);
  assert.equal(total, run.Size);
  const row = d.berth(['system', 'df']);
  assert.equal(row.code, 0, row.stderr);
  const line = row.stdout.split('\n').find((l) => l.startsWith('Build Cache'))!;
  assert.match(line, new RegExp(`^Build Cache\\s+${recs.length}\\s+0\\s+(\\d+(\\.\\d+)?kB)\\s+\\1$`), 'shared entries are not counted');
  const v = d.berth(['system', 'df', '-v']);
  assert.match(v.stdout, /Build cache usage: \d+(\.\d+)?kB\n\nCACHE ID\s+CACHE TYPE\s+SIZE\s+CREATED\s+LAST USED\s+USAGE\s+SHARED\n/);
  assert.match(v.stdout, new RegExp(`${run.ID.slice(0, 12)}\\s+regular\\s+\\d+kB\\s+.*ago\\s+.*ago\\s+2\\s+false\\n`));
  assert.match(v.stdout, new RegExp(`${copy.ID.slice(0, 12)}\\s+regular\\s+.*\\s+true\\n`));
});

test('builder prune frees exactly what df reported; the image keeps working', async () => {
  const before = await cache();
  const prune = await d.api('POST', '/build/prune');
  assert.equal(prune.status, 200);
  const report = prune.json() as { CachesDeleted: string[]; SpaceReclaimed: number };
  assert.equal(report.SpaceReclaimed, total, 'builder prune reclaims what df reported');
  assert.deepEqual(report.CachesDeleted.slice().sort(), before.map((r) => r.ID).sort());
  assert.deepEqual(await cache(), []);
  const after = d.berth(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}/{{.Size}}']);
  assert.match(after.stdout, /Build Cache=0\/0B\n$/);
  const run = d.berth(['run', '--rm', 'cached-df']);
  assert.equal(run.stdout, 'small\n');
});
