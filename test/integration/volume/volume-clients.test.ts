import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, busyboxRootfsTar, type TestDaemon } from '../../helpers/daemon-harness.js';
import { CLIENT_CLIS, DOCKER_PY_SKIP, clientRunner, makeDockerConfigDir } from '../../helpers/client-clis.js';

// The seeds' volume workflows through the real docker CLIs, berth's CLI and docker-py.
const CLIS = CLIENT_CLIS;

let d: TestDaemon;
let configDir: string;
let work: string;

before(async () => {
  d = await startTestDaemon();
  configDir = makeDockerConfigDir();
  work = mkdtempSync(join(tmpdir(), 'berth-volclients-'));
});
after(async () => {
  await d?.destroy();
  for (const p of [configDir, work]) if (p) rmSync(p, { recursive: true, force: true });
});

const docker = clientRunner(() => ({ ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: configDir, DOCKER_BUILDKIT: '0' }));

async function ok(cli: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await docker(cli, args, opts);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

for (const cli of CLIS) {
  describe(cli.name, () => {
    const img = `busybox:${cli.tag}`;
    const n = (s: string): string => `${s}-${cli.tag}`;
    const dir = (): string => join(work, cli.tag);

    test('import busybox', async () => {
      mkdirSync(dir(), { recursive: true });
      await ok(cli.path, ['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), img]);
    });

    test('data volume container shared by two others, backed up with tar into a bind, restored into a fresh one', async () => {
      await ok(cli.path, ['create', '-v', '/dbdata', '--name', n('dbdata'), img, '/bin/true']);
      await ok(cli.path, ['run', '--name', n('db1'), '--volumes-from', n('dbdata'), img, 'sh', '-c', 'echo first > /dbdata/file; mkdir /dbdata/owned; chown 11:12 /dbdata/owned']);
      const seen = await ok(cli.path, ['run', '--name', n('db2'), '--volumes-from', n('dbdata'), img, 'sh', '-c', 'cat /dbdata/file; echo second >> /dbdata/file']);
      assert.equal(seen, 'first\n');
      // `docker run --volumes-from dbdata -v $(pwd):/backup busybox tar cvf /backup/backup.tar /dbdata`
      await ok(cli.path, ['run', '--rm', '--volumes-from', n('dbdata'), '-v', `${dir()}:/backup`, img, 'tar', 'cvf', '/backup/backup.tar', '/dbdata']);
      assert.ok(readFileSync(join(dir(), 'backup.tar')).length > 0);
      await ok(cli.path, ['create', '-v', '/dbdata', '--name', n('dbstore2'), img, '/bin/true']);
      await ok(cli.path, ['run', '--rm', '--volumes-from', n('dbstore2'), '-v', `${dir()}:/backup`, img, 'sh', '-c', 'cd /dbdata && tar xvf /backup/backup.tar --strip 1']);
      const restored = await ok(cli.path, ['run', '--rm', '--volumes-from', n('dbstore2'), img, 'sh', '-c', 'cat /dbdata/file; stat -c %u:%g /dbdata/owned']);
      assert.equal(restored, 'first\nsecond\n11:12\n');
      const mounts = JSON.parse(await ok(cli.path, ['inspect', '-f', '{{json .Mounts}}', n('dbdata')])) as Array<Record<string, unknown>>;
      assert.equal(mounts.length, 1);
      assert.equal(mounts[0]!['Type'], 'volume');
      assert.equal(mounts[0]!['Destination'], '/dbdata');
      const vol = String(mounts[0]!['Name']);
      const rmInUse = await docker(cli.path, ['volume', 'rm', vol]);
      assert.equal(rmInUse.code, 1);
      assert.match(rmInUse.stderr, new RegExp(`remove ${vol}: volume is in use - \\[`));
      await ok(cli.path, ['rm', '-v', n('db1'), n('db2')]);
      assert.match(await ok(cli.path, ['volume', 'ls', '-q']), new RegExp(vol), 'the shared volume outlives rm -v of its users');
      await ok(cli.path, ['rm', '-v', n('dbdata'), n('dbstore2')]);
      assert.doesNotMatch(await ok(cli.path, ['volume', 'ls', '-q']), new RegExp(vol));
    });

    test('a named volume is created on first use with the image\'s content; read-only binds refuse writes', async () => {
      const out = await ok(cli.path, ['run', '--rm', '-v', `${n('etcvol')}:/etc`, img, 'cat', '/etc/hostname']);
      assert.ok(out.length > 0);
      const inspect = JSON.parse(await ok(cli.path, ['volume', 'inspect', n('etcvol')])) as Array<{ Name: string; Driver: string; Mountpoint: string; Scope: string }>;
      assert.equal(inspect[0]!.Name, n('etcvol'));
      assert.equal(inspect[0]!.Driver, 'local');
      assert.equal(inspect[0]!.Scope, 'local');
      assert.ok(existsSync(join(inspect[0]!.Mountpoint, 'passwd')));
      writeFileSync(join(dir(), 'host.txt'), 'host\n');
      const ro = await docker(cli.path, ['run', '--rm', '-v', `${dir()}:/h:ro`, img, 'sh', '-c', 'cat /h/host.txt && echo x > /h/new']);
      assert.notEqual(ro.code, 0);
      assert.match(ro.stdout + ro.stderr, /host\n[\s\S]*Read-only file system/);
      assert.equal(existsSync(join(dir(), 'new')), false);
      const mnt = await ok(cli.path, ['run', '--rm', '--mount', `type=volume,src=${n('etcvol')},dst=/data,readonly`, '--tmpfs', '/scratch:size=1m', img, 'sh', '-c', 'test -f /data/passwd && ! touch /data/x 2>/dev/null && df -k /scratch | tail -1 | awk \'{print $2}\'']);
      assert.equal(mnt, '1024\n');
      await ok(cli.path, ['volume', 'rm', n('etcvol')]);
    });

    test('volume create, ls, prune removes only what it should', async () => {
      assert.equal(await ok(cli.path, ['volume', 'create', '--label', 'team=x', n('keepme')]), `${n('keepme')}\n`);
      await ok(cli.path, ['create', '--name', n('holder'), '-v', n('held') + ':/h', '-v', '/anon', img, 'true']);
      await ok(cli.path, ['create', '--name', n('gone'), '-v', '/anon2', img, 'true']);
      const anon2 = JSON.parse(await ok(cli.path, ['inspect', '-f', '{{json .Mounts}}', n('gone')])) as Array<{ Name: string }>;
      await ok(cli.path, ['rm', n('gone')]);
      const table = await ok(cli.path, ['volume', 'ls', '--filter', 'label=team=x']);
      assert.equal(table, `DRIVER    VOLUME NAME\nlocal     ${n('keepme')}\n`);
      const pruned = await ok(cli.path, ['volume', 'prune', '-f']);
      const names = (await ok(cli.path, ['volume', 'ls', '-q'])).split('\n').filter(Boolean);
      assert.match(pruned, new RegExp(`Deleted Volumes:\\n(.*\\n)*${anon2[0]!.Name}\\n`));
      assert.ok(!names.includes(anon2[0]!.Name));
      assert.ok(names.includes(n('held')), 'in use: kept');
      if (cli.api === '1.41') {
        // Before API 1.42 prune removes every unused volume, named ones too.
        assert.ok(!names.includes(n('keepme')));
      } else {
        assert.ok(names.includes(n('keepme')), 'named and unused: kept without --all');
        const all = await ok(cli.path, ['volume', 'prune', '-a', '-f']);
        assert.match(all, new RegExp(n('keepme')));
      }
      await ok(cli.path, ['rm', '-v', n('holder')]);
      await ok(cli.path, ['volume', 'rm', n('held')]);
    });

    test('bad -v and --mount input is refused and creates nothing', async () => {
      const before = await ok(cli.path, ['ps', '-aq']);
      const bad = await docker(cli.path, ['run', '--rm', '-v', 'bad$name:/x', img, 'true']);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /includes invalid characters for a local volume name/);
      const mode = await docker(cli.path, ['run', '--rm', '-v', '/a:/b:bogus', img, 'true']);
      assert.equal(mode.code, 125);
      assert.match(mode.stderr, /invalid mode: bogus/);
      const missing = await docker(cli.path, ['run', '--rm', '--mount', `type=bind,src=${join(dir(), 'nope')},dst=/x`, img, 'true']);
      assert.equal(missing.code, 125);
      assert.match(missing.stderr, /bind source path does not exist/);
      assert.equal(await ok(cli.path, ['ps', '-aq']), before);
    });
  });
}

const PY = `
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
v = c.volumes.create(name='pyvol', driver='local', labels={'k': 'v'})
assert v.name == 'pyvol' and v.attrs['Labels'] == {'k': 'v'}, v.attrs
assert c.volumes.get('pyvol').attrs['Mountpoint'].endswith('/volumes/pyvol/_data')
assert 'pyvol' in [x.name for x in c.volumes.list()]
assert [x.name for x in c.volumes.list(filters={'label': 'k=v'})] == ['pyvol']
out = c.containers.run('busybox:py', ['sh', '-c', 'echo hello > /data/f; cat /data/f'], volumes={'pyvol': {'bind': '/data', 'mode': 'rw'}}, remove=True)
assert out == b'hello\\n', out
ctr = c.containers.create('busybox:py', 'true', volumes=['pyvol:/data'])
try:
    v.remove()
    raise SystemExit('removed a volume in use')
except docker.errors.APIError as e:
    assert e.status_code == 409 and 'volume is in use' in str(e), e
ctr.remove()
try:
    c.volumes.get('nosuch')
    raise SystemExit('found a missing volume')
except docker.errors.NotFound:
    pass
try:
    c.volumes.create(name='bad name')
    raise SystemExit('accepted a bad name')
except docker.errors.APIError as e:
    assert e.status_code == 400, e
anon = c.volumes.create()
r = c.volumes.prune()
assert r['VolumesDeleted'] in (None, []), r
r = c.volumes.prune(filters={'all': 'true'})
assert sorted(r['VolumesDeleted']) == sorted(['pyvol', anon.name]), r
assert c.volumes.list() == []
print('ok')
`;

test('docker-py 7: volume create, list, get, remove, prune and volumes= on run', { skip: DOCKER_PY_SKIP }, async () => {
  const imp = await docker(CLIS[0]!.path, ['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), 'busybox:py']);
  assert.equal(imp.code, 0, imp.stderr);
  const out = execFileSync('python3', ['-c', PY, d.host], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(out.trim(), 'ok');
});
