import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, busyboxRootfsTar, REPO, type TestDaemon } from '../../helpers/daemon-harness.js';
import { CLIENT_CLIS, DOCKER_PY_SKIP, makeDockerConfigDir } from '../../helpers/client-clis.js';

const DOCKER_CLIS = CLIENT_CLIS.filter((c) => c.tag !== 'berth');

// A daemon started with --userns-remap <a user made for the test>, whose subordinate ranges
// are added to /etc/subuid and /etc/subgid here and removed afterwards.
const user = `berthut${randomBytes(3).toString('hex')}`;
let base = 0;
const SIZE = 65536;
let d: TestDaemon;
let work: string;

function subIdRanges(file: string): Array<{ start: number; length: number }> {
  return readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')).filter((f) => f.length >= 3)
    .map((f) => ({ start: Number(f[1]), length: Number(f[2]) }));
}

/** A range of 65536 ids far above the usual ones, free in both files. */
function freeBase(): number {
  const taken = [...subIdRanges('/etc/subuid'), ...subIdRanges('/etc/subgid')];
  for (;;) {
    const start = 700_000_000 + Math.floor(Math.random() * 10_000) * SIZE;
    if (!taken.some((r) => start < r.start + r.length && r.start < start + SIZE)) return start;
  }
}

function removeTestUser(): void {
  try {
    execFileSync('usermod', ['--del-subuids', `${base}-${base + SIZE - 1}`, '--del-subgids', `${base}-${base + SIZE - 1}`, user], { stdio: 'ignore' });
  } catch { /* not there */ }
  try { execFileSync('userdel', [user], { stdio: 'ignore' }); } catch { /* not there */ }
}

before(async () => {
  base = freeBase();
  execFileSync('useradd', ['-r', '-M', '-s', '/bin/false', user]);
  execFileSync('usermod', ['--add-subuids', `${base}-${base + SIZE - 1}`, '--add-subgids', `${base}-${base + SIZE - 1}`, user]);
  d = await startTestDaemon(['--userns-remap', user]);
  await importBusybox(d);
  // An image with a file owned by 1000:1000, from a tar made here.
  work = mkdtempSync(join(tmpdir(), 'berth-userns-'));
  const tree = join(work, 'tree');
  mkdirSync(tree);
  execFileSync('tar', ['-xf', busyboxRootfsTar(), '-C', tree]);
  mkdirSync(join(tree, 'home/app'), { recursive: true });
  writeFileSync(join(tree, 'home/app/owned'), 'x');
  chownSync(join(tree, 'home/app/owned'), 1000, 1000);
  execFileSync('tar', ['--numeric-owner', '-cf', join(work, 'owned.tar'), '-C', tree, '.']);
  const r = d.berth(['import', '-c', 'CMD ["sh"]', join(work, 'owned.tar'), 'owned:1']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  try {
    await d?.destroy();
  } finally {
    removeTestUser();
    if (work) rmSync(work, { recursive: true, force: true });
  }
});

function run(args: string[]): { code: number; stdout: string; stderr: string } {
  return d.berth(['run', '--rm', ...args]);
}

test('root in the container is the first subordinate id on the host', async () => {
  const inside = run(['busybox', 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map']);
  assert.equal(inside.code, 0, inside.stderr);
  const lines = inside.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.deepEqual(lines, ['0', '0', `0 ${base} ${SIZE}`, `0 ${base} ${SIZE}`]);

  // Both OCI runtimes join the user namespace and take its mappings.
  for (const runtime of ['runc', 'crun']) {
    const r = run(['--runtime', runtime, 'busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['0', `0 ${base} ${SIZE}`], `${runtime}: ${r.stderr}`);
  }

  const started = d.berth(['run', '-d', '--name', 'u1', '-v', 'uvol:/data', 'busybox', 'sh', '-c', 'touch /made /data/made; sleep 60']);
  assert.equal(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  const pid = Number(d.berth(['inspect', '-f', '{{.State.Pid}}', 'u1']).stdout.trim());
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${base}\\s+${base}\\s+${base}\\s+${base}$`, 'm'));
  assert.match(status, new RegExp(`^Gid:\\s+${base}\\s`, 'm'));

  // What root writes is owned on the host by the subordinate base: in the rw layer and in a volume.
  const upper = join(d.dataRoot, 'overlay2', id, 'diff', 'made');
  const inVolume = join(d.dataRoot, 'volumes', 'uvol', '_data', 'made');
  for (let i = 0; i < 50 && !(existsSync(upper) && existsSync(inVolume)); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(statSync(upper).uid, base);
  assert.equal(statSync(upper).gid, base);
  assert.equal(statSync(inVolume).uid, base);

  // An exec joins the container's namespaces (user, then network) and is root inside too.
  const ex = d.berth(['exec', 'u1', 'sh', '-c',
    'id -u; echo x >> /etc/hosts && echo x >> /etc/resolv.conf && echo x >> /etc/hostname && echo etc-writable; touch /dev/shm/s && echo shm-writable; ls /sys/class/net']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.deepEqual(ex.stdout.trim().split('\n'), ['0', 'etc-writable', 'shm-writable', 'eth0', 'lo']);
  assert.equal(d.berth(['rm', '-f', 'u1']).code, 0);
  assert.equal(d.berth(['volume', 'rm', 'uvol']).code, 0);
  assert.deepEqual(readdirSync(join(d.execRoot, 'userns')), [], 'the pinned user namespace goes with the run');
});

test('bind mounts and device-bound volumes keep their host owners', () => {
  const src = join(work, 'bind');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'f'), 'x');
  const r = run(['-v', `${src}:/b`, 'busybox', 'sh', '-c', 'stat -c %u /b/f; touch /b/new 2>/dev/null && echo written || echo denied']);
  assert.deepEqual(r.stdout.trim().split('\n'), ['65534', 'denied'], r.stderr);
  const dev = join(work, 'devsrc');
  mkdirSync(dev, { recursive: true });
  assert.equal(d.berth(['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${dev}`, 'devvol']).code, 0);
  const v = run(['-v', 'devvol:/v', 'busybox', 'stat', '-c', '%u', '/v']);
  assert.equal(v.stdout.trim(), '65534', v.stderr);
  assert.equal(statSync(dev).uid, 0, 'the host directory is not handed to the namespace');
  assert.equal(d.berth(['volume', 'rm', 'devvol']).code, 0);
});

test('a container joining another\'s IPC, PID or network namespace joins its user namespace', () => {
  const first = d.berth(['run', '-d', '--name', 'j1', '--ipc', 'shareable', 'busybox', 'sleep', '60']);
  assert.equal(first.code, 0, first.stderr);
  try {
    const own = d.berth(['exec', 'j1', 'readlink', '/proc/self/ns/user']).stdout.trim();
    assert.match(own, /^user:\[\d+\]$/);
    for (const mode of [['--ipc', 'container:j1'], ['--pid', 'container:j1'], ['--net', 'container:j1']]) {
      const r = run([...mode, 'busybox', 'sh', '-c', 'readlink /proc/self/ns/user; id -u']);
      assert.equal(r.code, 0, `${mode.join(' ')}: ${r.stderr}`);
      assert.deepEqual(r.stdout.trim().split('\n'), [own, '0'], mode.join(' '));
    }
  } finally {
    d.berth(['rm', '-f', 'j1']);
  }
});

test('a remapped container on a user-defined network resolves names; connect and disconnect reach its namespace', () => {
  assert.equal(d.berth(['network', 'create', 'unet']).code, 0);
  try {
    const a = d.berth(['run', '-d', '--name', 'na', '--network', 'unet', 'busybox', 'sleep', '60']);
    assert.equal(a.code, 0, a.stderr);
    const ping = run(['--network', 'unet', 'busybox', 'ping', '-c', '1', '-W', '2', 'na']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    const b = d.berth(['run', '-d', '--name', 'nb', 'busybox', 'sleep', '60']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(d.berth(['network', 'connect', 'unet', 'nb']).code, 0);
    const links = d.berth(['exec', 'nb', 'ls', '/sys/class/net']).stdout.trim().split('\n');
    assert.deepEqual(links, ['eth0', 'eth1', 'lo']);
    assert.equal(d.berth(['exec', 'nb', 'ping', '-c', '1', '-W', '2', 'na']).code, 0);
    assert.equal(d.berth(['network', 'disconnect', 'unet', 'nb']).code, 0);
    assert.deepEqual(d.berth(['exec', 'nb', 'ls', '/sys/class/net']).stdout.trim().split('\n'), ['eth0', 'lo']);
  } finally {
    d.berth(['rm', '-f', 'na', 'nb']);
    d.berth(['network', 'rm', 'unet']);
  }
});

test('a remapped container outlives a berthd restart: adopted, exec joins it, restart and removal clean up', async () => {
  const started = d.berth(['run', '-d', '--name', 'lr', 'busybox', 'sleep', '60']);
  assert.equal(started.code, 0, started.stderr);
  await d.stop();
  await d.restart();
  const ex = d.berth(['exec', 'lr', 'cat', '/proc/self/uid_map']);
  assert.equal(ex.stdout.trim().split(/\s+/).join(' '), `0 ${base} ${SIZE}`, ex.stderr);
  assert.equal(d.berth(['restart', '-t', '1', 'lr']).code, 0);
  assert.equal(d.berth(['exec', 'lr', 'id', '-u']).stdout.trim(), '0');
  assert.equal(d.berth(['rm', '-f', 'lr']).code, 0);
  assert.deepEqual(readdirSync(join(d.execRoot, 'userns')), []);
});

test('image files keep their owners inside: 0 for busybox, 1000 for a file of a tar-built image', () => {
  const r = run(['owned:1', 'sh', '-c', 'stat -c "%u:%g %n" /bin/busybox /home/app/owned; touch /home/app/owned && echo writable']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['0:0 /bin/busybox', '1000:1000 /home/app/owned', 'writable']);
  const asUser = run(['--user', '1000', 'owned:1', 'sh', '-c', 'echo y > /home/app/owned && echo ok']);
  assert.equal(asUser.stdout.trim(), 'ok', asUser.stderr);
});

test('commit and cp write owners as the container sees them', () => {
  const made = d.berth(['run', '--name', 'c1', 'busybox', 'sh', '-c', 'mkdir /m && touch /m/f && chown 1000:1000 /m/f']);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(d.berth(['commit', 'c1', 'committed:1']).code, 0);
  const tar = execFileSync('sh', ['-c', '"$0" -H "$1" cp c1:/m - | tar -tvf -', join(REPO, 'bin/berth'), d.host], { encoding: 'utf8' });
  assert.match(tar, /1000\/1000 .* m\/f/);
  assert.equal(d.berth(['rm', 'c1']).code, 0);
  const seen = run(['--userns', 'host', 'committed:1', 'stat', '-c', '%u:%g', '/m/f', '/m']);
  assert.deepEqual(seen.stdout.trim().split('\n'), ['1000:1000', '0:0'], seen.stderr);
});

test('a build\'s RUN steps run remapped and their layers keep the owners they set', () => {
  const ctx = join(work, 'ctx');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN mkdir /r && touch /r/a && chown 1000:1000 /r/a && cat /proc/self/uid_map > /r/map\nCOPY Dockerfile /r/\n');
  const b = d.berth(['build', '-q', '-t', 'built:1', ctx]);
  assert.equal(b.code, 0, b.stderr);
  const r = run(['--userns', 'host', 'built:1', 'sh', '-c', 'stat -c "%u:%g %n" /r/a /r/Dockerfile /r; cat /r/map']);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.deepEqual(lines, ['1000:1000 /r/a', '0:0 /r/Dockerfile', '0:0 /r', `0 ${base} ${SIZE}`], r.stderr);
});

test('--userns host runs unmapped, on the image\'s own owners', () => {
  const r = d.berth(['run', '--name', 'h1', '--userns', 'host', 'busybox', 'sh', '-c', 'cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /h']);
  assert.equal(r.code, 0, r.stderr);
  const [map, owner] = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.equal(map, '0 0 4294967295');
  assert.equal(owner, '0');
  const id = d.berth(['inspect', '-f', '{{.Id}}', 'h1']).stdout.trim();
  assert.equal(statSync(join(d.dataRoot, 'overlay2', id, 'diff', 'h')).uid, 0);
  assert.equal(d.berth(['rm', 'h1']).code, 0);
});

test('privileged, host network and host PID need --userns host, as with Docker', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--privileged'], /Error response from daemon: privileged mode is incompatible with user namespaces\.  You must run the container in the host namespace when running privileged mode/],
    [['--net', 'host'], /Error response from daemon: cannot share the host's network namespace when user namespaces are enabled/],
    [['--pid', 'host'], /Error response from daemon: cannot share the host PID namespace when user namespaces are enabled/],
  ];
  for (const [flags, message] of cases) {
    const r = d.berth(['create', ...flags, 'busybox']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, message);
  }
  assert.equal(d.berth(['ps', '-aq']).stdout.trim(), '', 'a refused create leaves no container');
  const ok = run(['--userns', 'host', '--privileged', 'busybox', 'cat', '/proc/self/uid_map']);
  assert.equal(ok.stdout.trim().split(/\s+/).join(' '), '0 0 4294967295', ok.stderr);
});

test('info names userns among the security options; the docker CLIs run a remapped container', { skip: DOCKER_CLIS.length ? false : 'no docker CLI is installed' }, () => {
  const info = d.berth(['info', '--format', '{{json .SecurityOptions}}']);
  assert.ok((JSON.parse(info.stdout) as string[]).includes('name=userns'), info.stdout + info.stderr);
  const config = makeDockerConfigDir();
  try {
    const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: config };
    for (const cli of DOCKER_CLIS) {
      const shown = execFileSync(cli.path, ['info', '--format', '{{json .SecurityOptions}}'], { env, encoding: 'utf8' });
      assert.match(shown, /name=userns/, cli.name);
      const out = execFileSync(cli.path, ['run', '--rm', 'busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map'], { env, encoding: 'utf8' });
      assert.deepEqual(out.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['0', `0 ${base} ${SIZE}`], cli.name);
    }
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
});

test('docker-py runs a remapped container and sees userns in info', { skip: DOCKER_PY_SKIP }, () => {
  const script = [
    'import docker, sys',
    'c = docker.DockerClient(base_url=sys.argv[1])',
    'print("name=userns" in c.info()["SecurityOptions"])',
    'print(c.containers.run("busybox", ["sh", "-c", "id -u; cat /proc/self/uid_map"], remove=True).decode().strip())',
  ].join('\n');
  const out = execFileSync('python3', ['-c', script, d.host], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['True', '0', `0 ${base} ${SIZE}`]);
});

test('a remap user without subordinate ranges, or an unknown one, stops the daemon with dockerd\'s message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-userns-fail-'));
  try {
    const start = (remap: string): { status: number | null; stderr: string } => {
      const r = spawnSync(process.execPath, [join(REPO, 'bin/berthd'), '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'),
        '-H', `unix://${join(dir, 's.sock')}`, '--userns-remap', remap], { encoding: 'utf8', timeout: 20_000 });
      return { status: r.status, stderr: r.stderr };
    };
    const noRanges = start('nobody:nogroup');
    assert.equal(noRanges.status, 1);
    assert.match(noRanges.stderr, /Can't create ID mappings: no subuid ranges found for user "nobody"/);
    const unknown = start('no-such-user-here');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /Error during uid lookup for "no-such-user-here": getent unable to find entry "no-such-user-here" in passwd database/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with the vfs driver a remapped container runs on a shifted copy; diff and commit see only its changes', async () => {
  const v = await startTestDaemon(['--userns-remap', user, '--storage-driver', 'vfs']);
  try {
    await importBusybox(v);
    const r = v.berth(['run', '--name', 'v1', 'busybox', 'sh', '-c', 'id -u; stat -c %u /bin/busybox; touch /made; chown 1000:1000 /made']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['0', '0']);
    const id = v.berth(['inspect', '-f', '{{.Id}}', 'v1']).stdout.trim();
    assert.equal(statSync(join(v.dataRoot, 'vfs', 'dir', id, 'made')).uid, base + 1000);
    assert.equal(statSync(join(v.dataRoot, 'vfs', 'dir', id, 'bin', 'busybox')).uid, base);
    assert.deepEqual(v.berth(['diff', 'v1']).stdout.trim().split('\n'), ['A /made']);
    assert.equal(v.berth(['commit', 'v1', 'vc:1']).code, 0);
    const seen = v.berth(['run', '--rm', '--userns', 'host', 'vc:1', 'stat', '-c', '%u:%g', '/made', '/bin/busybox']);
    assert.deepEqual(seen.stdout.trim().split('\n'), ['1000:1000', '0:0'], seen.stderr);
    const layers = (JSON.parse(v.berth(['inspect', 'vc:1']).stdout) as Array<{ RootFS: { Layers: string[] } }>)[0]!.RootFS.Layers;
    assert.equal(layers.length, 2, 'the commit adds one layer');
  } finally {
    await v.destroy();
  }
});

test('userns-remap default creates dockremap with subordinate ranges, as dockerd does', async () => {
  const existed = (() => { try { execFileSync('id', ['dockremap'], { stdio: 'ignore' }); return true; } catch { return false; } })();
  const hadRanges = subIdRanges('/etc/subuid').length;
  let other: TestDaemon | undefined;
  try {
    other = await startTestDaemon(['--userns-remap', 'default']);
    await importBusybox(other);
    const line = readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith('dockremap:'));
    assert.ok(line, 'dockremap has a subordinate uid range');
    assert.ok(readFileSync('/etc/subgid', 'utf8').split('\n').some((l) => l.startsWith('dockremap:')), 'and a gid range');
    const [, start, length] = line.split(':');
    if (!existed) assert.equal(length, String(SIZE));
    const r = other.berth(['run', '--rm', 'busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['0', `0 ${start} ${length}`]);
  } finally {
    await other?.destroy();
    if (!existed) {
      // Leave the machine as it was found: the user, its group and the ranges dockerd would keep.
      for (const [file, flag] of [['/etc/subuid', '--del-subuids'], ['/etc/subgid', '--del-subgids']] as const) {
        for (const l of readFileSync(file, 'utf8').split('\n').filter((x) => x.startsWith('dockremap:'))) {
          const [, s, n] = l.split(':');
          execFileSync('usermod', [flag, `${s}-${Number(s) + Number(n) - 1}`, 'dockremap'], { stdio: 'ignore' });
        }
      }
      try { execFileSync('userdel', ['dockremap'], { stdio: 'ignore' }); } catch { /* gone */ }
      try { execFileSync('groupdel', ['dockremap'], { stdio: 'ignore' }); } catch { /* gone with the user */ }
      assert.equal(subIdRanges('/etc/subuid').length, hadRanges);
    }
  }
});
