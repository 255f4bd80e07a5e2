import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let work: string;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
  work = mkdtempSync(join(tmpdir(), 'berth-sec-'));
});
after(async () => {
  await d?.destroy();
  rmSync(work, { recursive: true, force: true });
});

async function runOut(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return d.berth(['run', '--rm', ...args]);
}

const hostBound = /CapBnd:\s+([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;

test('capabilities inside match what was asked: default, --cap-drop ALL --cap-add, --privileged', async () => {
  const def = await runOut(['busybox', 'grep', 'CapEff', '/proc/self/status']);
  assert.equal(def.stdout.trim(), 'CapEff:\t00000000a80425fb');
  const some = await runOut(['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', '--cap-add', 'CHOWN', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
  assert.equal(some.stdout.trim(), 'CapEff:\t0000000000001001');
  const priv = await runOut(['--privileged', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
  assert.equal(priv.stdout.trim(), `CapEff:\t${hostBound}`);
});

test('--privileged can mount, a default container cannot', async () => {
  const priv = await runOut(['--privileged', 'busybox', 'sh', '-c', 'mkdir -p /m && mount -t tmpfs none /m && echo mounted']);
  assert.equal(priv.stdout.trim(), 'mounted', priv.stderr);
  const plain = await runOut(['busybox', 'sh', '-c', 'mkdir -p /m && mount -t tmpfs none /m && echo mounted']);
  assert.notEqual(plain.stdout.trim(), 'mounted');
});

test('--security-opt no-new-privileges, seccomp=unconfined and a profile file; --group-add; --sysctl', async () => {
  const nnp = await runOut(['--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']);
  assert.equal(nnp.stdout.trim(), 'NoNewPrivs:\t1');
  const def = await runOut(['busybox', 'grep', 'Seccomp:', '/proc/self/status']);
  assert.equal(def.stdout.trim(), 'Seccomp:\t2');
  const unconf = await runOut(['--security-opt', 'seccomp=unconfined', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']);
  assert.equal(unconf.stdout.trim(), 'Seccomp:\t0');
  const profile = join(work, 'deny-mkdir.json');
  writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
  const custom = await runOut(['--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', 'mkdir /x 2>&1; echo rc=$?']);
  assert.match(custom.stdout, /rc=1/);
  const groups = await runOut(['--group-add', '1234', '--group-add', '99', 'busybox', 'id', '-G']);
  const gids = groups.stdout.trim().split(' ');
  assert.ok(gids.includes('1234') && gids.includes('99') && gids[0] === '0', groups.stdout);
  const sysctl = await runOut(['--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward']);
  assert.equal(sysctl.stdout.trim(), '1');
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Sysctls: { 'kernel.panic': '1' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /sysctl 'kernel.panic' is not allowed/);
  const badOpt = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { SecurityOpt: ['bogus'] } });
  assert.equal(badOpt.status, 400);
});

test('--pid host sees host processes, --pid container:x joins x, --uts host keeps the host name', async () => {
  const host = await runOut(['--pid', 'host', 'busybox', 'sh', '-c', `test -d /proc/${process.pid} && echo sees-host`]);
  assert.equal(host.stdout.trim(), 'sees-host', host.stderr);
  const own = await runOut(['busybox', 'sh', '-c', `test -d /proc/${process.pid} && echo sees-host || echo private`]);
  assert.equal(own.stdout.trim(), 'private');
  const c = await d.api('POST', '/containers/create?name=pidsrc', { Image: 'busybox', Cmd: ['sleep', '123'] });
  assert.equal(c.status, 201);
  await d.api('POST', '/containers/pidsrc/start');
  const joined = await runOut(['--pid', 'container:pidsrc', 'busybox', 'ps', '-o', 'args']);
  assert.match(joined.stdout, /sleep 123/);
  await d.api('DELETE', '/containers/pidsrc?force=1');
  const uts = await runOut(['--uts', 'host', 'busybox', 'hostname']);
  assert.equal(uts.stdout.trim(), (await import('node:os')).hostname());
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { PidMode: 'bogus' } });
  assert.equal(bad.status, 400);
});

test('--group-add resolves names from the container\'s /etc/group, applies to execs too; an unknown name fails the start', async () => {
  const groups = await runOut(['--group-add', 'users', '--group-add', '4242', 'busybox', 'id', '-G']);
  const gids = groups.stdout.trim().split(' ');
  assert.ok(gids.includes('100') && gids.includes('4242'), groups.stdout + groups.stderr);
  const bg = (await d.berth(['run', '-d', '--group-add', 'users', '--group-add', '4242', 'busybox', 'sleep', '60'])).stdout.trim();
  try {
    const inExec = (await d.berth(['exec', '-u', 'daemon', bg, 'id', '-G'])).stdout.trim().split(' ');
    assert.ok(inExec.includes('100') && inExec.includes('4242'), inExec.join(' '));
  } finally {
    await d.berth(['rm', '-f', bg]);
  }
  const unknown = await runOut(['--group-add', 'nosuchgroup', 'busybox', 'true']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /Unable to find group nosuchgroup: no matching entries in group file/);
});

test('--device adds a host device node with its cgroup rule and permissions; a missing device is refused', async () => {
  const r = await d.berth(['run', '-d', '--device', '/dev/kmsg:/dev/berthkmsg:r', 'busybox', 'sleep', '60']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    const ls = await d.berth(['exec', id, 'ls', '-l', '/dev/berthkmsg']);
    assert.match(ls.stdout, /^c.* 1,\s+11 /, ls.stdout + ls.stderr);
    const rules = readFileSync(`/sys/fs/cgroup/devices/berth/${id}/devices.list`, 'utf8');
    assert.match(rules, /^c 1:11 r$/m);
    const write = await d.berth(['exec', id, 'sh', '-c', 'echo x > /dev/berthkmsg']);
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /Operation not permitted/);
    const info = (await d.api('GET', `/containers/${id}/json`)).json() as { HostConfig: { Devices: unknown[] } };
    assert.deepEqual(info.HostConfig.Devices, [{ PathOnHost: '/dev/kmsg', PathInContainer: '/dev/berthkmsg', CgroupPermissions: 'r' }]);
  } finally {
    await d.berth(['rm', '-f', id]);
  }
  const missing = await runOut(['--device', '/dev/berth-no-such-device', 'busybox', 'true']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /error gathering device information while adding custom device "\/dev\/berth-no-such-device"/);
  const mode = await d.berth(['run', '--rm', '--device', '/dev/kmsg:/dev/k:rwx', 'busybox', 'true']);
  assert.equal(mode.code, 125);
  assert.match(mode.stderr, /invalid device mode: rwx/);
});

test('--cgroup-parent places the container\'s cgroup under it; --userns other than host is refused', async () => {
  const parent = `berthtest-${process.pid}`;
  const r = await d.berth(['run', '-d', '--cgroup-parent', parent, 'busybox', 'sleep', '60']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    const procs = readFileSync(`/sys/fs/cgroup/memory/${parent}/${id}/cgroup.procs`, 'utf8').trim();
    const pid = ((await d.api('GET', `/containers/${id}/json`)).json() as { State: { Pid: number } }).State.Pid;
    assert.ok(procs.split('\n').includes(String(pid)), procs);
    const info = (await d.api('GET', `/containers/${id}/json`)).json() as { HostConfig: { CgroupParent: string } };
    assert.equal(info.HostConfig.CgroupParent, parent);
    const stats = (await d.api('GET', `/containers/${id}/stats?stream=false`)).json() as { memory_stats: { usage?: number } };
    assert.ok((stats.memory_stats.usage ?? 0) > 0);
  } finally {
    await d.berth(['rm', '-f', id]);
    for (const ctl of readdirSync('/sys/fs/cgroup')) {
      try { rmdirSync(`/sys/fs/cgroup/${ctl}/${parent}`); } catch { /* not there */ }
    }
  }
  const userns = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { UsernsMode: 'private' } });
  assert.equal(userns.status, 400);
  assert.match(userns.body, /invalid UsernsMode: private/);
  const host = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { UsernsMode: 'host' } });
  assert.equal(host.status, 201, host.body);
  await d.api('DELETE', `/containers/${(host.json() as { Id: string }).Id}`);
});

test('--ipc private, host, none, shareable and container:x (which needs a shareable donor)', async () => {
  const hostNs = readlinkSync('/proc/self/ns/ipc');
  const own = await runOut(['busybox', 'readlink', '/proc/self/ns/ipc']);
  assert.notEqual(own.stdout.trim(), hostNs);
  const host = await runOut(['--ipc', 'host', 'busybox', 'readlink', '/proc/self/ns/ipc']);
  assert.equal(host.stdout.trim(), hostNs, host.stderr);
  const none = await runOut(['--ipc', 'none', 'busybox', 'sh', '-c', 'grep -c " /dev/shm " /proc/mounts; readlink /proc/self/ns/ipc']);
  assert.equal(none.stdout.split('\n')[0], '0', none.stdout + none.stderr);
  assert.notEqual(none.stdout.split('\n')[1], hostNs);
  const donor = (await d.berth(['run', '-d', '--ipc', 'shareable', 'busybox', 'sh', '-c', 'echo shared > /dev/shm/x; sleep 60'])).stdout.trim();
  const priv = (await d.berth(['run', '-d', 'busybox', 'sleep', '60'])).stdout.trim();
  try {
    const donorNs = (await d.berth(['exec', donor, 'readlink', '/proc/self/ns/ipc'])).stdout.trim();
    const joined = await runOut(['--ipc', `container:${donor}`, 'busybox', 'sh', '-c', 'readlink /proc/self/ns/ipc; cat /dev/shm/x']);
    assert.deepEqual(joined.stdout.trim().split('\n'), [donorNs, 'shared'], joined.stderr);
    const refused = await runOut(['--ipc', `container:${priv}`, 'busybox', 'true']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /non-shareable/);
    const info = (await d.api('GET', `/containers/${donor}/json`)).json() as { HostConfig: { IpcMode: string } };
    assert.equal(info.HostConfig.IpcMode, 'shareable');
  } finally {
    await d.berth(['rm', '-f', donor, priv]);
  }
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { IpcMode: 'bogus' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /invalid IPC mode: bogus/);
});
