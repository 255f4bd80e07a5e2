import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

function ok(args: string[], input?: string): string {
  const r = d.berth(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function exists(id: string): Promise<boolean> {
  return (await d.api('GET', `/containers/${id}/json`)).status === 200;
}

test('container prune removes stopped and created containers, honours filters and the prompt', async () => {
  const kept = ok(['run', '-d', '-l', 'keep=1', 'busybox', 'true']).trim();
  const exited = ok(['run', '-d', '-v', '/anon', 'busybox', 'true']).trim();
  const created = ok(['create', 'busybox', 'true']).trim();
  const running = ok(['run', '-d', 'busybox', 'sleep', '60']).trim();
  await d.api('POST', `/containers/${kept}/wait`);
  await d.api('POST', `/containers/${exited}/wait`);

  const declined = ok(['container', 'prune'], 'n\n');
  assert.equal(declined, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
  assert.ok(await exists(exited));

  assert.equal(ok(['container', 'prune', '-f', '--filter', 'until=1h']), 'Total reclaimed space: 0B\n');
  const none = await d.api('POST', '/containers/prune?filters=' + encodeURIComponent(JSON.stringify({ until: { '10m': true } })));
  assert.deepEqual(none.json(), { ContainersDeleted: null, SpaceReclaimed: 0 });
  const bad = await d.api('POST', '/containers/prune?filters=' + encodeURIComponent(JSON.stringify({ dangling: { true: true } })));
  assert.equal(bad.status, 400);
  assert.match(bad.body, /invalid filter 'dangling'/);

  const out = ok(['container', 'prune', '-f', '--filter', 'label!=keep=1']);
  const m = /^Deleted Containers:\n([0-9a-f\n]+)\n\nTotal reclaimed space: \S+\n$/.exec(out);
  assert.ok(m, out);
  assert.deepEqual(m[1]!.split('\n').sort(), [exited, created].sort());
  assert.ok(await exists(kept));
  assert.ok(await exists(running));

  // The real docker CLI, on what is left: the labelled one goes, the running one stays.
  const docker = spawnSync('/usr/local/bin/docker', ['-H', d.host, 'container', 'prune', '-f'], { encoding: 'utf8' });
  assert.equal(docker.status, 0, docker.stderr);
  assert.match(docker.stdout, new RegExp(`Deleted Containers:\\n${kept}\\n`));
  assert.equal(await exists(kept), false);
  assert.ok(await exists(running));
  ok(['rm', '-f', running]);
});

test('system prune: prompt, containers and (with --volumes) anonymous volumes', async () => {
  const c = ok(['run', '-d', '-v', '/data', 'busybox', 'true']).trim();
  await d.api('POST', `/containers/${c}/wait`);
  ok(['volume', 'create', 'named-keep']);
  const declined = ok(['system', 'prune', '--volumes'], '\n');
  assert.equal(declined, [
    'WARNING! This will remove:',
    '  - all stopped containers',
    '  - all networks not used by at least one container',
    '  - all anonymous volumes not used by at least one container',
    '  - all dangling images',
    '  - unused build cache',
    '',
    'Are you sure you want to continue? [y/N] ',
  ].join('\n'));
  assert.ok(await exists(c));
  const out = ok(['system', 'prune', '-f', '--volumes']);
  assert.match(out, new RegExp(`^Deleted Containers:\\n${c}\\n\\nDeleted Volumes:\\n([0-9a-f]{64}\\n)+\\n`));
  assert.match(out, /Total reclaimed space: \S+\n$/);
  assert.equal(await exists(c), false);
  const vols = (await d.api('GET', '/volumes')).json() as { Volumes: Array<{ Name: string }> };
  assert.deepEqual(vols.Volumes.map((v) => v.Name), ['named-keep']);
  const all = ok(['system', 'prune', '-a'], 'y\n');
  assert.match(all, /  - all images without at least one container associated to them\n  - all build cache\n/);
  // With -a, images no container uses go too (POST /images/prune with dangling=false).
  assert.match(all, /Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: [\d.]+[kM]B\n$/);
});
