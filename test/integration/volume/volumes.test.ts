import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, busyboxRootfsTar, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let work: string;

/** A busybox image with owned content at /srv/app and `VOLUME /srv/app`. */
async function importAppImage(): Promise<void> {
  const dir = join(work, 'rootfs');
  mkdirSync(dir);
  execFileSync('tar', ['-C', dir, '-xf', busyboxRootfsTar()]);
  mkdirSync(join(dir, 'srv/app/sub'), { recursive: true });
  writeFileSync(join(dir, 'srv/app/data.txt'), 'from the image\n');
  chownSync(join(dir, 'srv/app'), 1234, 5678);
  chmodSync(join(dir, 'srv/app'), 0o750);
  chownSync(join(dir, 'srv/app/data.txt'), 1234, 5678);
  chmodSync(join(dir, 'srv/app/data.txt'), 0o640);
  chownSync(join(dir, 'srv/app/sub'), 42, 43);
  chmodSync(join(dir, 'srv/app/sub'), 0o1700);
  const tarPath = join(work, 'app.tar');
  execFileSync('tar', ['-C', dir, '--numeric-owner', '-cf', tarPath, '.']);
  rmSync(dir, { recursive: true, force: true });
  const tar = readFileSync(tarPath);
  const changes = ['CMD ["sh"]', 'VOLUME /srv/app'].map((c) => `changes=${encodeURIComponent(c)}`).join('&');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({
      socketPath: d.socket, method: 'POST', path: `/images/create?fromSrc=-&repo=app&tag=latest&${changes}`,
      headers: { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end(tar);
  });
  assert.equal(status, 200);
}

before(async () => {
  d = await startTestDaemon();
  work = mkdtempSync(join(tmpdir(), 'berth-voltest-'));
  await importBusybox(d);
  await importAppImage();
});
after(async () => {
  await d?.destroy();
  rmSync(work, { recursive: true, force: true });
});

function frames(body: string): string {
  const raw = Buffer.from(body, 'latin1');
  let out = '';
  for (let i = 0; i + 8 <= raw.length;) {
    const len = raw.readUInt32BE(i + 4);
    out += raw.subarray(i + 8, i + 8 + len).toString('utf8');
    i += 8 + len;
  }
  return out;
}

async function create(body: Record<string, unknown>, name?: string): Promise<string> {
  const c = await d.api('POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', ...body });
  assert.equal(c.status, 201, c.body);
  return (c.json() as { Id: string }).Id;
}

/** Creates (unless given an id), starts and waits for a container; keeps it. */
async function run(body: Record<string, unknown>, name?: string): Promise<{ id: string; code: number; out: string }> {
  const id = await create(body, name);
  const w = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body);
  const code = ((await w).json() as { StatusCode: number }).StatusCode;
  const logs = await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  return { id, code, out: frames(logs.body) };
}

async function rm(id: string, v = false): Promise<void> {
  const r = await d.api('DELETE', `/containers/${id}?force=1${v ? '&v=1' : ''}`);
  assert.equal(r.status, 204, r.body);
}

async function volumeNames(): Promise<string[]> {
  const r = await d.api('GET', '/volumes');
  assert.equal(r.status, 200);
  return ((r.json() as { Volumes: Array<{ Name: string }> }).Volumes).map((v) => v.Name).sort();
}

async function containerCount(): Promise<number> {
  return ((await d.api('GET', '/containers/json?all=1')).json() as unknown[]).length;
}

test('volume API: create (idempotent), inspect, list with filters, remove', async () => {
  const c1 = await d.api('POST', '/volumes/create', { Name: 'api-vol', Driver: 'local', DriverOpts: {}, Labels: { tier: 'db' } });
  assert.equal(c1.status, 201, c1.body);
  const v = c1.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(v).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  assert.equal(v['Mountpoint'], join(d.dataRoot, 'volumes/api-vol/_data'));
  assert.equal(v['Scope'], 'local');
  assert.match(String(v['CreatedAt']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(statSync(String(v['Mountpoint'])).isDirectory());
  const c2 = await d.api('POST', '/volumes/create', { Name: 'api-vol' });
  assert.equal(c2.status, 201);
  assert.equal((c2.json() as { CreatedAt: string }).CreatedAt, v['CreatedAt']);
  const gen = await d.api('POST', '/volumes/create', {});
  const genName = (gen.json() as { Name: string }).Name;
  assert.match(genName, /^[0-9a-f]{64}$/);
  const got = await d.api('GET', '/volumes/api-vol');
  assert.deepEqual(got.json(), v);
  const byLabel = await d.api('GET', `/volumes?filters=${encodeURIComponent('{"label":{"tier=db":true}}')}`);
  assert.deepEqual((byLabel.json() as { Volumes: Array<{ Name: string }>; Warnings: unknown }).Volumes.map((x) => x.Name), ['api-vol']);
  assert.deepEqual((byLabel.json() as { Warnings: unknown }).Warnings, []);
  const bad = await d.api('GET', `/volumes?filters=${encodeURIComponent('{"bogus":{"x":true}}')}`);
  assert.equal(bad.status, 400);
  const missing = await d.api('GET', '/volumes/nosuch');
  assert.equal(missing.status, 404);
  assert.equal((missing.json() as { message: string }).message, 'get nosuch: no such volume');
  for (const n of ['api-vol', genName]) assert.equal((await d.api('DELETE', `/volumes/${n}`)).status, 204);
  assert.equal((await d.api('DELETE', '/volumes/api-vol')).status, 404);
  assert.equal((await d.api('DELETE', '/volumes/api-vol?force=1')).status, 204);
  assert.equal(existsSync(String(v['Mountpoint'])), false);
});

test('concurrent creates of the same name give one volume', async () => {
  const replies = await Promise.all(Array.from({ length: 6 }, () => d.api('POST', '/volumes/create', { Name: 'race' })));
  assert.ok(replies.every((r) => r.status === 201));
  assert.equal(new Set(replies.map((r) => (r.json() as { CreatedAt: string }).CreatedAt)).size, 1);
  assert.deepEqual((await volumeNames()).filter((n) => n === 'race'), ['race']);
  assert.equal((await d.api('DELETE', '/volumes/race')).status, 204);
});

test('bad input: 400 with Docker\'s message and nothing created', async () => {
  const before = { containers: await containerCount(), volumes: await volumeNames() };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ HostConfig: { Binds: ['/a:/b:bogus'] } }, /^invalid mode: bogus$/],
    [{ HostConfig: { Binds: ['a:/b:ro:x'] } }, /^invalid volume specification: 'a:\/b:ro:x'$/],
    [{ HostConfig: { Binds: ['/h:rel'] } }, /invalid mount path: 'rel' mount path must be absolute/],
    [{ HostConfig: { Binds: ['rel/dir:/x'] } }, /^create rel\/dir: "rel\/dir" includes invalid characters for a local volume name/],
    [{ HostConfig: { Binds: ['bad$name:/x'] } }, /includes invalid characters for a local volume name/],
    [{ HostConfig: { Binds: ['okvol:/x', '/tmp:/x'] } }, /^Duplicate mount point: \/x$/],
    [{ HostConfig: { Binds: ['okvol:/x'], Tmpfs: { '/x': '' } } }, /^Duplicate mount point: \/x$/],
    [{ HostConfig: { Mounts: [{ Type: 'bind', Source: '/nonexistent/berth', Target: '/x' }] } }, /^invalid mount config for type "bind": bind source path does not exist: \/nonexistent\/berth$/],
    [{ HostConfig: { Mounts: [{ Type: 'bind', Source: 'relative', Target: '/x' }] } }, /invalid mount path: 'relative' mount path must be absolute/],
    [{ HostConfig: { Mounts: [{ Type: 'volume', Source: 'va', Target: '/x' }, { Type: 'volume', Source: 'wa', Target: '/x' }] } }, /Duplicate mount point/],
    [{ HostConfig: { Mounts: [{ Type: 'floppy', Target: '/x' }] } }, /mount type unknown/],
    [{ HostConfig: { Binds: ['/anon-ok'], Mounts: [{ Type: 'volume', Source: 'optvol', Target: '/x', VolumeOptions: { DriverConfig: { Options: { bogus: '1' } } } }] } }, /^create optvol: invalid option: "bogus"$/],
    [{ Volumes: { '/fine': {} }, HostConfig: { Mounts: [{ Type: 'volume', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'nfsplugin' } } }] } }, /plugin "nfsplugin" not found/],
    [{ HostConfig: { Tmpfs: { '/t': 'size=huge' } } }, /invalid tmpfs option/],
  ];
  for (const [body, msg] of cases) {
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], ...body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
    assert.match((r.json() as { message: string }).message, msg, JSON.stringify(body));
  }
  const from = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Binds: ['okvol:/x'], VolumesFrom: ['nosuchcontainer'] } });
  assert.equal(from.status, 404);
  assert.equal((from.json() as { message: string }).message, 'No such container: nosuchcontainer');
  const badVol = await d.api('POST', '/volumes/create', { Name: 'no/slashes' });
  assert.equal(badVol.status, 400);
  const badOpt = await d.api('POST', '/volumes/create', { Name: 'badopt', DriverOpts: { bogus: '1' } });
  assert.equal(badOpt.status, 400);
  assert.equal((badOpt.json() as { message: string }).message, 'create badopt: invalid option: "bogus"');
  assert.equal(await containerCount(), before.containers);
  assert.deepEqual(await volumeNames(), before.volumes);
  assert.equal(existsSync(join(d.dataRoot, 'volumes/okvol')), false);
});

test('a named volume is auto-created with the image\'s content, owners and modes kept; nocopy leaves it empty', async () => {
  const r = await run({ Image: 'app', Cmd: ['sh', '-c', 'cat /srv/app/data.txt; stat -c "%u:%g %a" /srv/app /srv/app/data.txt /srv/app/sub'], HostConfig: { Binds: ['appdata:/srv/app'] } });
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out, 'from the image\n1234:5678 750\n1234:5678 640\n42:43 1700\n');
  const host = join(d.dataRoot, 'volumes/appdata/_data');
  assert.equal(readFileSync(join(host, 'data.txt'), 'utf8'), 'from the image\n');
  assert.equal(statSync(host).uid, 1234);
  // A second container sees the volume's data, not the image's: no copy into a volume with content.
  const r2 = await run({ Image: 'app', Cmd: ['sh', '-c', 'echo changed > /srv/app/data.txt'], HostConfig: { Binds: ['appdata:/srv/app'] } });
  assert.equal(r2.code, 0);
  const r3 = await run({ Image: 'app', Cmd: ['cat', '/srv/app/data.txt'], HostConfig: { Binds: ['appdata:/srv/app'] } });
  assert.equal(r3.out, 'changed\n');
  const nc = await run({ Image: 'app', Cmd: ['ls', '-A', '/srv/app'], HostConfig: { Mounts: [{ Type: 'volume', Source: 'appnocopy', Target: '/srv/app', VolumeOptions: { NoCopy: true } }] } });
  assert.equal(nc.out, '');
  const nc2 = await run({ Image: 'app', Cmd: ['ls', '-A', '/srv/app'], HostConfig: { Binds: ['appnocopy2:/srv/app:nocopy'] } });
  assert.equal(nc2.out, '');
  for (const x of [r, r2, r3, nc, nc2]) await rm(x.id);
  for (const n of ['appdata', 'appnocopy', 'appnocopy2']) assert.equal((await d.api('DELETE', `/volumes/${n}`)).status, 204);
});

test('image VOLUME makes an anonymous volume with the content; inspect Mounts as Docker shows them; rm -v removes it', async () => {
  const hostDir = join(work, 'bind-ro');
  mkdirSync(hostDir);
  const id = await create({
    Image: 'app', Cmd: ['true'],
    HostConfig: { Binds: [`${hostDir}:/ro:ro`, 'named1:/named'], Tmpfs: { '/scratch': 'size=1m' }, Mounts: [{ Type: 'tmpfs', Target: '/tm' }] },
  });
  const ins = (await d.api('GET', `/containers/${id}/json`)).json() as { Mounts: Array<Record<string, unknown>>; HostConfig: Record<string, unknown> };
  const anon = ins.Mounts.find((m) => m['Destination'] === '/srv/app')!;
  assert.equal(anon['Type'], 'volume');
  assert.match(String(anon['Name']), /^[0-9a-f]{64}$/);
  assert.equal(anon['Source'], join(d.dataRoot, 'volumes', String(anon['Name']), '_data'));
  assert.equal(anon['Driver'], 'local');
  assert.equal(anon['RW'], true);
  assert.deepEqual(ins.Mounts.find((m) => m['Destination'] === '/ro'), { Type: 'bind', Source: hostDir, Destination: '/ro', Mode: 'ro', RW: false, Propagation: 'rprivate' });
  assert.deepEqual(ins.Mounts.find((m) => m['Destination'] === '/named'), {
    Type: 'volume', Name: 'named1', Source: join(d.dataRoot, 'volumes/named1/_data'), Destination: '/named', Driver: 'local', Mode: 'z', RW: true, Propagation: '',
  });
  assert.deepEqual(ins.Mounts.find((m) => m['Destination'] === '/tm'), { Type: 'tmpfs', Source: '', Destination: '/tm', Mode: '', RW: true, Propagation: '' });
  assert.equal(ins.Mounts.some((m) => m['Destination'] === '/scratch'), false);
  assert.deepEqual(ins.HostConfig['Binds'], [`${hostDir}:/ro:ro`, 'named1:/named']);
  assert.deepEqual(ins.HostConfig['Tmpfs'], { '/scratch': 'size=1m' });
  assert.deepEqual(ins.HostConfig['Mounts'], [{ Type: 'tmpfs', Target: '/tm' }]);
  const byVolume = await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent('{"volume":{"named1":true}}')}`);
  assert.deepEqual((byVolume.json() as Array<{ Id: string }>).map((c) => c.Id), [id]);
  const byDest = await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent('{"volume":{"/ro":true}}')}`);
  assert.deepEqual((byDest.json() as Array<{ Id: string }>).map((c) => c.Id), [id]);
  const inUse = await d.api('DELETE', '/volumes/named1');
  assert.equal(inUse.status, 409);
  assert.equal((inUse.json() as { message: string }).message, `remove named1: volume is in use - [${id}]`);
  await rm(id, true);
  const names = await volumeNames();
  assert.ok(!names.includes(String(anon['Name'])), 'anonymous volume removed by rm -v');
  assert.ok(names.includes('named1'), 'named volume kept by rm -v');
  assert.equal((await d.api('DELETE', '/volumes/named1')).status, 204);
});

test('rm without -v keeps anonymous volumes; run --rm (AutoRemove) removes them', async () => {
  const keep = await create({ Cmd: ['true'], Volumes: { '/anon': {} } });
  const anonName = (((await d.api('GET', `/containers/${keep}/json`)).json() as { Mounts: Array<{ Name: string }> }).Mounts[0]!).Name;
  await rm(keep);
  assert.ok((await volumeNames()).includes(anonName));
  assert.equal((await d.api('DELETE', `/volumes/${anonName}`)).status, 204);

  const before = await volumeNames();
  const id = await create({ Cmd: ['sh', '-c', 'echo x > /anon/f'], Volumes: { '/anon': {} }, HostConfig: { AutoRemove: true, Binds: ['autokeep:/k'] } });
  const w = d.api('POST', `/containers/${id}/wait?condition=removed`);
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  await w;
  for (let i = 0; i < 50 && (await d.api('GET', `/containers/${id}/json`)).status !== 404; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await volumeNames(), [...before, 'autokeep'].sort());
  assert.equal((await d.api('DELETE', '/volumes/autokeep')).status, 204);
});

test('read-only volumes and binds refuse writes; -v creates a missing host path, --mount does not', async () => {
  const roDir = join(work, 'robind');
  mkdirSync(roDir);
  const r = await run({ Cmd: ['sh', '-c', 'echo x > /v/f; echo "v=$?"; echo x > /b/f; echo "b=$?"; echo ok > /rw/f'], HostConfig: { Binds: ['rovol:/v:ro', `${roDir}:/b:ro`, 'rwvol:/rw'] } });
  assert.match(r.out, /v=1\n/);
  assert.match(r.out, /b=1\n/);
  assert.match(r.out, /can't create \/v\/f: Read-only file system/);
  assert.match(r.out, /can't create \/b\/f: Read-only file system/);
  assert.equal(existsSync(join(roDir, 'f')), false);
  assert.equal(readFileSync(join(d.dataRoot, 'volumes/rwvol/_data/f'), 'utf8'), 'ok\n');
  writeFileSync(join(work, 'single-file'), 'one file\n');
  const file = await run({ Cmd: ['cat', '/etc/single'], HostConfig: { Binds: [`${join(work, 'single-file')}:/etc/single:ro`] } });
  assert.equal(file.out, 'one file\n');
  await rm(file.id);
  const missing = join(work, 'made/by/run');
  const m = await run({ Cmd: ['sh', '-c', 'echo hi > /m/f'], HostConfig: { Binds: [`${missing}:/m`] } });
  assert.equal(m.code, 0, m.out);
  assert.equal(readFileSync(join(missing, 'f'), 'utf8'), 'hi\n');
  const cli = d.berth(['run', '--rm', '--mount', `type=bind,src=${join(work, 'not/there')},dst=/x`, 'busybox', 'true']);
  assert.equal(cli.code, 125);
  assert.match(cli.stderr, /invalid mount config for type "bind": bind source path does not exist: .*not\/there/);
  assert.equal(existsSync(join(work, 'not')), false);
  await rm(r.id);
  await rm(m.id);
  for (const n of ['rovol', 'rwvol']) assert.equal((await d.api('DELETE', `/volumes/${n}`)).status, 204);
});

test('tmpfs mounts: --tmpfs size and mode, --mount tmpfs-size, a tmpfs-backed volume mounted only while used', async () => {
  const r = d.berth(['run', '--rm', '--tmpfs', '/t:size=1m,mode=1770', '--mount', 'type=tmpfs,dst=/m,tmpfs-size=2m', 'busybox', 'sh', '-c', 'df -k /t /m | tail -2 | awk \'{print $2}\'; stat -c %a /t']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1024\n2048\n1770\n');
  assert.equal(d.berth(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'tvol']).code, 0);
  const dataDir = join(d.dataRoot, 'volumes/tvol/_data');
  const mounted = (): boolean => readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dataDir);
  const id = await create({ Cmd: ['sleep', '60'], HostConfig: { Binds: ['tvol:/tv'] } });
  const id2 = await create({ Cmd: ['sleep', '60'], HostConfig: { Binds: ['tvol:/tv'] } });
  assert.equal(mounted(), false);
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  assert.equal((await d.api('POST', `/containers/${id2}/start`)).status, 204);
  assert.equal(mounted(), true);
  assert.equal((await d.api('POST', `/containers/${id}/stop?t=0`)).status, 204);
  assert.equal(mounted(), true, 'still mounted while the second user runs');
  assert.equal((await d.api('POST', `/containers/${id2}/stop?t=0`)).status, 204);
  assert.equal(mounted(), false, 'unmounted when the last user stops');
  await rm(id);
  await rm(id2);
  assert.equal((await d.api('DELETE', '/volumes/tvol')).status, 204);
});

test('data volume container: share with two containers, back up with tar into a bind, restore into a fresh one', async () => {
  const backup = join(work, 'backup');
  mkdirSync(backup);
  await create({ Cmd: ['true'], Volumes: { '/dbdata': {} } }, 'dbdata');
  const db1 = await run({ Cmd: ['sh', '-c', 'echo one > /dbdata/a; mkdir /dbdata/d; chown 7:8 /dbdata/d'], HostConfig: { VolumesFrom: ['dbdata'] } }, 'db1');
  const db2 = await run({ Cmd: ['sh', '-c', 'cat /dbdata/a; echo two >> /dbdata/a'], HostConfig: { VolumesFrom: ['dbdata'] } }, 'db2');
  assert.equal(db2.out, 'one\n');
  const ro = await run({ Cmd: ['sh', '-c', 'echo x > /dbdata/no'], HostConfig: { VolumesFrom: ['dbdata:ro'] } });
  assert.notEqual(ro.code, 0);
  const bk = await run({ Cmd: ['tar', 'cf', '/backup/backup.tar', '/dbdata'], HostConfig: { VolumesFrom: ['dbdata'], Binds: [`${backup}:/backup`] } });
  assert.equal(bk.code, 0, bk.out);
  await create({ Cmd: ['true'], Volumes: { '/dbdata': {} } }, 'dbstore2');
  const restore = await run({ Cmd: ['sh', '-c', 'cd /dbdata && tar xf /backup/backup.tar --strip 1'], HostConfig: { VolumesFrom: ['dbstore2'], Binds: [`${backup}:/backup`] } });
  assert.equal(restore.code, 0, restore.out);
  const check = await run({ Cmd: ['sh', '-c', 'cat /dbdata/a; stat -c "%u:%g" /dbdata/d'], HostConfig: { VolumesFrom: ['dbstore2'] } });
  assert.equal(check.out, 'one\ntwo\n7:8\n');
  const vf = ((await d.api('GET', `/containers/${check.id}/json`)).json() as { HostConfig: { VolumesFrom: string[] } }).HostConfig.VolumesFrom;
  assert.deepEqual(vf, ['dbstore2']);
  const names = await volumeNames();
  for (const x of [db1, db2, ro, bk, restore, check]) await rm(x.id, true);
  assert.deepEqual(await volumeNames(), names, 'rm -v of the users keeps the volumes dbdata and dbstore2 still hold');
  await rm('dbdata', true);
  await rm('dbstore2', true);
  assert.equal((await volumeNames()).length, names.length - 2);
});

test('volume prune removes only unused anonymous volumes by default, all unused with all=true, honours label', async () => {
  const anonUser = await create({ Cmd: ['true'], Volumes: { '/in-use': {} } });
  const freeAnon = await create({ Cmd: ['true'], Volumes: { '/free': {} } });
  const freeName = (((await d.api('GET', `/containers/${freeAnon}/json`)).json() as { Mounts: Array<{ Name: string }> }).Mounts[0]!).Name;
  await rm(freeAnon);
  await d.api('POST', '/volumes/create', { Name: 'named-free', Labels: { keep: 'no' } });
  await d.api('POST', '/volumes/create', { Name: 'named-kept', Labels: { keep: 'yes' } });
  const p1 = await d.api('POST', '/volumes/prune');
  assert.equal(p1.status, 200);
  assert.deepEqual((p1.json() as { VolumesDeleted: string[] }).VolumesDeleted, [freeName]);
  const p2 = await d.api('POST', `/volumes/prune?filters=${encodeURIComponent('{"all":{"true":true},"label":{"keep=no":true}}')}`);
  assert.deepEqual((p2.json() as { VolumesDeleted: string[] }).VolumesDeleted, ['named-free']);
  // API 1.41 clients (docker CLI 20.10) prune every unused volume.
  const p3 = await d.api('POST', '/v1.41/volumes/prune');
  assert.deepEqual((p3.json() as { VolumesDeleted: string[] }).VolumesDeleted, ['named-kept']);
  assert.equal((await volumeNames()).length, 1, 'the in-use anonymous volume stays');
  await rm(anonUser, true);
  assert.deepEqual(await volumeNames(), []);
});

test('volumes and their data survive a berthd crash and restart; references stay right', async () => {
  const id = await create({ Cmd: ['sleep', '600'], HostConfig: { Binds: ['durable:/d'] } });
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  writeFileSync(join(d.dataRoot, 'volumes/durable/_data/f'), 'kept\n');
  // A tmpfs-backed volume whose only user ends while berthd is down is unmounted at start-up.
  assert.equal((await d.api('POST', '/volumes/create', { Name: 'tcrash', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } })).status, 201);
  const short = await create({ Cmd: ['sleep', '1'], HostConfig: { Binds: ['tcrash:/t'] } });
  assert.equal((await d.api('POST', `/containers/${short}/start`)).status, 204);
  const tdir = join(d.dataRoot, 'volumes/tcrash/_data');
  const mounted = (): boolean => readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === tdir);
  assert.equal(mounted(), true);
  await d.crash();
  await new Promise((r) => setTimeout(r, 1500));
  await d.restart();
  assert.equal(mounted(), false);
  await rm(short);
  assert.equal((await d.api('DELETE', '/volumes/tcrash')).status, 204);
  const v = await d.api('GET', '/volumes/durable');
  assert.equal(v.status, 200);
  assert.equal(readFileSync(join(d.dataRoot, 'volumes/durable/_data/f'), 'utf8'), 'kept\n');
  const inUse = await d.api('DELETE', '/volumes/durable');
  assert.equal(inUse.status, 409, inUse.body);
  const dangling = await d.api('GET', `/volumes?filters=${encodeURIComponent('{"dangling":{"true":true}}')}`);
  assert.deepEqual((dangling.json() as { Volumes: unknown[] }).Volumes, []);
  await rm(id);
  assert.equal((await d.api('DELETE', '/volumes/durable')).status, 204);
});

test('berth volume CLI: create, ls table/-q/--filter/--format, inspect, rm refusing in-use, prune -f/-a', async () => {
  assert.equal(d.berth(['volume', 'create', '--label', 'a=b', 'clivol']).stdout, 'clivol\n');
  assert.equal(d.berth(['volume', 'create', 'clivol2']).code, 0);
  assert.equal(d.berth(['volume', 'ls']).stdout, 'DRIVER    VOLUME NAME\nlocal     clivol\nlocal     clivol2\n');
  assert.equal(d.berth(['volume', 'ls', '-q', '--filter', 'label=a=b']).stdout, 'clivol\n');
  assert.equal(d.berth(['volume', 'ls', '--format', '{{.Name}}:{{.Labels}}:{{.Scope}}', '-f', 'name=clivol$']).stdout, 'clivol:a=b:local\n');
  assert.equal(d.berth(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'clivol']).stdout, `${join(d.dataRoot, 'volumes/clivol/_data')}\n`);
  const insp = JSON.parse(d.berth(['volume', 'inspect', 'clivol']).stdout) as Array<{ Labels: Record<string, string> }>;
  assert.deepEqual(insp[0]!.Labels, { a: 'b' });
  const missing = d.berth(['volume', 'inspect', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: get nosuch: no such volume\n');
  const id = await create({ Cmd: ['true'], HostConfig: { Binds: ['clivol:/x'] } });
  const rmInUse = d.berth(['volume', 'rm', 'clivol']);
  assert.equal(rmInUse.code, 1);
  assert.equal(rmInUse.stderr, `Error response from daemon: remove clivol: volume is in use - [${id}]\n`);
  await rm(id);
  const declined = d.berth(['volume', 'prune', '-a'], { input: 'n\n' });
  assert.equal(declined.code, 0);
  assert.match(declined.stdout, /WARNING! This will remove all local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] $/);
  assert.equal(d.berth(['volume', 'prune', '-f']).stdout, 'Total reclaimed space: 0B\n');
  const pruned = d.berth(['volume', 'prune', '-a'], { input: 'y\n' });
  assert.match(pruned.stdout, /Deleted Volumes:\nclivol\nclivol2\n\nTotal reclaimed space: 0B\n$/);
  assert.equal(d.berth(['volume', 'ls', '-q']).stdout, '');
  assert.equal(d.berth(['volume', 'rm', 'nosuch']).code, 1);
  assert.equal(d.berth(['volume', 'rm', '-f', 'nosuch']).code, 0);
});
