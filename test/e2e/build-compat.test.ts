import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, busyboxRootfsTar, type TestDaemon } from '../helpers/daemon-harness.js';

const DOCKER = '/usr/local/bin/docker';
const HAS_DOCKERD = existsSync('/usr/sbin/dockerd') || existsSync('/usr/bin/dockerd');
let hasDockerPy = true;
try { execFileSync('python3', ['-c', 'import docker'], { stdio: 'ignore' }); } catch { hasDockerPy = false; }

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
  const root = mkdtempSync(join(tmpdir(), 'berth-buildcmp-dockerd-'));
  const host = `unix://${join(root, 'docker.sock')}`;
  execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', '10.213.78.1/24', 'dev', BRIDGE]);
  execFileSync('ip', ['link', 'set', BRIDGE, 'up']);
  let proc: ChildProcess | undefined;
  try {
    proc = spawn('dockerd', [
      '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'docker.pid'),
      '-H', host, '--bridge', BRIDGE, '--iptables=false', '--ip-forward=false',
      '--containerd-namespace', 'berthbldcmp', '--containerd-plugins-namespace', 'berthbldcmpp',
    ], { stdio: 'ignore' });
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      up = docker(host, ['version']).status === 0;
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(up, 'dockerd started');
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
    if (proc) {
      docker(host, ['rm', '-f', ...docker(host, ['ps', '-aq']).stdout.split('\n').filter(Boolean)]);
      proc.kill('SIGTERM');
      await new Promise((r) => { proc!.once('exit', r); setTimeout(r, 30_000); });
    }
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(root)).reverse();
    for (const m of mounts) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
    rmSync(root, { recursive: true, force: true });
    try { execFileSync('ip', ['link', 'del', BRIDGE]); } catch { /* gone */ }
  }
});

test('docker-py images.build works against berthd', { skip: !hasDockerPy && 'docker-py not installed' }, () => {
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
