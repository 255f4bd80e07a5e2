import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, createReadStream, statSync, statfsSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { checkDaemon } from '../../helpers/fault-harness.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry-harness.js';

// The data root on a 64 MiB loop-mounted ext4: a log flood and an import bigger than the space
// give a clear error, leave nothing corrupt, and everything works again once space returns.
let base = '';
let mnt = '';
let d: TestDaemon;

before(async () => {
  base = mkdtempSync('/tmp/berth-diskfull-');
  mnt = join(base, 'mnt');
  mkdirSync(mnt);
  const img = join(base, 'fs.img');
  execFileSync('truncate', ['-s', '64M', img]);
  execFileSync('mkfs.ext4', ['-q', '-F', img]);
  execFileSync('mount', ['-o', 'loop', img, mnt]);
  d = await startTestDaemon(['--data-root', join(mnt, 'data')]);
  await importBusybox(d);
});

after(async () => {
  await d?.destroy().catch((err: unknown) => { throw err; }).finally(() => {
    const left = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${mnt}/`)).reverse();
    for (const m of left) execFileSync('umount', ['-l', m]);
    try { execFileSync('umount', [mnt]); } catch { execFileSync('umount', ['-l', mnt]); }
    rmSync(base, { recursive: true, force: true });
  });
});

const freeBytes = (): number => { const s = statfsSync(mnt); return s.bavail * s.bsize; };

function postFile(path: string, file: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': statSync(file).size } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

test('an import bigger than the data root: no space left on device, nothing half-kept, works again after', { timeout: 60_000 }, async () => {
  const src = join(base, 'big');
  mkdirSync(src);
  execFileSync('sh', ['-c', `head -c 90M /dev/urandom > ${join(src, 'blob')}`]);
  const tar = join(base, 'big.tar');
  execFileSync('tar', ['-c', '-f', tar, '-C', src, '.']);
  rmSync(src, { recursive: true });
  const free0 = freeBytes();
  const r = await postFile('/images/create?fromSrc=-&repo=toobig&tag=1', tar);
  rmSync(tar);
  const failed = r.status >= 400 || /"errorDetail"/.test(r.body);
  assert.ok(failed, `the import fails: ${r.status} ${r.body.slice(0, 300)}`);
  assert.match(r.body, /no space left on device/);
  assert.equal((await d.api('GET', '/images/toobig:1/json')).status, 404);
  const check = await checkDaemon(d);
  assert.deepEqual(check.Problems, []);
  assert.ok(freeBytes() >= free0 - (1 << 20), `the space came back (${free0} -> ${freeBytes()})`);
  // Recovery: an import that fits works.
  await importBusybox(d, 'busybox:again');
  assert.equal((await d.api('GET', '/images/busybox:again/json')).status, 200);
});

test('a log flood fills the data root: berthd stays up, reports ENOSPC clearly, recovers once the space is freed', { timeout: 90_000 }, async () => {
  const c = await d.api('POST', '/containers/create?name=flood', { Image: 'busybox', Cmd: ['sh', '-c', `yes ${'x'.repeat(500)}`] });
  assert.equal(c.status, 201, c.body);
  const fs = await d.api('POST', '/containers/flood/start');
  assert.equal(fs.status, 204, fs.body);
  for (let i = 0; i < 200 && freeBytes() > 256 << 10; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(freeBytes() <= 256 << 10, `the flood filled the disk (free ${freeBytes()})`);
  assert.equal((await d.api('GET', '/_ping')).status, 200);
  assert.equal((await d.api('GET', '/containers/flood/json')).status, 200);
  // Writes that need space now fail in Docker's words, not with a crash.
  const v = await d.api('POST', '/volumes/create', { Name: 'during-full' });
  const i = await importBusybox(d, 'busybox:full').then(() => 'ok', (err: Error) => err.message);
  assert.ok(v.status === 201 || /no space left on device/.test(v.body), `volume create: ${v.status} ${v.body}`);
  assert.ok(i === 'ok' || /no space left on device/.test(i), `import while full: ${i}`);
  // Free the space: remove the flood (its log goes with it).
  const rm = await d.api('DELETE', '/containers/flood?force=1');
  assert.equal(rm.status, 204, `${rm.body}\n${d.log().slice(-2500)}`);
  assert.ok(freeBytes() > 20 << 20, `space returned (${freeBytes()})`);
  const check = await checkDaemon(d);
  assert.deepEqual(check.Problems, []);
  // Everything works again.
  const ok = await d.api('POST', '/containers/create?name=after', { Image: 'busybox', Cmd: ['echo', 'fine'] });
  assert.equal(ok.status, 201, ok.body);
  const as = await d.api('POST', '/containers/after/start');
  assert.equal(as.status, 204, as.body);
  assert.deepEqual((await d.api('POST', '/containers/after/wait')).json(), { StatusCode: 0 });
  assert.match((await d.api('GET', '/containers/after/logs?stdout=1')).body, /fine/);
  await d.api('DELETE', '/volumes/during-full');
});

/** Sends one request to the registry with a body; resolves status, headers and body. */
function registryCall(url: string, method: string, body: Buffer | undefined, headers: Record<string, string> = {}): Promise<{ status: number; location: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: String(res.headers.location ?? ''), body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Puts a one-layer image (`bytes` of random data) into the registry as `<repo>:<tag>`, schema 2. */
async function seedRegistryImage(reg: TestRegistry, repo: string, tag: string, bytes: number): Promise<void> {
  const src = join(base, 'layer-src');
  mkdirSync(src);
  execFileSync('sh', ['-c', `head -c ${bytes} /dev/urandom > ${join(src, 'payload')}`]);
  const tarPath = join(base, 'layer.tar');
  execFileSync('tar', ['-c', '-f', tarPath, '-C', src, 'payload']);
  rmSync(src, { recursive: true });
  const tar = readFileSync(tarPath);
  execFileSync('gzip', ['-1', '-f', tarPath]);
  const gz = readFileSync(`${tarPath}.gz`);
  rmSync(`${tarPath}.gz`);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['/payload'] }, rootfs: { type: 'layers', diff_ids: [sha256(tar)] }, history: [{ created_by: 'test' }],
  }));
  for (const blob of [gz, config]) {
    const start = await registryCall(`${reg.url}/v2/${repo}/blobs/uploads/`, 'POST', undefined);
    assert.equal(start.status, 202, start.body);
    const loc = start.location.startsWith('http') ? start.location : `${reg.url}${start.location}`;
    const put = await registryCall(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, 'PUT', blob, { 'Content-Type': 'application/octet-stream' });
    assert.equal(put.status, 201, put.body);
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: gz.length, digest: sha256(gz) }],
  }));
  const m = await registryCall(`${reg.url}/v2/${repo}/manifests/${tag}`, 'PUT', manifest, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
  assert.equal(m.status, 201, m.body);
}

test('a pull bigger than the free space: a clear error in the stream, no partial image, check clean; the same pull works once space is freed', { timeout: 120_000 }, async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const layerBytes = 16 << 20;
  await seedRegistryImage(reg, 'big', '1', layerBytes);
  const ref = `${reg.host}/big:1`;
  const filler = join(mnt, 'filler');
  t.after(() => rmSync(filler, { force: true }));
  const pullPath = `/images/create?fromImage=${encodeURIComponent(`${reg.host}/big`)}&tag=1`;
  // Leaves `free` bytes, pulls, and expects a clean failure.
  const failingPull = async (free: number, stage: string): Promise<void> => {
    rmSync(filler, { force: true });
    execFileSync('fallocate', ['-l', String(Math.max(0, freeBytes() - free)), filler]);
    const free0 = freeBytes();
    const pull = await d.api('POST', pullPath);
    assert.equal(pull.status, 200, pull.body);
    const lines = pull.body.trim().split('\n').map((l) => JSON.parse(l) as { error?: string; errorDetail?: { message: string } });
    const last = lines[lines.length - 1]!;
    assert.ok(last.errorDetail, `${stage}: the pull ends with an error: ${pull.body.slice(-400)}`);
    assert.match(last.errorDetail.message, /no space left on device/, stage);
    t.diagnostic(`${stage}: ${last.errorDetail.message}`);
    assert.equal(last.error, last.errorDetail.message);
    assert.equal((await d.api('GET', `/images/${encodeURIComponent(ref)}/json`)).status, 404, stage);
    assert.deepEqual((await checkDaemon(d)).Problems, [], stage);
    assert.ok(freeBytes() >= free0 - (1 << 20), `${stage}: the space came back (${free0} -> ${freeBytes()})`);
  };
  // The download itself does not fit.
  await failingPull(layerBytes / 2, 'download');
  // The download fits, its extraction does not (the compressed blob is kept beside the layer).
  await failingPull(layerBytes + (2 << 20), 'extraction');

  rmSync(filler);
  const again = await d.api('POST', pullPath);
  assert.equal(again.status, 200);
  assert.doesNotMatch(again.body, /errorDetail/, again.body.slice(-400));
  assert.match(again.body, /Status: Downloaded newer image for /);
  const img = (await d.api('GET', `/images/${encodeURIComponent(ref)}/json`)).json() as { Size: number };
  assert.ok(img.Size >= layerBytes, `image size ${img.Size}`);
  assert.deepEqual((await checkDaemon(d)).Problems, []);
  assert.equal((await d.api('DELETE', `/images/${encodeURIComponent(ref)}`)).status, 200);
});
