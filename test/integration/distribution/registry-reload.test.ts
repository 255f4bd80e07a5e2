import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry-harness.js';

// A SIGHUP reload of daemon.json reaches the registry client: insecure registries, mirrors and
// the download limit apply to the next pulls.
let reg: TestRegistry;
let src: TestDaemon;
let dst: TestDaemon;
let dir: string;
let config: string;

function build(d: TestDaemon, tag: string, a: string, b: string): void {
  const ctx = mkdtempSync(join(dir, 'ctx-'));
  writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nRUN echo ${a} > /${a}\nRUN echo ${b} > /${b}\n`);
  const r = d.berth(['build', '-q', '-t', tag, ctx]);
  assert.equal(r.code, 0, r.stderr);
  const p = d.berth(['push', tag]);
  assert.equal(p.code, 0, p.stderr + p.stdout);
}

async function statuses(d: TestDaemon, from: string, tag: string): Promise<string[]> {
  const r = await d.api('POST', `/images/create?fromImage=${encodeURIComponent(from)}&tag=${tag}`);
  assert.equal(r.status, 200, r.body);
  const msgs = r.body.trim().split(/\r?\n/).map((l) => JSON.parse(l) as { status?: string; error?: string });
  const err = msgs.find((m) => m.error);
  assert.equal(err, undefined, JSON.stringify(err));
  return msgs.map((m) => m.status ?? '');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-regreload-'));
  config = join(dir, 'daemon.json');
  writeFileSync(config, '{}');
  reg = await startRegistry();
  src = await startTestDaemon();
  dst = await startTestDaemon(['--config-file', config]);
  await importBusybox(src);
  build(src, `${reg.host}/one:v1`, 'a', 'b');
  build(src, `${reg.host}/two:v1`, 'c', 'd');
  assert.equal(src.berth(['tag', 'busybox:latest', `${reg.host}/library/mirrored:v1`]).code, 0);
  assert.equal(src.berth(['push', `${reg.host}/library/mirrored:v1`]).code, 0);
});
after(async () => {
  await dst?.destroy();
  await src?.destroy();
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('before the reload: a registry named by host name is not insecure, three layers download at once', async () => {
  const named = dst.berth(['pull', `localhost:${reg.port}/one:v1`]);
  assert.notEqual(named.code, 0, 'HTTPS to a plain-HTTP registry fails');
  const st = await statuses(dst, `${reg.host}/one`, 'v1');
  assert.equal(st.filter((s) => s === 'Pull complete').length, 3);
  assert.ok(!st.includes('Waiting'), st.join(','));
});

test('after SIGHUP: the listed host is reached over HTTP, docker.io pulls go to the mirror, one download at a time', async () => {
  writeFileSync(config, JSON.stringify({
    'insecure-registries': [`localhost:${reg.port}`],
    'registry-mirrors': [`http://${reg.host}`],
    'max-concurrent-downloads': 1,
  }));
  dst.proc.kill('SIGHUP');
  const end = Date.now() + 5000;
  for (;;) {
    const info = (await dst.api('GET', '/info')).json() as { RegistryConfig: { Mirrors: string[] } };
    if (info.RegistryConfig.Mirrors.length) break;
    assert.ok(Date.now() < end, 'the reload shows in info');
    await new Promise((r) => setTimeout(r, 50));
  }
  const since = Math.floor(Date.now() / 1000);
  // Two layers new to this daemon, one slot: the second waits.
  const st = await statuses(dst, `localhost:${reg.port}/two`, 'v1');
  assert.ok(st.includes('Waiting'), st.join(','));
  assert.equal(st.filter((s) => s === 'Pull complete').length, 2);
  assert.ok(st.includes(`Status: Downloaded newer image for localhost:${reg.port}/two:v1`), st.join(','));
  const mirrored = dst.berth(['pull', 'mirrored:v1']);
  assert.equal(mirrored.code, 0, mirrored.stderr + mirrored.stdout);
  assert.match(mirrored.stdout, /Status: (Downloaded newer image|Image is up to date) for mirrored:v1/);
  const run = dst.berth(['run', '--rm', 'mirrored:v1', 'echo', 'via the mirror']);
  assert.equal(run.stdout, 'via the mirror\n');
  // Docker's pull events: the familiar reference as the id, the repository as the name.
  const ev = await dst.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ type: ['image'], event: ['pull'] }))}`);
  const pulls = ev.body.trim().split('\n').map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } })
    .filter((e) => !e.Actor.ID.endsWith('/one:v1')); // the first test's pull may share the second

  assert.deepEqual(pulls.map((e) => [e.Action, e.Actor.ID, e.Actor.Attributes['name']]), [
    ['pull', `localhost:${reg.port}/two:v1`, `localhost:${reg.port}/two`],
    ['pull', 'mirrored:v1', 'mirrored'],
  ]);
});
