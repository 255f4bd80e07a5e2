import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMounts, mountsView } from '../../../src/container/volume-mounts.js';
import { composeConfig } from '../../../src/container/create-request.js';
import type { ContainerRecord, HostConfig, ContainerConfig } from '../../../src/container/container-record.js';

function hc(extra: Record<string, unknown>): HostConfig {
  return { Binds: null, NetworkMode: 'default', AutoRemove: false, Init: null, Privileged: false, ReadonlyRootfs: false, CapAdd: null, CapDrop: null,
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, LogConfig: { Type: 'json-file', Config: {} }, ShmSize: 0, ...extra } as HostConfig;
}

function cfg(volumes: Record<string, object> | null): ContainerConfig {
  return { Volumes: volumes } as ContainerConfig;
}

const source = {
  id: 'src', mountPoints: [
    { type: 'volume', source: '/v/a/_data', destination: '/data', name: 'a'.repeat(64), driver: 'local', mode: '', rw: true, propagation: '', copyData: true, createSource: false, anonymous: true },
    { type: 'bind', source: '/host', destination: '/h', name: '', driver: '', mode: 'ro', rw: false, propagation: 'rprivate', copyData: false, createSource: true },
    { type: 'volume', source: '/v/n/_data', destination: '/over', name: 'nn', driver: 'local', mode: 'z', rw: true, propagation: '', copyData: true, createSource: false },
  ],
} as unknown as ContainerRecord;
const find = (n: string): ContainerRecord | undefined => (n === 'src' ? source : undefined);

test('mount precedence: volumes-from, then Config.Volumes where free, then binds and mounts, tmpfs last', async () => {
  const plan = await planMounts(hc({
    VolumesFrom: ['src:ro'], Binds: ['named:/over', '/etc:/etc-ro:ro'], Mounts: [{ Type: 'tmpfs', Target: '/t' }], Tmpfs: { '/t': 'size=1m' },
  }), cfg({ '/data': {}, '/fresh': {}, '/etc-ro': {} }), find);
  const by = new Map(plan.map((m) => [m.destination, m]));
  assert.deepEqual([...by.keys()].sort(), ['/data', '/etc-ro', '/fresh', '/h', '/over', '/t']);
  assert.equal(by.get('/data')!.name, 'a'.repeat(64), 'from the other container');
  assert.equal(by.get('/data')!.rw, false);
  assert.equal(by.get('/data')!.copyData, false);
  assert.equal(by.get('/data')!.anonymous, true);
  assert.equal(by.get('/h')!.rw, false);
  assert.equal(by.get('/over')!.name, 'named', 'a bind overrides volumes-from');
  assert.equal(by.get('/over')!.mode, 'z');
  assert.equal(by.get('/etc-ro')!.type, 'bind', 'Config.Volumes gives way to a bind');
  assert.match(by.get('/fresh')!.name, /^[0-9a-f]{64}$/);
  assert.equal(by.get('/fresh')!.anonymous, true);
  assert.equal(by.get('/fresh')!.mode, '');
  assert.deepEqual(by.get('/t')!.tmpfsOptions, [`size=${1024 * 1024}`], '--tmpfs wins over --mount');
  await assert.rejects(planMounts(hc({ VolumesFrom: ['nope'] }), cfg(null), find), { message: 'No such container: nope' });
  await assert.rejects(planMounts(hc({ Binds: ['a1:/x'], Mounts: [{ Type: 'volume', Source: 'b1', Target: '/x' }] }), cfg(null), find), { message: 'Duplicate mount point: /x' });
  await assert.rejects(planMounts(hc({ Mounts: {} }), cfg(null), find), /cannot unmarshal/);
});

test('inspect view: Docker\'s MountPoint fields, sorted, --tmpfs left out', async () => {
  const plan = await planMounts(hc({ Binds: ['/b:/b', 'vol1:/a:ro'], Tmpfs: { '/tt': '' } }), cfg(null), find);
  plan.find((m) => m.name === 'vol1')!.source = '/root/volumes/vol1/_data';
  const rec = { mountPoints: plan, hostConfig: hc({ Tmpfs: { '/tt': '' } }) } as unknown as ContainerRecord;
  assert.deepEqual(mountsView(rec), [
    { Type: 'volume', Name: 'vol1', Source: '/root/volumes/vol1/_data', Destination: '/a', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' },
    { Type: 'bind', Source: '/b', Destination: '/b', Mode: '', RW: true, Propagation: 'rprivate' },
  ]);
});

test('Config.Volumes is the union of the image\'s VOLUMEs and the request\'s', () => {
  const { config } = composeConfig({ Image: 'x', Cmd: ['true'], Volumes: { '/req': {} } }, { Volumes: { '/img': {} } }, 'x');
  assert.deepEqual(Object.keys(config.Volumes ?? {}).sort(), ['/img', '/req']);
  assert.equal(composeConfig({ Image: 'x', Cmd: ['true'] }, {}, 'x').config.Volumes, null);
});
