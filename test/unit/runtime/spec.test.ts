import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildSpec, readHostFacts, type HostFacts, type SpecInput } from '../../../src/runtime/spec.js';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, capabilitiesFromMask } from '../../../src/runtime/capabilities.js';
import { SeccompProfileCache, convertSeccompProfile, parseSeccompProfile } from '../../../src/runtime/seccomp-profile.js';
import { InvalidParameterError } from '../../../src/common/errors.js';

/** This machine's shape: no CAP_SYS_RESOURCE, nofile hard 20000. */
const HOST: HostFacts = {
  capBound: capabilitiesFromMask('000001fffeffffff'),
  nofileHard: 20000,
  nprocHard: 96365,
  cgroupVersion: 1,
  devices: [{ type: 'c', path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 }],
};

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'c1', rootfs: '/tmp/rootfs', readonlyRootfs: false, args: ['sh'], env: ['PATH=/bin'], cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] }, terminal: false, hostname: 'c1', domainname: '',
    privileged: false, capAdd: [], capDrop: [], init: false, mounts: [], network: { mode: 'new' },
    shmSize: 64 * 1024 * 1024, cgroupsPath: '/berth/c1', seccompProfilePath: null, ...over,
  };
}

test('capabilitiesFromMask reads the bounding set without CAP_SYS_RESOURCE', () => {
  assert.equal(HOST.capBound.length, 40);
  assert.ok(!HOST.capBound.includes('CAP_SYS_RESOURCE'));
  assert.ok(HOST.capBound.includes('CAP_CHECKPOINT_RESTORE'));
});

test('default capabilities are Docker\'s 14', () => {
  const spec = buildSpec(input(), HOST);
  assert.deepEqual([...spec.process.capabilities.bounding].sort(), [...DEFAULT_CAPABILITIES].sort());
  assert.deepEqual(spec.process.capabilities.effective, spec.process.capabilities.bounding);
  assert.deepEqual(spec.process.capabilities.permitted, spec.process.capabilities.bounding);
  assert.equal(spec.process.noNewPrivileges, false);
});

test('capAdd/capDrop accept any case and an optional CAP_ prefix', () => {
  const spec = buildSpec(input({ capAdd: ['net_admin', 'CAP_sys_ptrace'], capDrop: ['Chown', 'CAP_NET_RAW'] }), HOST);
  const caps = spec.process.capabilities.bounding;
  assert.ok(caps.includes('CAP_NET_ADMIN'));
  assert.ok(caps.includes('CAP_SYS_PTRACE'));
  assert.ok(!caps.includes('CAP_CHOWN'));
  assert.ok(!caps.includes('CAP_NET_RAW'));
});

test('capAdd ALL grants what the host holds, minus capDrop', () => {
  const spec = buildSpec(input({ capAdd: ['ALL'], capDrop: ['mknod'] }), HOST);
  const caps = spec.process.capabilities.bounding;
  assert.equal(caps.length, 39);
  assert.ok(!caps.includes('CAP_SYS_RESOURCE'));
  assert.ok(!caps.includes('CAP_MKNOD'));
});

test('capDrop ALL keeps only capAdd', () => {
  const spec = buildSpec(input({ capAdd: ['kill'], capDrop: ['all'] }), HOST);
  assert.deepEqual(spec.process.capabilities.bounding, ['CAP_KILL']);
});

test('an unknown capability is an InvalidParameterError', () => {
  assert.throws(() => buildSpec(input({ capAdd: ['FLY'] }), HOST), InvalidParameterError);
  assert.throws(() => buildSpec(input({ capDrop: ['CAP_NOPE'] }), HOST), InvalidParameterError);
});

test('asking for a capability the host bounding set lacks is an InvalidParameterError', () => {
  assert.throws(() => buildSpec(input({ capAdd: ['SYS_RESOURCE'] }), HOST), /bounding set/);
});

test('privileged gets every capability the host holds and nothing it lacks', () => {
  const spec = buildSpec(input({ privileged: true, seccompProfilePath: '/nonexistent' }), HOST);
  const caps = spec.process.capabilities.bounding;
  assert.deepEqual(caps, ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE'));
  assert.equal(spec.linux.seccomp, undefined);
  assert.equal(spec.linux.maskedPaths, undefined);
  assert.equal(spec.linux.readonlyPaths, undefined);
  assert.deepEqual(spec.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  assert.deepEqual(spec.linux.devices?.map((d) => d.path), ['/dev/kmsg']);
  const sys = spec.mounts.find((m) => m.destination === '/sys')!;
  assert.ok(!sys.options.includes('ro'));
});

test('rlimits are clamped to the host hard limits', () => {
  const spec = buildSpec(input(), HOST);
  assert.deepEqual(spec.process.rlimits, [
    { type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 },
    { type: 'RLIMIT_NPROC', hard: 96365, soft: 96365 },
  ]);
  const big = buildSpec(input(), { ...HOST, nofileHard: 4_000_000 });
  assert.equal(big.process.rlimits[0]!.hard, 1048576);
});

test('masked and read-only paths, default mounts and device rules match Docker', () => {
  const spec = buildSpec(input({ shmSize: 1024 * 1024 }), HOST);
  assert.ok(spec.linux.maskedPaths!.includes('/proc/kcore'));
  assert.ok(spec.linux.maskedPaths!.includes('/sys/firmware'));
  assert.equal(spec.linux.maskedPaths!.length, 11);
  assert.deepEqual(spec.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  const dests = spec.mounts.map((m) => m.destination);
  assert.deepEqual(dests, ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
  const shm = spec.mounts.find((m) => m.destination === '/dev/shm')!;
  assert.ok(shm.options.includes(`size=${1024 * 1024}`));
  const pts = spec.mounts.find((m) => m.destination === '/dev/pts')!;
  assert.deepEqual(pts.options.filter((o) => o.includes('=')), ['ptmxmode=0666', 'mode=0620', 'gid=5']);
  assert.ok(spec.mounts.find((m) => m.destination === '/sys')!.options.includes('ro'));
  assert.deepEqual(spec.linux.resources.devices[0], { allow: false, access: 'rwm' });
  assert.ok(spec.linux.devices!.some((d) => d.path === '/dev/null' && d.major === 1 && d.minor === 3));
  assert.equal(spec.linux.cgroupsPath, '/berth/c1');
});

test('namespaces follow the network mode and cgroup version', () => {
  const types = (s: ReturnType<typeof buildSpec>) => s.linux.namespaces.map((n) => n.type);
  assert.deepEqual(types(buildSpec(input(), HOST)), ['pid', 'ipc', 'uts', 'mount', 'network']);
  assert.deepEqual(types(buildSpec(input({ network: { mode: 'host' } }), HOST)), ['pid', 'ipc', 'uts', 'mount']);
  const p = buildSpec(input({ network: { mode: 'path', path: '/run/netns/x' } }), { ...HOST, cgroupVersion: 2 });
  assert.deepEqual(p.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/run/netns/x' });
  assert.ok(types(p).includes('cgroup'));
});

test('init binds tini and runs the command under it', () => {
  const spec = buildSpec(input({ init: true, args: ['sleep', '1'] }), HOST);
  assert.deepEqual(spec.process.args, ['/sbin/docker-init', '--', 'sleep', '1']);
  const m = spec.mounts.find((x) => x.destination === '/sbin/docker-init')!;
  assert.equal(m.source, '/usr/bin/tini-static');
  assert.equal(m.type, 'bind');
  assert.ok(m.options.includes('ro'));
});

test('user mounts replace defaults at the same place and come parents first', () => {
  const spec = buildSpec(input({
    mounts: [
      { destination: '/data/sub', source: '/srv/b', type: 'bind', options: ['ro'] },
      { destination: '/data', source: '/srv/a', type: 'bind', options: [] },
      { destination: '/dev/shm', source: '/srv/shm', type: 'bind', options: ['rbind'] },
    ],
  }), HOST);
  const dests = spec.mounts.map((m) => m.destination);
  assert.equal(dests.filter((d) => d === '/dev/shm').length, 1);
  assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'));
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/data/sub')!.options, ['rbind', 'ro']);
});

test('user, hostname, oomScoreAdj, sysctls and readonly rootfs are carried over', () => {
  const spec = buildSpec(input({
    user: { uid: 1000, gid: 100, additionalGids: [10, 20], umask: 0o22 }, hostname: 'h', domainname: 'example.org',
    oomScoreAdj: 500, sysctls: { 'net.ipv4.ip_forward': '1' }, readonlyRootfs: true, noNewPrivileges: true,
  }), HOST);
  assert.deepEqual(spec.process.user, { uid: 1000, gid: 100, umask: 0o22, additionalGids: [10, 20] });
  assert.equal(spec.hostname, 'h');
  assert.equal(spec.domainname, 'example.org');
  assert.equal(spec.process.oomScoreAdj, 500);
  assert.deepEqual(spec.linux.sysctl, { 'net.ipv4.ip_forward': '1' });
  assert.equal(spec.root.readonly, true);
  assert.equal(spec.process.noNewPrivileges, true);
});

const PROFILE = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 38,
  archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], includes: {}, excludes: {} },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] }, excludes: {} },
    { names: ['breakpoint'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] }, excludes: {} },
    { names: ['bpf'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] }, excludes: {} },
    { names: ['bpf'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, includes: {}, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }], includes: {}, excludes: {} },
  ],
};

test('seccomp conversion honours arches and capability includes/excludes', () => {
  const profile = parseSeccompProfile(JSON.stringify(PROFILE));
  const plain = convertSeccompProfile(profile, { capabilities: [...DEFAULT_CAPABILITIES] });
  assert.equal(plain.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(plain.defaultErrnoRet, 38);
  assert.deepEqual(plain.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const names = plain.syscalls!.map((s) => `${s.names.join(',')}:${s.action}`);
  assert.deepEqual(names, ['read,write:SCMP_ACT_ALLOW', 'arch_prctl:SCMP_ACT_ALLOW', 'bpf:SCMP_ACT_ERRNO', 'personality:SCMP_ACT_ALLOW']);
  assert.equal(plain.syscalls![2]!.errnoRet, 1);
  assert.deepEqual(plain.syscalls![3]!.args, [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }]);
  const admin = convertSeccompProfile(profile, { capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
  assert.ok(admin.syscalls!.some((s) => s.names[0] === 'bpf' && s.action === 'SCMP_ACT_ALLOW'));
  assert.ok(!admin.syscalls!.some((s) => s.names[0] === 'bpf' && s.action === 'SCMP_ACT_ERRNO'));
});

test('buildSpec loads the profile file once and applies the final capability set', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-seccomp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'profile.json');
  await writeFile(path, JSON.stringify(PROFILE));
  const cache = new SeccompProfileCache();
  const a = buildSpec(input({ seccompProfilePath: path, capAdd: ['SYS_ADMIN'] }), HOST, { seccompCache: cache });
  assert.ok(a.linux.seccomp!.syscalls!.some((s) => s.names[0] === 'bpf' && s.action === 'SCMP_ACT_ALLOW'));
  assert.strictEqual(cache.load(path), cache.load(path));
  assert.throws(() => buildSpec(input({ seccompProfilePath: join(dir, 'missing.json') }), HOST, { seccompCache: cache }), InvalidParameterError);
});

test('the Debian containers-common profile converts for the default capability set', { skip: !existsSync('/usr/share/containers/seccomp.json') && 'containers-common not installed' }, () => {
  const spec = buildSpec(input({ seccompProfilePath: '/usr/share/containers/seccomp.json' }), HOST);
  const sc = spec.linux.seccomp!;
  assert.equal(sc.defaultAction, 'SCMP_ACT_ERRNO');
  const allowed = new Set(sc.syscalls!.filter((s) => s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
  assert.ok(allowed.has('chroot'), 'CAP_SYS_CHROOT is a default capability');
  assert.ok(!allowed.has('bpf'), 'CAP_SYS_ADMIN is not');
  assert.ok(allowed.has('arch_prctl'));
  assert.ok(!allowed.has('breakpoint'));
});

test('readHostFacts reads this host', () => {
  const facts = readHostFacts();
  assert.ok(facts.capBound.includes('CAP_CHOWN'));
  assert.ok(facts.nofileHard > 0);
  assert.ok(facts.cgroupVersion === 1 || facts.cgroupVersion === 2);
  assert.ok(facts.devices!.some((d) => d.path === '/dev/null' && d.major === 1 && d.minor === 3));
});

