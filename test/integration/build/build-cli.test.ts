import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { ALL_CLIENT_CLIS, DOCKER28_CLI } from '../../helpers/client-clis.js';

let d: TestDaemon;
const dirs: string[] = [];
const DOCKER = DOCKER28_CLI;

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
});
after(async () => {
  for (const x of dirs) rmSync(x, { recursive: true, force: true });
  await d?.destroy();
});

function context(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-buildcli-'));
  dirs.push(root);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), c);
  }
  return root;
}

const DOCKERFILE = 'FROM busybox\nARG WHO=nobody\nCOPY msg.txt /msg.txt\nRUN echo "built for $WHO" > /who\nCMD ["cat", "/msg.txt", "/who"]\n';

test('berth build: tags, build args, labels, iidfile, .dockerignore, -f outside the context, then run', () => {
  const dir = context({ 'msg.txt': 'from berth\n', 'ignored.txt': 'x', '.dockerignore': 'ignored.txt\n' });
  const outside = context({ 'Dockerfile.custom': `${DOCKERFILE}COPY . /ctx\nRUN test ! -e /ctx/ignored.txt\n` });
  const iid = join(outside, 'iid');
  const r = d.berth(['build', '-t', 'cli-built:1', '-t', 'cli-built:2', '--build-arg', 'WHO=tests', '--label', 'k=v', '--iidfile', iid, '-f', join(outside, 'Dockerfile.custom'), dir]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^Step 1\/8 : FROM busybox\n/);
  assert.match(r.stdout, /Step 8\/8 : LABEL "k"='v'\n/);
  assert.match(r.stdout, /Successfully tagged cli-built:2\n$/);
  const id = readFileSync(iid, 'utf8');
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  const run = d.berth(['run', '--rm', 'cli-built:1']);
  assert.equal(run.stdout, 'from berth\nbuilt for tests\n');
  const labels = d.berth(['inspect', '--format', '{{json .Config.Labels}}', 'cli-built:2']);
  assert.equal(labels.stdout.trim(), '{"k":"v"}');
  // -q prints only the id; a cached rebuild gives the same one.
  const q = d.berth(['build', '-q', '--build-arg', 'WHO=tests', '--label', 'k=v', '-f', join(outside, 'Dockerfile.custom'), dir]);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, `${id}\n`);
  // builder prune drops the cache (and the layers only it kept): the next build runs every step.
  const prune = d.berth(['builder', 'prune', '-f']);
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stdout, /^Deleted build cache objects:\n[0-9a-f]{64}\n/);
  assert.match(prune.stdout, /Total reclaimed space: [0-9.]+k?B\n$/);
  const fresh = d.berth(['build', '--build-arg', 'WHO=tests', '-f', join(outside, 'Dockerfile.custom'), dir]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.doesNotMatch(fresh.stdout, /Using cache/);
  assert.equal(d.berth(['run', '--rm', 'cli-built:1']).stdout, 'from berth\nbuilt for tests\n');
});

test('berth build - reads a Dockerfile from stdin; failures exit with the step code', () => {
  const r = d.berth(['build', '-t', 'cli-stdin', '-'], { input: 'FROM busybox\nRUN echo stdin > /s\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(d.berth(['run', '--rm', 'cli-stdin', 'cat', '/s']).stdout, 'stdin\n');
  const bad = d.berth(['build', '-'], { input: 'FROM busybox\nRUN exit 4\n' });
  assert.equal(bad.code, 4);
  assert.match(bad.stderr, /The command '\/bin\/sh -c exit 4' returned a non-zero code: 4/);
  const quiet = d.berth(['build', '-q', '-'], { input: 'FROM busybox\nRUN echo quiet-$((40+2)) && exit 2\n' });
  assert.equal(quiet.code, 2);
  assert.match(quiet.stderr, /returned a non-zero code: 2/);
  assert.match(quiet.stderr, /quiet-42\n/, 'a failing quiet build shows the held-back output');
  const syntax = d.berth(['build', '-'], { input: 'FROM busybox\nRUNN x\n' });
  assert.equal(syntax.code, 1);
  assert.match(syntax.stderr, /Dockerfile:2: unknown instruction: RUNN/);
});

const CLIS = ALL_CLIENT_CLIS.filter((c) => c.tag !== 'berth');

for (const cli of CLIS) {
  test(`${cli.name} builds against berthd with the classic builder`, { skip: !existsSync(cli.path) && `${cli.path} not installed` }, () => {
    const dir = context({ 'Dockerfile': DOCKERFILE, 'msg.txt': 'from docker\n', '.dockerignore': 'secret\n', 'secret': 'x' });
    const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' };
    const tag = `docker-built:${cli.path === DOCKER ? '28' : '20'}`;
    const r = spawnSync(cli.path, ['build', '-t', tag, '--build-arg', 'WHO=docker', dir], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 1\/5 : FROM busybox/);
    assert.match(r.stdout, new RegExp(`Successfully tagged ${tag}`));
    const run = spawnSync(cli.path, ['run', '--rm', tag], { env, encoding: 'utf8' });
    assert.equal(run.stdout, 'from docker\nbuilt for docker\n');
    const q = spawnSync(cli.path, ['build', '-q', '--build-arg', 'WHO=docker', dir], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(q.status, 0, q.stderr);
    assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const bad = spawnSync(cli.path, ['build', '-'], { env, input: 'FROM busybox\nRUN exit 5\n', encoding: 'utf8' });
    assert.equal(bad.status, 5);
    assert.match(bad.stderr, /returned a non-zero code: 5/);
    const quiet = spawnSync(cli.path, ['build', '-q', '-'], { env, input: 'FROM busybox\nRUN echo quiet-$((40+2)) && exit 2\n', encoding: 'utf8' });
    assert.equal(quiet.status, 2);
    assert.match(quiet.stderr, /quiet-42\n/);
    const prune = spawnSync(cli.path, ['builder', 'prune', '-f'], { env, encoding: 'utf8' });
    assert.equal(prune.status, 0, prune.stderr);
    assert.match(prune.stdout, /Total reclaimed space: /);
    const syntax = spawnSync(cli.path, ['build', '-'], { env, input: 'FROM busybox\nRUNN x\n', encoding: 'utf8' });
    assert.equal(syntax.status, 1);
    assert.match(syntax.stderr, /Dockerfile:2: unknown instruction: RUNN/);
  });
}
