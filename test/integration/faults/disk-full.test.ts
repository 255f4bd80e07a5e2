import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, createReadStream, statSync, statfsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { checkDaemon } from '../../helpers/fault-harness.js';

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
