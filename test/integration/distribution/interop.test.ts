import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, busyboxRootfsTar, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, berthFull, type TestRegistry } from '../../helpers/registry-harness.js';

let dir: string;
let reg: TestRegistry;
let d: TestDaemon;

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * An OCI image layout with an index of two platforms (linux/amd64 and linux/arm64) over the
 * busybox rootfs layer, written by hand so that skopeo reads something nobody here packed.
 */
function writeOciLayout(root: string): { amd64Config: string; arm64Config: string } {
  const blobs = join(root, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const digest = sha(b);
    writeFileSync(join(blobs, digest.slice(7)), b);
    return { digest, size: b.length };
  };
  const tar = readFileSync(busyboxRootfsTar());
  const layer = put(gzipSync(tar));
  const diffId = sha(tar);
  const manifestFor = (arch: string): { desc: { digest: string; size: number }; config: string } => {
    const config = put(Buffer.from(JSON.stringify({
      architecture: arch, os: 'linux', created: '2024-01-02T03:04:05Z',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: { arch } },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: '2024-01-02T03:04:05Z', created_by: 'hand-made OCI layout' }],
    })));
    const m = put(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    })));
    return { desc: m, config: config.digest };
  };
  const amd = manifestFor('amd64');
  const arm = manifestFor('arm64');
  const index = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...amd.desc, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...arm.desc, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ],
  };
  // skopeo reads the image named by the annotation from index.json, which points at our index.
  const idx = put(Buffer.from(JSON.stringify(index)));
  writeFileSync(join(root, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...idx, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  }));
  writeFileSync(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return { amd64Config: amd.config, arm64Config: arm.config };
}

function skopeo(args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-interop-'));
  reg = await startRegistry();
  d = await startTestDaemon();
});
after(async () => {
  await d?.destroy();
  await reg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('skopeo copies a two-platform OCI index in; berth pulls the host platform (or --platform) and runs it', async () => {
  const layout = join(dir, 'oci');
  const cfg = writeOciLayout(layout);
  skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.host}/sk/bb:1`]);
  const out = d.berth(['pull', `${reg.host}/sk/bb:1`]);
  assert.equal(out.code, 0, out.stderr);
  const inspect = (await d.api('GET', `/images/${reg.host}/sk/bb:1/json`)).json() as { Id: string; Architecture: string; RepoDigests: string[] };
  const hostArch = process.arch === 'x64' ? 'amd64' : process.arch;
  assert.equal(inspect.Architecture, hostArch);
  assert.equal(inspect.Id, hostArch === 'amd64' ? cfg.amd64Config : cfg.arm64Config);
  // The RepoDigest is the index's digest, as the tag names it.
  const raw = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/sk/bb:1`]);
  assert.deepEqual(inspect.RepoDigests, [`${reg.host}/sk/bb@${sha(raw)}`]);
  const run = d.berth(['run', '--rm', `${reg.host}/sk/bb:1`, 'echo', 'skopeo-made']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'skopeo-made');
  const arm = d.berth(['pull', '--platform', 'linux/arm64', `${reg.host}/sk/bb:1`]);
  assert.equal(arm.code, 0, arm.stderr);
  const armInspect = (await d.api('GET', `/images/${reg.host}/sk/bb:1/json`)).json() as { Id: string; Architecture: string };
  assert.equal(armInspect.Architecture, 'arm64');
  assert.equal(armInspect.Id, cfg.arm64Config);
  const none = await d.api('POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/sk/bb`)}&tag=1&platform=linux/s390x`);
  assert.equal(none.status, 404);
  assert.match(none.body, /no matching manifest for linux\/s390x in the manifest list entries/);
});

test('berth pushes; skopeo inspect sees the same manifest, config and layer digests', async () => {
  await importBusybox(d, 'pushme:latest');
  assert.equal((await d.api('POST', `/images/pushme:latest/tag?repo=${encodeURIComponent(`${reg.host}/from/berth`)}&tag=2`)).status, 201);
  const push = d.berth(['push', `${reg.host}/from/berth:2`]);
  assert.equal(push.code, 0, push.stderr);
  const digest = /2: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)![1]!;
  const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/from/berth:2`])) as { Digest: string; Layers: string[]; Architecture: string };
  assert.equal(info.Digest, digest);
  const raw = JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/from/berth:2`])) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const local = (await d.api('GET', `/images/${reg.host}/from/berth:2/json`)).json() as { Id: string };
  assert.equal(raw.config.digest, local.Id);
  assert.deepEqual(info.Layers, raw.layers.map((l) => l.digest));
  // skopeo can copy it out and read the layer (the blob is a valid gzip tar).
  const outDir = join(dir, 'copied');
  skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/from/berth:2`, `dir:${outDir}`]);
  assert.ok(existsSync(join(outDir, 'manifest.json')));
});

const DOCKER = '/usr/local/bin/docker';

test('the real docker CLI drives pull, push and run-pulls-missing against berthd', { skip: !existsSync(DOCKER) ? 'docker CLI not installed' : false }, async () => {
  const env = { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: join(dir, 'docker-cli-config') };
  const docker = (args: string[]): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(DOCKER, args, { env, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const tag = docker(['tag', 'pushme:latest', `${reg.host}/docker/cli:3`]);
  assert.equal(tag.code, 0, tag.stderr);
  const push = docker(['push', `${reg.host}/docker/cli:3`]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /3: digest: sha256:[0-9a-f]{64} size: \d+/);
  assert.equal(docker(['rmi', `${reg.host}/docker/cli:3`]).code, 0);
  const pull = docker(['pull', `${reg.host}/docker/cli:3`]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /Status: (Downloaded newer image|Image is up to date) for/);
  assert.match(pull.stdout, new RegExp(`${reg.host.replace(/\./g, '\\.')}/docker/cli:3`));
  assert.equal(docker(['rmi', `${reg.host}/docker/cli:3`]).code, 0);
  const run = docker(['run', '--rm', `${reg.host}/docker/cli:3`, 'echo', 'docker-cli-run']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /Unable to find image .* locally/);
  assert.equal(run.stdout.trim().split('\n').pop(), 'docker-cli-run');
  const missing = docker(['pull', `${reg.host}/docker/cli:nope`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /manifest for .*docker\/cli:nope not found: manifest unknown/);
  const digests = docker(['images', '--digests', '--format', '{{.Repository}} {{.Digest}}']);
  assert.match(digests.stdout, new RegExp(`${reg.host.replace(/\./g, '\\.')}/docker/cli sha256:[0-9a-f]{64}`));
});
