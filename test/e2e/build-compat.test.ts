import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, busyboxRootfsTar, type TestDaemon } from '../helpers/daemon-harness.js';
import { DOCKER28_CLI, HAS_DOCKER_PY } from '../helpers/client-clis.js';
import { DOCKERD, startPrivateDockerd } from '../helpers/private-dockerd.js';

const DOCKER = DOCKER28_CLI;
const HAS_DOCKERD = DOCKERD !== undefined;

let d: TestDaemon;
let ctx: string;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
  ctx = mkdtempSync(join(tmpdir(), 'berth-buildcmp-'));
  writeFileSync(join(ctx, 'Dockerfile'), [
    'FROM busybox',
    'ARG VERSION=1.0',
    'ENV APP_VERSION=$VERSION PATH=/app/bin:$PATH',
    'LABEL org.example.version="${VERSION}" maintainer="me"',
    'EXPOSE 8080 53/udp',
    'VOLUME /data',
    'WORKDIR /app',
    'WORKDIR sub',
    'COPY f.txt .',
    'COPY d /dd',
    'RUN echo hi > /x',
    'USER nobody',
    'STOPSIGNAL SIGQUIT',
    'HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1',
    'SHELL ["/bin/sh", "-ec"]',
    'ONBUILD RUN echo child',
    'ENTRYPOINT ["/bin/echo"]',
    'CMD ["hello"]',
  ].join('\n'));
  writeFileSync(join(ctx, 'f.txt'), 'f\n');
  mkdirSync(join(ctx, 'd'));
  writeFileSync(join(ctx, 'd', 'g'), 'g\n');
});
after(async () => {
  rmSync(ctx, { recursive: true, force: true });
  await d?.destroy();
});

function docker(host: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' }, encoding: 'utf8', timeout: 180_000, ...(input !== undefined ? { input } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BRIDGE = 'berthbldcmp0';

test('image config and history equal what dockerd builds from the same Dockerfile', { skip: (!HAS_DOCKERD || !existsSync(DOCKER)) && 'dockerd or the docker CLI not installed', timeout: 300_000 }, async () => {
  const dd = await startPrivateDockerd({ bridge: BRIDGE, bridgeAddr: '10.213.78.1/24', namespace: 'berthbldcmp', rootPrefix: 'berth-buildcmp-dockerd-' });
  const host = dd.host;
  try {
    assert.equal(docker(host, ['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), 'busybox:latest']).status, 0);
    const theirs = docker(host, ['build', '--build-arg', 'VERSION=2.0', '-t', 'cmp:1', ctx]);
    assert.equal(theirs.status, 0, theirs.stderr);
    const ours = docker(d.host, ['build', '--build-arg', 'VERSION=2.0', '-t', 'cmp:1', ctx]);
    assert.equal(ours.status, 0, ours.stderr);
    const config = (h: string): unknown => JSON.parse(docker(h, ['inspect', '--format', '{{json .Config}}', 'cmp:1']).stdout) as unknown;
    const cfgTheirs = config(host) as Record<string, unknown>;
    const cfgOurs = config(d.host) as Record<string, unknown>;
    delete cfgTheirs['Image'];
    delete cfgOurs['Image'];
    assert.deepEqual(cfgOurs, cfgTheirs);
    const layers = (h: string): string => docker(h, ['inspect', '--format', '{{len .RootFS.Layers}}', 'cmp:1']).stdout;
    assert.equal(layers(d.host), layers(host));
    // History lines agree except content hashes and the HEALTHCHECK field count (newer engines print StartInterval).
    const hist = (h: string): string[] => docker(h, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'cmp:1']).stdout.trim().split('\n')
      .map((l) => l.replace(/(file|dir):[0-9a-f]{64}/, '$1:H').replace(/(HEALTHCHECK &\{\[[^\]]*\]).*$/, '$1'));
    assert.deepEqual(hist(d.host), hist(host));
  } finally {
    await dd.stop();
  }
});

test('docker-py images.build works against berthd', { skip: !HAS_DOCKER_PY && 'docker-py not installed' }, () => {
  const script = `
import sys, io, docker
c = docker.DockerClient(base_url=sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag='py-built:1', buildargs={'VERSION': '3.0'}, rm=True)
text = ''.join(l.get('stream', '') for l in logs)
assert 'Successfully built' in text, text
assert img.labels['org.example.version'] == '3.0', img.labels
assert 'py-built:1' in img.tags, img.tags
try:
    c.images.build(fileobj=io.BytesIO(b'FROM busybox\\nRUN exit 6\\n'), rm=True)
    raise SystemExit('build should fail')
except docker.errors.BuildError as e:
    assert 'returned a non-zero code: 6' in str(e), str(e)
print('ok')
`;
  const r = spawnSync('python3', ['-c', script, d.host, ctx], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(r.stdout.trim(), 'ok');
});
