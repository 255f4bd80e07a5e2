import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tarStream from 'tar-stream';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let hostDir: string;
let bindDir: string;
let stopped: string;

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
  hostDir = mkdtempSync(join(tmpdir(), 'berth-test-host-'));
  writeFileSync(join(hostDir, 'secret'), 'host secret\n');
  bindDir = mkdtempSync(join(tmpdir(), 'berth-test-bind-'));
  writeFileSync(join(bindDir, 'in-bind'), 'bound\n');
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '600'], HostConfig: { Binds: [`${bindDir}:/mnt/bind`] } });
  assert.equal(c.status, 201, c.body);
  stopped = (c.json() as { Id: string }).Id;
});
after(async () => {
  await d?.destroy();
  rmSync(hostDir, { recursive: true, force: true });
  rmSync(bindDir, { recursive: true, force: true });
});

interface Entry { name: string; type?: 'file' | 'directory' | 'symlink'; body?: string; linkname?: string; uid?: number; gid?: number; mode?: number }

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 1000, gid: e.gid ?? 1000, ...(e.linkname ? { linkname: e.linkname } : {}) };
    if (type === 'file') pack.entry(header, e.body ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function raw(method: string, path: string, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method, path, headers: body ? { 'Content-Type': 'application/x-tar', 'Content-Length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function readTar(buf: Buffer): Promise<Array<{ name: string; type: string; body: string; uid: number; linkname: string | null | undefined }>> {
  const out: Array<{ name: string; type: string; body: string; uid: number; linkname: string | null | undefined }> = [];
  const ex = tarStream.extract();
  ex.on('entry', (h, s, next) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    s.on('end', () => { out.push({ name: h.name, type: h.type ?? 'file', body: Buffer.concat(chunks).toString(), uid: h.uid ?? 0, linkname: h.linkname }); next(); });
  });
  await new Promise<void>((resolve, reject) => { ex.on('finish', () => resolve()); ex.on('error', reject); ex.end(buf); });
  return out;
}

const q = (p: string): string => encodeURIComponent(p);

function statOf(headers: Record<string, unknown>): { name: string; size: number; mode: number; mtime: string; linkTarget: string } {
  return JSON.parse(Buffer.from(String(headers['x-docker-container-path-stat']), 'base64').toString()) as never;
}

test('put then get a file in a stopped container, with the path-stat header', async () => {
  const put = await raw('PUT', `/containers/${stopped}/archive?path=/tmp`, await makeTar([{ name: 'hello.txt', body: 'hi there\n', uid: 1234 }]));
  assert.equal(put.status, 200, put.body.toString());
  const head = await raw('HEAD', `/containers/${stopped}/archive?path=${q('/tmp/hello.txt')}`);
  assert.equal(head.status, 200);
  const st = statOf(head.headers);
  assert.equal(st.name, 'hello.txt');
  assert.equal(st.size, 9);
  assert.equal(st.mode, 0o644);
  assert.match(st.mtime, /^\d{4}-\d\d-\d\dT/);
  const get = await raw('GET', `/containers/${stopped}/archive?path=${q('/tmp/hello.txt')}`);
  assert.equal(get.status, 200);
  assert.equal(get.headers['content-type'], 'application/x-tar');
  const entries = await readTar(get.body);
  assert.deepEqual(entries.map((e) => [e.name, e.body, e.uid]), [['hello.txt', 'hi there\n', 0]]);
  const dir = statOf((await raw('HEAD', `/containers/${stopped}/archive?path=/tmp`)).headers);
  assert.equal(Math.floor(dir.mode / 2 ** 31) % 2, 1, 'directory bit in Go FileMode');
});

test('copyUIDGID keeps the archive owners; noOverwriteDirNonDir refuses a file over a directory', async () => {
  const put = await raw('PUT', `/containers/${stopped}/archive?path=/tmp&copyUIDGID=1`, await makeTar([{ name: 'owned', body: 'x', uid: 4321, gid: 99 }]));
  assert.equal(put.status, 200);
  const entries = await readTar((await raw('GET', `/containers/${stopped}/archive?path=/tmp/owned`)).body);
  assert.equal(entries[0]!.uid, 4321);
  const bad = await raw('PUT', `/containers/${stopped}/archive?path=/&noOverwriteDirNonDir=true`, await makeTar([{ name: 'tmp', body: 'not a dir' }]));
  assert.equal(bad.status, 400);
  assert.match(bad.body.toString(), /cannot overwrite directory/);
});

test('missing paths: 404 with Docker\'s message; extraction point must be a directory', async () => {
  const head = await raw('HEAD', `/containers/${stopped}/archive?path=/nope`);
  assert.equal(head.status, 404);
  const get = await raw('GET', `/containers/${stopped}/archive?path=/nope`);
  assert.equal(get.status, 404);
  assert.equal(JSON.parse(get.body.toString()).message, `Could not find the file /nope in container ${stopped}`);
  const put = await raw('PUT', `/containers/${stopped}/archive?path=/etc/passwd`, await makeTar([{ name: 'x', body: 'x' }]));
  assert.equal(put.status, 400);
  assert.match(put.body.toString(), /extraction point is not a directory/);
  assert.equal((await raw('GET', '/containers/nope/archive?path=/')).status, 404);
});

test('hostile symlinks in the container and in the archive never reach host files', async () => {
  // Plant links that point at the host directory, absolutely and by climbing with ../
  const plant = await raw('PUT', `/containers/${stopped}/archive?path=/`, await makeTar([
    { name: 'abs-link', type: 'symlink', linkname: hostDir },
    { name: 'climb-link', type: 'symlink', linkname: `../../../../../../../../..${hostDir}` },
  ]));
  assert.equal(plant.status, 200, plant.body.toString());
  for (const link of ['/abs-link', '/climb-link']) {
    // Reading through the link sees the container's (missing) path, never the host secret.
    const get = await raw('GET', `/containers/${stopped}/archive?path=${q(link + '/secret')}`);
    assert.equal(get.status, 404, `${link}: ${get.body.toString()}`);
    // Writing through it cannot land in the host directory.
    const put = await raw('PUT', `/containers/${stopped}/archive?path=${q(link)}`, await makeTar([{ name: 'pwned', body: 'x' }]));
    assert.equal(put.status, 404);
    // The link itself is copied as a link, not followed.
    const self = await readTar((await raw('GET', `/containers/${stopped}/archive?path=${q(link)}`)).body);
    assert.equal(self[0]!.type, 'symlink');
  }
  // An archive that carries its own escape: a link to the host dir, then a file through it,
  // and a ../ name.
  const evil = await raw('PUT', `/containers/${stopped}/archive?path=/tmp`, await makeTar([
    { name: 'sneaky', type: 'symlink', linkname: hostDir },
    { name: 'sneaky/pwned', body: 'through the link' },
    { name: 'up', type: 'symlink', linkname: '../../../../../../../..' },
    { name: `up${hostDir}/pwned-up`, body: 'climbed' },
  ]));
  assert.ok(evil.status === 200 || evil.status === 400, evil.body.toString());
  const dotdot = await raw('PUT', `/containers/${stopped}/archive?path=/tmp`, await makeTar([{ name: `../../../../../../..${hostDir}/pwned-dotdot`, body: 'x' }]));
  assert.equal(dotdot.status, 400);
  assert.deepEqual(readdirSync(hostDir), ['secret']);
  assert.equal(readFileSync(join(hostDir, 'secret'), 'utf8'), 'host secret\n');
  // HEAD of a link reports its target resolved inside the container.
  const st = statOf((await raw('HEAD', `/containers/${stopped}/archive?path=/climb-link`)).headers);
  assert.equal(st.linkTarget, hostDir);
  assert.equal(Math.floor(st.mode / 2 ** 27) % 2, 1, 'symlink bit');
});

test('bind mounts are honoured in a stopped container', async () => {
  const get = await readTar((await raw('GET', `/containers/${stopped}/archive?path=/mnt/bind/in-bind`)).body);
  assert.deepEqual(get.map((e) => [e.name, e.body]), [['in-bind', 'bound\n']]);
  const put = await raw('PUT', `/containers/${stopped}/archive?path=/mnt/bind`, await makeTar([{ name: 'dropped', body: 'via cp\n' }]));
  assert.equal(put.status, 200);
  assert.equal(readFileSync(join(bindDir, 'dropped'), 'utf8'), 'via cp\n');
});

test('a running container: copy in, see it from a process, copy a directory out', async () => {
  assert.equal((await d.api('POST', `/containers/${stopped}/start`)).status, 204);
  try {
    const put = await raw('PUT', `/containers/${stopped}/archive?path=/root`, await makeTar([
      { name: 'dir', type: 'directory' }, { name: 'dir/a', body: 'A' }, { name: 'dir/sub', type: 'directory' }, { name: 'dir/sub/b', body: 'B' },
    ]));
    assert.equal(put.status, 200, put.body.toString());
    const ex = await d.api('POST', `/containers/${stopped}/exec`, { Cmd: ['cat', '/root/dir/sub/b'], AttachStdout: true, Tty: true });
    const id = (ex.json() as { Id: string }).Id;
    const out = await raw('POST', `/exec/${id}/start`, Buffer.from(JSON.stringify({ Detach: false, Tty: true })));
    assert.equal(out.body.toString(), 'B');
    const entries = await readTar((await raw('GET', `/containers/${stopped}/archive?path=/root/dir`)).body);
    assert.deepEqual(entries.map((e) => e.name).sort(), ['dir', 'dir/a', 'dir/sub', 'dir/sub/b']);
    const contents = await readTar((await raw('GET', `/containers/${stopped}/archive?path=${q('/root/dir/.')}`)).body);
    assert.ok(contents.some((e) => e.name === 'a'), JSON.stringify(contents.map((e) => e.name)));
    const viaBind = await readTar((await raw('GET', `/containers/${stopped}/archive?path=/mnt/bind/dropped`)).body);
    assert.equal(viaBind[0]!.body, 'via cp\n');
  } finally {
    await d.api('POST', `/containers/${stopped}/kill`);
  }
  assert.ok(!existsSync(join(hostDir, 'pwned')));
});

test('a named volume inside a stopped container is read and written through cp', async () => {
  assert.equal((await d.api('POST', '/volumes/create', { Name: 'cpvol' })).status, 201);
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: ['cpvol:/data'] } });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  const put = await raw('PUT', `/containers/${id}/archive?path=/data`, await makeTar([{ name: 'in-volume', body: 'vol\n' }]));
  assert.equal(put.status, 200, put.body.toString());
  const vol = (await d.api('GET', '/volumes/cpvol')).json() as { Mountpoint: string };
  assert.equal(readFileSync(join(vol.Mountpoint, 'in-volume'), 'utf8'), 'vol\n');
  const got = await readTar((await raw('GET', `/containers/${id}/archive?path=/data/in-volume`)).body);
  assert.equal(got[0]!.body, 'vol\n');
  await d.api('DELETE', `/containers/${id}`);
  await d.api('DELETE', '/volumes/cpvol');
});

test('a running read-only container: 403 for its rootfs and a read-only volume, a writable volume takes the copy; / is a directory', async () => {
  const roDir = mkdtempSync(join(tmpdir(), 'berth-test-robind-'));
  const c = await d.api('POST', '/containers/create', {
    Image: 'busybox', Cmd: ['sleep', '600'],
    HostConfig: { ReadonlyRootfs: true, Binds: [`${roDir}:/ro:ro`, `${bindDir}:/rw`] },
  });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  try {
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    const tar = await makeTar([{ name: 'copied', body: 'in\n' }]);
    const root = await raw('PUT', `/containers/${id}/archive?path=${q('/')}`, tar);
    assert.equal(root.status, 403, root.body.toString());
    assert.match(root.body.toString(), /container rootfs is marked read-only/);
    const ro = await raw('PUT', `/containers/${id}/archive?path=${q('/ro')}`, tar);
    assert.equal(ro.status, 403, ro.body.toString());
    assert.match(ro.body.toString(), /mounted volume is marked read-only/);
    const rw = await raw('PUT', `/containers/${id}/archive?path=${q('/rw')}`, tar);
    assert.equal(rw.status, 200, rw.body.toString());
    assert.equal(readFileSync(join(bindDir, 'copied'), 'utf8'), 'in\n');
    const head = await raw('HEAD', `/containers/${id}/archive?path=${q('/')}`);
    assert.equal(head.status, 200);
    assert.ok((statOf(head.headers).mode & 0x80000000) !== 0, 'the root is a directory');
  } finally {
    await d.api('DELETE', `/containers/${id}?force=1`);
    rmSync(roDir, { recursive: true, force: true });
    rmSync(join(bindDir, 'copied'), { force: true });
  }
});

test('a device-backed volume (local, bind device) of a stopped container is mounted for the copy and released after', async () => {
  const dev = mkdtempSync(join(tmpdir(), 'berth-test-voldev-'));
  writeFileSync(join(dev, 'on-device'), 'device data\n');
  const vol = `cpdev${process.pid}`;
  const mk = await d.api('POST', '/volumes/create', { Name: vol, DriverOpts: { type: 'none', o: 'bind', device: dev } });
  assert.equal(mk.status, 201, mk.body);
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: [`${vol}:/data`] } });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  try {
    const got = await raw('GET', `/containers/${id}/archive?path=${q('/data/on-device')}`);
    assert.equal(got.status, 200, got.body.toString());
    assert.equal((await readTar(got.body))[0]?.body, 'device data\n');
    const put = await raw('PUT', `/containers/${id}/archive?path=${q('/data')}`, await makeTar([{ name: 'copied-in', body: 'to device\n' }]));
    assert.equal(put.status, 200, put.body.toString());
    assert.equal(readFileSync(join(dev, 'copied-in'), 'utf8'), 'to device\n');
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(`/volumes/${vol}/`), 'the volume is unmounted after the copy');
  } finally {
    await d.api('DELETE', `/containers/${id}`);
    await d.api('DELETE', `/volumes/${vol}`);
    rmSync(dev, { recursive: true, force: true });
  }
});
