import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { rawRequest } from './image-helpers.js';

let d: TestDaemon;
let work: string;

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function counts(t: TestDaemon): { layers: number; splits: number; scratch: number } {
  const ov = join(t.dataRoot, 'overlay2');
  const vfs = join(t.dataRoot, 'vfs', 'dir');
  const layers = existsSync(ov) ? readdirSync(ov).filter((n) => n !== 'l' && !n.startsWith('.')).length : existsSync(vfs) ? readdirSync(vfs).length : 0;
  const sp = join(t.dataRoot, 'layerdb', 'tar-split');
  const tmp = join(t.dataRoot, 'layerdb', 'tmp');
  return { layers, splits: existsSync(sp) ? readdirSync(sp).length : 0, scratch: existsSync(tmp) ? readdirSync(tmp).length : 0 };
}

/** A docker-archive with one layer holding `files`, plus extra raw members placed by `tweak`. */
function makeArchive(name: string, files: Record<string, Buffer>, tweak?: (dir: string) => void): Buffer {
  const dir = mkdtempSync(join(work, 'arch-'));
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  for (const [p, content] of Object.entries(files)) writeFileSync(join(rootfs, p), content);
  mkdirSync(join(dir, 'out', 'layer1'), { recursive: true });
  const layer = execFileSync('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], { maxBuffer: 1 << 30 });
  writeFileSync(join(dir, 'out', 'layer1', 'layer.tar'), layer);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } });
  writeFileSync(join(dir, 'out', `${sha256(Buffer.from(config)).slice(7)}.json`), config);
  writeFileSync(join(dir, 'out', 'manifest.json'), JSON.stringify([{ Config: `${sha256(Buffer.from(config)).slice(7)}.json`, RepoTags: [name], Layers: ['layer1/layer.tar'] }]));
  tweak?.(join(dir, 'out'));
  const out = execFileSync('tar', ['-C', join(dir, 'out'), '-c', '.'], { maxBuffer: 1 << 30 });
  rmSync(dir, { recursive: true, force: true });
  return out;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-loadsafety-'));
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
});
after(async () => {
  await d?.destroy();
  rmSync(work, { recursive: true, force: true });
});

test('archive members cannot reach outside the scratch dir: ../ names, links out, absolute links', async () => {
  const before = counts(d);
  const victim = join(work, 'victim');
  writeFileSync(victim, 'keep');
  const cases: Array<[string, (dir: string) => void]> = [
    ['symlinked layer.tar to an absolute path', (dir) => {
      rmSync(join(dir, 'layer1', 'layer.tar'));
      symlinkSync(victim, join(dir, 'layer1', 'layer.tar'));
    }],
    ['symlinked layer.tar climbing out', (dir) => {
      rmSync(join(dir, 'layer1', 'layer.tar'));
      symlinkSync('../../../../../../../../etc/passwd', join(dir, 'layer1', 'layer.tar'));
    }],
    ['symlinked manifest.json', (dir) => {
      rmSync(join(dir, 'manifest.json'));
      symlinkSync('/etc/passwd', join(dir, 'manifest.json'));
    }],
  ];
  for (const [what, tweak] of cases) {
    const r = await rawRequest(d.socket, 'POST', '/images/load?quiet=1', makeArchive('hostile:1', { f: Buffer.from('x') }, tweak));
    assert.equal(r.status, 400, `${what}: ${r.text()}`);
    assert.match(r.text(), /points outside the archive/, what);
  }
  // A member named ../x (GNU tar writes it verbatim with -P).
  const dir = mkdtempSync(join(work, 'dots-'));
  writeFileSync(join(dir, 'x'), 'x');
  const dots = execFileSync('tar', ['-C', dir, '-P', '-c', '--transform', 's,^,../../,', 'x']);
  const r = await rawRequest(d.socket, 'POST', '/images/load?quiet=1', dots);
  assert.equal(r.status, 400, r.text());
  assert.match(r.text(), /escapes/);
  assert.equal((await rawRequest(d.socket, 'GET', '/images/hostile:1/json')).status, 404);
  assert.deepEqual(counts(d), before);
  assert.equal(execFileSync('cat', [victim]).toString(), 'keep');
});

test('a truncated gzip archive is refused and leaves nothing', async () => {
  const before = counts(d);
  const archive = makeArchive('gz:1', { f: randomBytes(100_000) });
  const { gzipSync } = await import('node:zlib');
  const gz = gzipSync(archive);
  const r = await rawRequest(d.socket, 'POST', '/images/load?quiet=1', gz.subarray(0, gz.length - 2000));
  assert.equal(r.status, 400, r.text());
  assert.deepEqual(counts(d), before);
});

/** Streams `body` to POST /images/load, calling `midway` once `at` bytes are sent, then the rest. */
function slowLoad(socket: string, body: Buffer, at: number, midway: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, method: 'POST', path: '/images/load?quiet=1', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': body.length } }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => resolve());
    });
    req.on('error', () => resolve());
    req.write(body.subarray(0, at), () => {
      void midway().then(() => {
        req.end(body.subarray(at));
      });
    });
  });
}

test('kill -9 of berthd mid-load (while receiving, while registering) leaves nothing; the next load works', async () => {
  const archive = makeArchive('big:1', { a: randomBytes(48 * 1024 * 1024), b: Buffer.from('small') });
  const imagesBefore = ((await d.api('GET', '/images/json')).json() as unknown[]).length;
  const before = counts(d);

  // 1) Killed while the archive is still arriving.
  await slowLoad(d.socket, archive, archive.length >> 1, async () => {
    for (let i = 0; i < 200 && counts(d).scratch === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await d.crash();
  });
  await d.restart();
  assert.deepEqual(counts(d), before);
  assert.equal((await d.api('GET', '/images/big:1/json')).status, 404);

  // 2) Killed while the layer is being registered (the layer dir exists, the image does not).
  const sent = slowLoad(d.socket, archive, archive.length, async () => undefined);
  for (let i = 0; i < 2000 && counts(d).layers === before.layers; i++) await new Promise((r) => setTimeout(r, 2));
  await d.crash();
  await sent;
  await d.restart();
  assert.deepEqual(counts(d), before);
  assert.equal(((await d.api('GET', '/images/json')).json() as unknown[]).length, imagesBefore);

  // The next attempt succeeds, and the image runs.
  const ok = await rawRequest(d.socket, 'POST', '/images/load?quiet=1', archive);
  assert.equal(ok.status, 200, ok.text());
  assert.match(ok.text(), /Loaded image: big:1/);
  assert.equal(counts(d).layers, before.layers + 1);
});

test('kill -9 of berthd mid-commit leaves no layer behind; the container survives and the next commit works', async () => {
  const c = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'head -c 60000000 /dev/urandom > /big; head -c 1000 /dev/urandom > /small'] })).json() as { Id: string };
  await d.api('POST', `/containers/${c.Id}/start`);
  await d.api('POST', `/containers/${c.Id}/wait`);
  const imagesBefore = ((await d.api('GET', '/images/json')).json() as unknown[]).length;
  const before = counts(d);
  const commit = d.api('POST', `/commit?container=${c.Id}&repo=crashed`).catch(() => undefined);
  for (let i = 0; i < 2000 && counts(d).layers === before.layers; i++) await new Promise((r) => setTimeout(r, 2));
  await d.crash();
  await commit;
  await d.restart();
  assert.deepEqual(counts(d), before);
  assert.equal(((await d.api('GET', '/images/json')).json() as unknown[]).length, imagesBefore);
  assert.equal((await d.api('GET', '/images/crashed/json')).status, 404);
  assert.equal((await d.api('GET', `/containers/${c.Id}/json`)).status, 200);
  const again = await d.api('POST', `/commit?container=${c.Id}&repo=crashed`);
  assert.equal(again.status, 201, again.body);
  const run = d.berth(['run', '--rm', 'crashed', 'sh', '-c', 'wc -c < /big']);
  assert.equal(run.stdout.trim(), '60000000');
});

test('a decompression bomb is stopped at --max-layer-size, for archives and for imported layers', async () => {
  const small = await startTestDaemon(['--max-layer-size', '4m']);
  try {
    const before = counts(small);
    const { gzipSync } = await import('node:zlib');
    const bomb = gzipSync(makeArchive('bomb:1', { zeros: Buffer.alloc(32 * 1024 * 1024) }), { level: 9 });
    assert.ok(bomb.length < 200 * 1024, `bomb is ${bomb.length} bytes`);
    const r = await rawRequest(small.socket, 'POST', '/images/load?quiet=1', bomb);
    assert.equal(r.status, 400, r.text());
    assert.match(r.text(), /exceeds the size limit of 4194304 bytes/);
    const dir = mkdtempSync(join(work, 'bombfs-'));
    writeFileSync(join(dir, 'zeros'), Buffer.alloc(32 * 1024 * 1024));
    const layer = gzipSync(execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 1 << 30 }), { level: 9 });
    const imp = await rawRequest(small.socket, 'POST', '/images/create?fromSrc=-&repo=bomb2', layer);
    assert.equal(imp.status, 400, imp.text());
    assert.match(imp.text(), /exceeds the size limit/);
    assert.deepEqual(counts(small), before);
  } finally {
    await small.destroy();
  }
});

test('the start-up sweep of unused layers keeps the layers the build cache names', async () => {
  const ctx = mkdtempSync(join(work, 'buildctx-'));
  // A build that fails after its first RUN: only the cache stands on that step's layer.
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo cached > /cached\nRUN false\n');
  const first = d.berth(['build', ctx]);
  assert.notEqual(first.code, 0);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo cached > /cached\nRUN true\n');
  await d.stop();
  await d.restart();
  const again = d.berth(['build', '-t', 'cachedbuild:2', ctx]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Using cache/);
  const run = d.berth(['run', '--rm', 'cachedbuild:2', 'cat', '/cached']);
  assert.equal(run.stdout, 'cached\n');
});
