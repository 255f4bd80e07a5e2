import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, berthAsync, type TestRegistry } from '../../helpers/registry-harness.js';
import { Transform } from 'node:stream';

let dir: string;
let reg: TestRegistry;
let proxy: { server: Server; port: number; sockets: Set<Socket> };
let src: TestDaemon;
let dst: TestDaemon;

/** A tar of one directory holding a file of `size` random bytes. */
function randomTar(name: string, size: number): Buffer {
  const root = join(dir, name);
  mkdirSync(join(root, 'data'), { recursive: true });
  writeFileSync(join(root, 'data', `${name}.bin`), randomBytes(size));
  return execFileSync('tar', ['-C', root, '-cf', '-', 'data'], { maxBuffer: 256 << 20 });
}

async function importTar(d: TestDaemon, tar: Buffer, repo: string, tag: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path: `/images/create?fromSrc=-&repo=${encodeURIComponent(repo)}&tag=${tag}`, headers: { 'Content-Length': tar.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`import ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(tar);
  });
}

/** A TCP proxy to the registry that slows every read down (about 4 MB/s). */
async function slowProxy(target: number): Promise<typeof proxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => { sockets.delete(client); upstream.destroy(); });
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    const slow = new Transform({
      transform(chunk: Buffer, _e: BufferEncoding, cb: (err: null, data: Buffer) => void): void {
        setTimeout(() => cb(null, chunk), Math.ceil(chunk.length / 4096));
      },
    });
    upstream.pipe(slow).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-pullfail-'));
  reg = await startRegistry();
  proxy = await slowProxy(reg.port);
  src = await startTestDaemon();
  dst = await startTestDaemon();
  await importTar(src, randomTar('big', 12 << 20), `${reg.host}/big/img`, 'v1');
  await importTar(src, randomTar('small', 64 << 10), `${reg.host}/small/img`, 'v1');
  for (const r of ['big/img', 'small/img']) {
    const out = src.berth(['push', `${reg.host}/${r}:v1`]);
    assert.equal(out.code, 0, out.stderr);
  }
});
after(async () => {
  await dst?.destroy();
  await src?.destroy();
  if (proxy) {
    for (const s of proxy.sockets) s.destroy();
    await new Promise<void>((r) => proxy.server.close(() => r()));
  }
  await reg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts a pull and resolves once the first Downloading message arrives, with a way to stop reading. */
function pullUntilDownloading(d: TestDaemon, ref: string, tag: string): Promise<{ abort: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(ref)}&tag=${tag}` }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('"Downloading"')) resolve({ abort: () => req.destroy() });
      });
      res.on('error', () => undefined);
      res.on('end', () => reject(new Error(`pull ended before downloading: ${text}`)));
    });
    req.on('error', () => undefined);
    req.end();
  });
}

async function imageCount(d: TestDaemon): Promise<number> {
  return ((await d.api('GET', '/images/json')).json() as unknown[]).length;
}

test('a client that disconnects mid-pull leaves nothing visible; the next pull succeeds', async () => {
  const ref = `127.0.0.1:${proxy.port}/big/img`;
  const p = await pullUntilDownloading(dst, ref, 'v1');
  p.abort();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await imageCount(dst), 0);
  assert.equal((await dst.api('GET', `/images/${ref}:v1/json`)).status, 404);
  const again = await berthAsync(dst, ['pull', `${ref}:v1`]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(await imageCount(dst), 1);
  assert.equal((await dst.api('DELETE', `/images/${ref}:v1`)).status, 200);
});

test('kill -9 of berthd mid-pull leaves nothing visible; after a restart the pull succeeds', async () => {
  const ref = `127.0.0.1:${proxy.port}/big/img`;
  await pullUntilDownloading(dst, ref, 'v1');
  await dst.crash();
  await dst.restart();
  assert.equal(await imageCount(dst), 0);
  assert.equal((await dst.api('GET', `/images/${ref}:v1/json`)).status, 404);
  const again = await berthAsync(dst, ['pull', `${ref}:v1`]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Pull complete/);
  const inspect = (await dst.api('GET', `/images/${ref}:v1/json`)).json() as { RootFS: { Layers: string[] } };
  assert.equal(inspect.RootFS.Layers.length, 1);
});

test('a tampered blob fails the pull with a verification error and leaves nothing', async () => {
  // Find the small image's layer blob in the registry's storage and flip a byte in it.
  const manifest = await reg.get('/v2/small/img/manifests/v1', { Accept: 'application/vnd.docker.distribution.manifest.v2+json' });
  const layerDigest = (JSON.parse(manifest.body) as { layers: Array<{ digest: string }> }).layers[0]!.digest;
  const hex = layerDigest.slice(7);
  const data = join(reg.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  const bytes = readFileSync(data);
  bytes[bytes.length - 20] ^= 0xff;
  writeFileSync(data, bytes);
  const before = await imageCount(dst);
  const out = dst.berth(['pull', `${reg.host}/small/img:v1`]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, new RegExp(`filesystem layer verification failed for digest ${layerDigest}`));
  assert.equal(await imageCount(dst), before);
  assert.equal((await dst.api('GET', `/images/${reg.host}/small/img:v1/json`)).status, 404);
  // Nothing of the bad blob stays in the content store.
  const blobDir = join(dst.dataRoot, 'content', 'sha256');
  const names = readdirSync(blobDir);
  assert.ok(!names.includes(hex), 'the tampered blob was not kept');
  const ingest = join(dst.dataRoot, 'content', 'ingest');
  const leftovers = (() => { try { return readdirSync(ingest).filter((f) => statSync(join(ingest, f)).isFile()); } catch { return []; } })();
  assert.deepEqual(leftovers, []);
});

test('a connection dropped mid-blob is resumed with a Range request and the pull succeeds', async () => {
  // Start from nothing: the earlier tests left the image (and its layer) behind.
  assert.equal((await dst.api('DELETE', `/images/127.0.0.1:${proxy.port}/big/img:v1`)).status, 200);
  assert.equal(await imageCount(dst), 0);
  await new Promise((r) => setTimeout(r, 200));
  // A proxy that cuts the first response carrying more than 2 MB, once.
  let cut = false;
  const sockets = new Set<Socket>();
  const flaky = createServer((client) => {
    const upstream = connect(reg.port, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let sent = 0;
    client.on('close', () => { sockets.delete(client); upstream.destroy(); });
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (!cut && sent > 2 << 20) {
        cut = true;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', () => r()));
  const port = (flaky.address() as { port: number }).port;
  try {
    const ref = `127.0.0.1:${port}/big/img:v1`;
    const out = await berthAsync(dst, ['pull', ref]);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(cut, 'the proxy cut a download');
    assert.match(dst.log(), /download interrupted, resuming/);
    assert.equal((await dst.api('GET', `/images/${ref}/json`)).status, 200);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => flaky.close(() => r()));
  }
});
