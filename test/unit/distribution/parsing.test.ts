import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from '../../../src/distribution/auth-challenge.js';
import { decodeAuthHeader, registryHostOf } from '../../../src/distribution/auth-config.js';
import { parseManifest, parsePlatform, selectManifest, type ManifestIndex } from '../../../src/distribution/manifest.js';
import { MEDIA, layerCompression } from '../../../src/distribution/media-types.js';
import { humanSize, progressBar } from '../../../src/distribution/progress.js';
import { RegistryHosts, validateInsecureRegistry, validateMirror } from '../../../src/distribution/registry-hosts.js';
import { isTransient, RegistryError, withRetry } from '../../../src/distribution/registry-client.js';
import { NotImplementedError, NotFoundError, InvalidParameterError } from '../../../src/common/errors.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

test('WWW-Authenticate challenges: bearer with quoted params, basic, several in one header', () => {
  const c = parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
  assert.deepEqual(c, [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } }]);
  assert.deepEqual(parseChallenges('Basic realm="basic-realm"'), [{ scheme: 'basic', params: { realm: 'basic-realm' } }]);
  const two = parseChallenges(['Basic realm=x', 'Bearer realm="r", service=s']);
  assert.equal(two.length, 2);
  assert.equal(two[1]!.params['service'], 's');
  assert.deepEqual(parseChallenges(undefined), []);
});

test('X-Registry-Auth: base64url and standard base64, auth field split, junk ignored', () => {
  const json = JSON.stringify({ username: 'u', password: 'p+/?', serveraddress: 'localhost:5000' });
  assert.deepEqual(decodeAuthHeader(Buffer.from(json).toString('base64url')), { username: 'u', password: 'p+/?', serveraddress: 'localhost:5000' });
  assert.deepEqual(decodeAuthHeader(Buffer.from(json).toString('base64')), { username: 'u', password: 'p+/?', serveraddress: 'localhost:5000' });
  assert.deepEqual(decodeAuthHeader('e30='), {});
  assert.deepEqual(decodeAuthHeader('%%%not base64'), {});
  const viaAuth = Buffer.from(JSON.stringify({ auth: Buffer.from('me:secret').toString('base64') })).toString('base64url');
  assert.deepEqual(decodeAuthHeader(viaAuth), { username: 'me', password: 'secret' });
  assert.equal(registryHostOf('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryHostOf('localhost:5000'), 'localhost:5000');
  assert.equal(registryHostOf('https://127.0.0.1:5443/v2/'), '127.0.0.1:5443');
});

test('manifests: schema2, OCI, lists; schema1 is refused clearly', () => {
  const m = parseManifest(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, size: 10, digest: D('a') },
    layers: [{ mediaType: MEDIA.dockerLayer, size: 20, digest: D('b') }],
  })), undefined);
  assert.equal(m.kind, 'image');
  const oci = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: MEDIA.ociConfig, size: 1, digest: D('c') }, layers: [] })), MEDIA.ociManifest);
  assert.equal(oci.mediaType, MEDIA.ociManifest);
  const idx = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), 'application/json');
  assert.equal(idx.kind, 'index');
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] })), MEDIA.schema1Signed), NotImplementedError);
  assert.throws(() => parseManifest(Buffer.from('{'), undefined), InvalidParameterError);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { digest: 'md5:x', size: 1 }, layers: [] })), undefined), InvalidParameterError);
});

test('platform selection: exact variant, arch fallback, and Docker\'s error when none fits', () => {
  const index: ManifestIndex = {
    kind: 'index', mediaType: MEDIA.ociIndex, manifests: [
      { mediaType: MEDIA.ociManifest, digest: D('1') as never, size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MEDIA.ociManifest, digest: D('2') as never, size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { mediaType: MEDIA.ociManifest, digest: D('3') as never, size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  };
  assert.equal(selectManifest(index, parsePlatform('linux/amd64'), 'x').digest, D('1'));
  assert.equal(selectManifest(index, parsePlatform('linux/arm/v7'), 'x').digest, D('2'));
  assert.equal(selectManifest(index, parsePlatform('arm64'), 'x').digest, D('3'));
  assert.equal(selectManifest(index, parsePlatform('linux/aarch64'), 'x').digest, D('3'));
  assert.throws(() => selectManifest(index, parsePlatform('linux/s390x'), 'busybox:latest'), (e: Error) => e instanceof NotFoundError && /no matching manifest for linux\/s390x in the manifest list entries/.test(e.message));
  assert.throws(() => parsePlatform('a/b/c/d'), InvalidParameterError);
});

test('layer media types map to their compression', () => {
  assert.equal(layerCompression(MEDIA.dockerLayer), 'gzip');
  assert.equal(layerCompression(MEDIA.ociLayer), 'none');
  assert.equal(layerCompression(MEDIA.ociLayerZstd), 'zstd');
  assert.equal(layerCompression('text/plain'), undefined);
});

test('progress bars and sizes as Docker renders them', () => {
  assert.equal(humanSize(512), '512B');
  assert.equal(humanSize(1024), '1.024kB');
  assert.equal(humanSize(40_000_000), '40MB');
  assert.equal(progressBar(512, 1024), `[${'='.repeat(25)}>${' '.repeat(25)}]     512B/1.024kB`);
  assert.equal(progressBar(1024, 1024), `[${'='.repeat(50)}>]  1.024kB/1.024kB`);
});

test('insecure registries: loopback by default, names and CIDRs from flags; bad values refused', () => {
  const h = new RegistryHosts({ insecureRegistries: ['myreg:5000', '10.1.0.0/16'], mirrors: [], certsDir: '/nonexistent' });
  assert.equal(h.isInsecure('127.0.0.1:5000'), true);
  assert.equal(h.isInsecure('127.9.9.9'), true);
  assert.equal(h.isInsecure('myreg:5000'), true);
  assert.equal(h.isInsecure('10.1.2.3:443'), true);
  assert.equal(h.isInsecure('10.2.0.1'), false);
  assert.equal(h.isInsecure('registry.example.com'), false);
  assert.equal(h.isInsecure('localhost:5000'), false);
  const eps = new RegistryHosts({ insecureRegistries: [], mirrors: ['http://127.0.0.1:5001'], certsDir: '/x' }).endpoints('docker.io', { push: false });
  assert.deepEqual(eps.map((e) => [e.url, e.mirror]), [['http://127.0.0.1:5001', true], ['https://registry-1.docker.io', false]]);
  assert.throws(() => validateInsecureRegistry('http://x:5000'), /should not contain '::\/\/'|should not contain '\:\/\/'/);
  assert.throws(() => validateMirror('ftp://x'), /unsupported scheme/);
  h.close();
});

test('retries: transient failures are retried with back-off, others are not', async () => {
  let n = 0;
  const v = await withRetry(async () => {
    n++;
    if (n < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    return 'ok';
  }, { baseMs: 1 });
  assert.equal(v, 'ok');
  assert.equal(n, 3);
  let m = 0;
  await assert.rejects(withRetry(async () => { m++; throw new RegistryError('denied', 403, 'DENIED'); }, { baseMs: 1 }), /denied/);
  assert.equal(m, 1);
  assert.equal(isTransient(new RegistryError('x', 503, undefined)), true);
});
