import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, berthFull, type TestRegistry } from '../../helpers/registry-harness.js';

// One registry without auth; `src` pushes, `dst` (a fresh daemon, empty blob store) pulls.
let reg: TestRegistry;
let src: TestDaemon;
let dst: TestDaemon;
let imageId: string;
let repo: string;
let pushedDigest: string;

before(async () => {
  reg = await startRegistry();
  src = await startTestDaemon();
  dst = await startTestDaemon(['--max-concurrent-downloads', '2']);
  imageId = await importBusybox(src);
  repo = `${reg.host}/test/bb`;
  const r = await src.api('POST', `/images/busybox:latest/tag?repo=${encodeURIComponent(repo)}&tag=v1`);
  assert.equal(r.status, 201);
});
after(async () => {
  try {
    await dst?.destroy();
  } finally {
    try {
      await src?.destroy();
    } finally {
      await reg?.stop();
    }
  }
});

test('push sends the layers, config and manifest; the registry lists the repository and tag', async () => {
  const out = src.berth(['push', `${repo}:v1`]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`The push refers to repository \\[${repo.replace(/\./g, '\\.')}\\]`));
  assert.match(out.stdout, /: Pushed/);
  const m = /v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(out.stdout);
  assert.ok(m, out.stdout);
  pushedDigest = m[1]!;
  const catalog = JSON.parse((await reg.get('/v2/_catalog')).body) as { repositories: string[] };
  assert.deepEqual(catalog.repositories, ['test/bb']);
  const tags = JSON.parse((await reg.get('/v2/test/bb/tags/list')).body) as { tags: string[] };
  assert.deepEqual(tags.tags, ['v1']);
  const inspect = (await src.api('GET', `/images/${repo}:v1/json`)).json() as { RepoDigests: string[] };
  assert.deepEqual(inspect.RepoDigests, [`${repo}@${pushedDigest}`]);
});

test('a second push finds the layer there; a push to another repository mounts it', async () => {
  const again = src.berth(['push', `${repo}:v1`]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Layer already exists/);
  assert.match(again.stdout, new RegExp(`v1: digest: ${pushedDigest}`), 'a re-push gives the same manifest digest');
  assert.equal((await src.api('POST', `/images/busybox:latest/tag?repo=${encodeURIComponent(`${reg.host}/other/bb`)}&tag=x`)).status, 201);
  const other = src.berth(['push', `${reg.host}/other/bb:x`]);
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stdout, /Mounted from test\/bb/);
});

test('pull by tag downloads, verifies and registers the image with its RepoDigest', async () => {
  const out = dst.berth(['pull', `${repo}:v1`]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /v1: Pulling from test\/bb/);
  assert.match(out.stdout, /Pull complete/);
  assert.match(out.stdout, new RegExp(`Digest: ${pushedDigest}`));
  assert.match(out.stdout, new RegExp(`Status: Downloaded newer image for ${repo}:v1`));
  const inspect = (await dst.api('GET', `/images/${repo}:v1/json`)).json() as { Id: string; RepoDigests: string[]; RepoTags: string[] };
  assert.equal(inspect.Id, imageId, 'the image id (config digest) survives the round trip');
  assert.deepEqual(inspect.RepoDigests, [`${repo}@${pushedDigest}`]);
  const digests = dst.berth(['images', '--digests']);
  assert.match(digests.stdout, new RegExp(pushedDigest));
  const again = dst.berth(['pull', `${repo}:v1`]);
  assert.match(again.stdout, /Already exists/);
  assert.match(again.stdout, new RegExp(`Status: Image is up to date for ${repo}:v1`));
});

test('the raw stream carries Docker\'s progress messages', async () => {
  assert.equal((await dst.api('DELETE', `/images/${repo}:v1`)).status, 200);
  const r = await dst.api('POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=v1`);
  assert.equal(r.status, 200);
  const msgs = r.body.trim().split(/\r?\n/).map((l) => JSON.parse(l) as { status?: string; id?: string; progressDetail?: { current?: number; total?: number } });
  const statuses = msgs.map((m) => m.status);
  for (const s of ['Pulling fs layer', 'Verifying Checksum', 'Download complete', 'Pull complete']) assert.ok(statuses.includes(s), `${s} in ${statuses.join(',')}`);
  const dl = msgs.find((m) => m.status === 'Downloading');
  assert.ok(dl && dl.progressDetail?.total && dl.id?.length === 12, JSON.stringify(dl));
});

test('pull by digest; name@digest resolves locally; run works from it', async () => {
  assert.equal((await dst.api('DELETE', `/images/${repo}:v1?force=1`)).status, 200);
  const out = dst.berth(['pull', `${repo}@${pushedDigest}`]);
  assert.equal(out.code, 0, out.stderr);
  const byDigest = await dst.api('GET', `/images/${repo}@${pushedDigest}/json`);
  assert.equal(byDigest.status, 200);
  assert.equal((byDigest.json() as { Id: string }).Id, imageId);
  assert.deepEqual((byDigest.json() as { RepoTags: string[] }).RepoTags, [], 'a digest pull adds no tag');
  const run = dst.berth(['run', '--rm', `${repo}@${pushedDigest}`, 'echo', 'from-digest']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'from-digest');
});

test('run of a missing image pulls it first; --pull never does not', async () => {
  const never = dst.berth(['run', '--rm', '--pull', 'never', `${reg.host}/other/bb:x`, 'true']);
  assert.notEqual(never.code, 0);
  assert.match(never.stderr, /No such image: .*other\/bb:x/);
  const run = berthFull(dst, ['run', '--rm', `${reg.host}/other/bb:x`, 'echo', 'pulled-then-ran']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`Unable to find image '${reg.host.replace(/\./g, '\\.')}/other/bb:x' locally`));
  assert.match(run.stderr, /Pull complete|Already exists/);
  assert.equal(run.stdout.trim(), 'pulled-then-ran');
});

test('unknown tags and repositories give Docker\'s errors and leave nothing', async () => {
  const before = ((await dst.api('GET', '/images/json')).json() as unknown[]).length;
  const tag = dst.berth(['pull', `${repo}:nope`]);
  assert.equal(tag.code, 1);
  assert.match(tag.stderr, new RegExp(`manifest for ${repo.replace(/\./g, '\\.')}:nope not found: manifest unknown`));
  // docker-registry answers MANIFEST_UNKNOWN for an unknown repository too (denials are in auth.test).
  const api = await dst.api('POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/no/such`)}&tag=latest`);
  assert.equal(api.status, 404);
  assert.match(api.body, /manifest for .*no\/such:latest not found: manifest unknown/);
  assert.equal(((await dst.api('GET', '/images/json')).json() as unknown[]).length, before);
});

test('pull -a pulls every tag of the repository', async () => {
  const out = dst.berth(['pull', '-a', `${reg.host}/other/bb`]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /x: Pulling from other\/bb/);
  assert.equal((await dst.api('GET', `/images/${reg.host}/other/bb:x/json`)).status, 200);
});

test('docker.io pulls go to --registry-mirror first', async () => {
  // The mirror is the test registry holding library/mirrored:1.
  assert.equal((await src.api('POST', `/images/busybox:latest/tag?repo=${encodeURIComponent(`${reg.host}/library/mirrored`)}&tag=1`)).status, 201);
  assert.equal(src.berth(['push', `${reg.host}/library/mirrored:1`]).code, 0);
  const m = await startTestDaemon(['--registry-mirror', `http://${reg.host}`]);
  try {
    const out = m.berth(['pull', 'mirrored:1']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /1: Pulling from library\/mirrored/);
    assert.match(out.stdout, /Status: Downloaded newer image for mirrored:1/);
    assert.match(out.stdout, /docker\.io\/library\/mirrored:1/);
    const inspect = (await m.api('GET', '/images/mirrored:1/json')).json() as { Id: string; RepoDigests: string[] };
    assert.equal(inspect.Id, imageId);
    assert.match(inspect.RepoDigests[0]!, /^mirrored@sha256:/);
  } finally {
    await m.destroy();
  }
});

test('rmi of name@digest removes only that reference; rmi of the last tag removes the image and its digests', async () => {
  for (const img of (await dst.api('GET', '/images/json')).json() as Array<{ Id: string }>) {
    assert.equal((await dst.api('DELETE', `/images/${img.Id}?force=1`)).status, 200);
  }
  const out = dst.berth(['pull', `${repo}:v1`]);
  assert.equal(out.code, 0, out.stderr);
  const rmDigest = dst.berth(['rmi', `${repo}@${pushedDigest}`]);
  assert.equal(rmDigest.code, 0, rmDigest.stderr);
  assert.equal(rmDigest.stdout.trim(), `Untagged: ${repo}@${pushedDigest}`);
  const still = (await dst.api('GET', `/images/${repo}:v1/json`)).json() as { RepoDigests: string[] };
  assert.deepEqual(still.RepoDigests, []);
  assert.equal((await dst.api('GET', `/images/${repo}@${pushedDigest}/json`)).status, 404);
  assert.equal(dst.berth(['pull', `${repo}@${pushedDigest}`]).code, 0);
  const rmTag = dst.berth(['rmi', `${repo}:v1`]);
  assert.equal(rmTag.stdout.trim(), `Untagged: ${repo}:v1\nUntagged: ${repo}@${pushedDigest}\nDeleted: ${imageId}`, 'the last tag takes the digest references along');
});
