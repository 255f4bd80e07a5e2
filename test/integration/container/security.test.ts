import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync, mkdtempSync, readFileSync } from 'node:fs';
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
