import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, withUserNamespace, type HostFacts, type SpecInput } from '../../../src/runtime/index.js';
import { containerOwnerOf, hostOwnerOf, type IdMapping } from '../../../src/common/index.js';

const host: HostFacts = { capBound: ['CAP_CHOWN'], nofileHard: 1024, nprocHard: 1024, cgroupVersion: 1 };
const input: SpecInput = {
  id: 'c1', rootfs: '/r', readonlyRootfs: false, args: ['sh'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] },
  terminal: false, hostname: 'h', domainname: '', privileged: false, capAdd: [], capDrop: [], init: false, mounts: [],
  network: { mode: 'path', path: '/run/netns/x' }, shmSize: 0, cgroupsPath: '/berth/c1', seccompProfilePath: null,
};
const m: IdMapping = {
  uidMaps: [{ containerId: 0, hostId: 100000, size: 65536 }],
  gidMaps: [{ containerId: 0, hostId: 200000, size: 1000 }, { containerId: 1000, hostId: 300000, size: 10 }],
};

test('the spec joins the container\'s user namespace first, with its mappings', () => {
  const spec = withUserNamespace(buildSpec(input, host), m, '/run/berth/userns/c1');
  assert.deepEqual(spec.linux.namespaces[0], { type: 'user', path: '/run/berth/userns/c1' });
  assert.equal(spec.linux.namespaces.filter((n) => n.type === 'user').length, 1);
  assert.ok(spec.linux.namespaces.some((n) => n.type === 'network' && n.path === '/run/netns/x'));
  assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  assert.deepEqual(spec.linux.gidMappings, [{ containerID: 0, hostID: 200000, size: 1000 }, { containerID: 1000, hostID: 300000, size: 10 }]);
  const cgroup = spec.mounts.find((x) => x.type === 'cgroup')!;
  assert.ok(!cgroup.options.includes('ro'), 'the cgroup mount cannot be made read-only from inside');
  assert.ok(buildSpec(input, host).mounts.find((x) => x.type === 'cgroup')!.options.includes('ro'));
});

test('with the host\'s IPC namespace, a remapped container goes without /dev/mqueue', () => {
  const shared = withUserNamespace(buildSpec({ ...input, sharedNamespaces: { ipc: 'host' } }, host), m, '/u');
  assert.ok(!shared.mounts.some((x) => x.type === 'mqueue'));
  assert.ok(withUserNamespace(buildSpec(input, host), m, '/u').mounts.some((x) => x.type === 'mqueue'));
});

test('owners translate between the host and the namespace', () => {
  assert.deepEqual(hostOwnerOf(m, 0, 0), { uid: 100000, gid: 200000 });
  assert.deepEqual(hostOwnerOf(m, 1000, 1005), { uid: 101000, gid: 300005 });
  assert.deepEqual(containerOwnerOf(m, 101000, 300005), { uid: 1000, gid: 1005 });
  assert.deepEqual(containerOwnerOf(m, 0, 0), { uid: 65534, gid: 65534 });
});
