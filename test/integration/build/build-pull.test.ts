import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry-harness.js';

// The builder pulls what a Dockerfile names and the daemon lacks, from a local registry.
let reg: TestRegistry;
let d: TestDaemon;
let base: string;
const dirs: string[] = [];

before(async () => {
  reg = await startRegistry();
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
  base = `${reg.host}/bb`;
  assert.equal(d.berth(['tag', 'busybox:latest', `${base}:latest`]).code, 0);
  const push = d.berth(['push', `${base}:latest`]);
  assert.equal(push.code, 0, push.stderr);
  assert.equal(d.berth(['rmi', `${base}:latest`]).code, 0);
});
after(async () => {
  for (const x of dirs) rmSync(x, { recursive: true, force: true });
  await d?.destroy();
  await reg?.stop();
});

function context(dockerfile: string): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-buildpull-'));
  dirs.push(root);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'Dockerfile'), dockerfile);
  return root;
}

interface Event { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }

async function imageEvents(since: number): Promise<Event[]> {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const r = await d.api('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['image'] }))}`);
  assert.equal(r.status, 200);
  return r.body.trim().split('\n').filter((l) => l).map((l) => JSON.parse(l) as Event);
}

test('FROM a missing image pulls it (progress in the build stream, a pull event), and the result runs', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const r = d.berth(['build', '-t', 'pulled-base', context(`FROM ${base}\nCMD ["echo", "from the registry"]\n`)]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, new RegExp(`Step 1/2 : FROM ${base}\\n`));
  assert.match(r.stdout, /latest: Pulling from bb/);
  assert.match(r.stdout, new RegExp(`Status: Downloaded newer image for ${base}:latest`));
  const inspect = (await d.api('GET', `/images/${base}:latest/json`)).json() as { RepoDigests: string[] };
  assert.equal(inspect.RepoDigests.length, 1, 'the pulled base is registered with its digest');
  const run = d.berth(['run', '--rm', 'pulled-base']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'from the registry\n');
  const pulls = (await imageEvents(since)).filter((e) => e.Action === 'pull');
  assert.deepEqual(pulls.map((e) => [e.Actor.ID, e.Actor.Attributes['name']]), [[`${base}:latest`, base]]);
});

test('COPY --from=<image> pulls a missing image; a tag the registry lacks fails the build', async () => {
  assert.equal(d.berth(['tag', 'busybox:latest', `${base}:tools`]).code, 0);
  assert.equal(d.berth(['push', `${base}:tools`]).code, 0);
  assert.equal(d.berth(['rmi', `${base}:tools`]).code, 0);
  const r = d.berth(['build', '-t', 'copied-from', context(`FROM scratch\nCOPY --from=${base}:tools /bin/busybox /busybox\nCMD ["/busybox", "echo", "copied"]\n`)],
    { env: { ...process.env, BERTH_BUILD_PLAIN: '1' } });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /tools: Pulling from bb/);
  assert.match(r.stdout, new RegExp(`Status: Downloaded newer image for ${base}:tools`));
  const run = d.berth(['run', '--rm', 'copied-from']);
  assert.equal(run.stdout, 'copied\n');
  // A tag neither local nor in the registry: the registry's answer, in Docker's words.
  const missing = await d.api('GET', `/images/${base}:gone/json`);
  assert.equal(missing.status, 404);
  const bad = d.berth(['build', context(`FROM ${base}:gone\n`)]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr + bad.stdout, /manifest for .*bb:gone not found|not found/);
});

test('--pull re-pulls a base image the registry has a newer version of', async () => {
  // The registry gets a v2 of bb:latest; locally the tag goes back to v1.
  const v1 = ((await d.api('GET', `/images/${base}:latest/json`)).json() as { Id: string }).Id;
  const v2 = d.berth(['build', '-q', '-t', `${base}:latest`, context('FROM busybox\nRUN echo v2 > /version\n')]);
  assert.equal(v2.code, 0, v2.stderr);
  const push = d.berth(['push', `${base}:latest`]);
  assert.equal(push.code, 0, push.stderr);
  assert.equal(d.berth(['tag', v1, `${base}:latest`]).code, 0);
  const dir = context(`FROM ${base}\nCMD ["cat", "/version"]\n`);
  const cached = d.berth(['build', '-t', 'pull-check', dir]);
  assert.equal(cached.code, 0, cached.stderr);
  assert.doesNotMatch(cached.stdout, /Pulling from/, 'without --pull the local image serves');
  assert.notEqual(d.berth(['run', '--rm', 'pull-check']).code, 0, 'v1 has no /version');
  const pulled = d.berth(['build', '--pull', '-t', 'pull-check', dir]);
  assert.equal(pulled.code, 0, pulled.stderr + pulled.stdout);
  assert.match(pulled.stdout, new RegExp(`Status: Downloaded newer image for ${base}:latest`));
  const run = d.berth(['run', '--rm', 'pull-check']);
  assert.equal(run.stdout, 'v2\n');
});

test('the docker CLI\'s classic build with --pull shows the pull and builds on the registry\'s image', () => {
  const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' };
  const r = spawnSync('/usr/local/bin/docker', ['build', '--pull', '-t', 'docker-pulled', context(`FROM ${base}\nCMD ["cat", "/version"]\n`)], { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /latest: Pulling from bb/);
  assert.match(r.stdout, new RegExp(`Status: Image is up to date for ${base}:latest`));
  const run = spawnSync('/usr/local/bin/docker', ['run', '--rm', 'docker-pulled'], { env, encoding: 'utf8' });
  assert.equal(run.stdout, 'v2\n');
});

test('push emits Docker\'s push event with the reference', async () => {
  // Events are selected by whole seconds: start in a fresh one, after the earlier pushes.
  await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
  const since = Math.floor(Date.now() / 1000);
  const push = d.berth(['push', `${base}:latest`]);
  assert.equal(push.code, 0, push.stderr + push.stdout);
  const pushes = (await imageEvents(since)).filter((e) => e.Action === 'push');
  assert.deepEqual(pushes.map((e) => [e.Actor.ID, e.Actor.Attributes['name']]), [[`${base}:latest`, base]]);
});
