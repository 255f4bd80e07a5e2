import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseApiMount, parseTmpfsEntry, parseVolumeSpec, parseVolumesFrom, validMountMode, validateVolumeName,
} from '../../../src/volume/mount-spec.js';
import { parseMountOptions, validateLocalOptions } from '../../../src/volume/local-driver.js';

test('-v specs: named, anonymous, bind, modes', () => {
  const named = parseVolumeSpec('data:/var/lib/data:ro,nocopy');
  assert.equal(named.type, 'volume');
  assert.equal(named.name, 'data');
  assert.equal(named.destination, '/var/lib/data');
  assert.equal(named.rw, false);
  assert.equal(named.copyData, false);
  assert.equal(named.propagation, '');
  const anon = parseVolumeSpec('/data');
  assert.equal(anon.type, 'volume');
  assert.equal(anon.anonymous, true);
  assert.equal(anon.name, '');
  const anonRo = parseVolumeSpec('/data:ro');
  assert.equal(anonRo.destination, '/data');
  assert.equal(anonRo.rw, false);
  const bind = parseVolumeSpec('/host//dir/:/ctr:rw,Z,rshared');
  assert.equal(bind.type, 'bind');
  assert.equal(bind.source, '/host/dir');
  assert.equal(bind.propagation, 'rshared');
  assert.equal(bind.createSource, true);
  assert.equal(bind.mode, 'rw,Z,rshared');
  assert.equal(parseVolumeSpec('/a:/b').propagation, 'rprivate');
});

test('-v specs: Docker\'s errors', () => {
  assert.throws(() => parseVolumeSpec('a:/b:ro:x'), { message: "invalid volume specification: 'a:/b:ro:x'" });
  assert.throws(() => parseVolumeSpec(':/b'), { message: "invalid volume specification: ':/b'" });
  assert.throws(() => parseVolumeSpec('a::ro'), { message: "invalid volume specification: 'a::ro'" });
  assert.throws(() => parseVolumeSpec('/a:/b:bogus'), { message: 'invalid mode: bogus' });
  assert.throws(() => parseVolumeSpec('/a:/b:ro,rw'), { message: 'invalid mode: ro,rw' });
  assert.throws(() => parseVolumeSpec('/a:rel'), /invalid volume specification: '\/a:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute/);
  assert.throws(() => parseVolumeSpec('/a:/'), /destination can't be '\/'/);
  assert.throws(() => parseVolumeSpec('rel/dir:/x'), /"rel\/dir" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed. If you intended to pass a host directory, use absolute path/);
  assert.throws(() => parseVolumeSpec('x$y:/x'), /^InvalidParameterError: create x\$y: "x\$y" includes invalid characters/);
});

test('mode grammar', () => {
  for (const ok of ['', 'ro', 'rw', 'z', 'Z', 'nocopy', 'ro,z', 'rw,rslave,nocopy,Z']) assert.ok(validMountMode(ok), ok);
  for (const bad of ['x', 'ro,ro', 'z,Z', 'shared,slave', 'nocopy,nocopy', 'ro,']) assert.ok(!validMountMode(bad), bad);
});

test('volume names', () => {
  validateVolumeName('ab');
  validateVolumeName('my_vol.1-2');
  for (const bad of ['a', '-ab', '.ab', 'a b', 'a/b', 'a:b', '']) assert.throws(() => validateVolumeName(bad), /includes invalid characters/);
});

test('HostConfig.Mounts entries and their errors', () => {
  const v = parseApiMount({ Type: 'volume', Source: 'v1', Target: '/d', VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } } } });
  assert.equal(v.name, 'v1');
  assert.equal(v.copyData, false);
  assert.deepEqual(v.labels, { a: 'b' });
  assert.deepEqual(v.driverOpts, { type: 'tmpfs', device: 'tmpfs' });
  const b = parseApiMount({ Type: 'bind', Source: '/h', Target: '/c', ReadOnly: true });
  assert.equal(b.rw, false);
  assert.equal(b.propagation, 'rprivate');
  assert.equal(b.createSource, false);
  const t = parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } });
  assert.deepEqual(t.tmpfsOptions, ['size=1048576', 'mode=1777']);
  assert.throws(() => parseApiMount({ Type: 'nfs', Target: '/x' }), { message: 'invalid mount config for type "nfs": mount type unknown' });
  assert.throws(() => parseApiMount({ Type: 'bind', Target: '/x' }), { message: 'invalid mount config for type "bind": field Source must not be empty' });
  assert.throws(() => parseApiMount({ Type: 'bind', Source: 'rel', Target: '/x' }), { message: "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute" });
  assert.throws(() => parseApiMount({ Type: 'volume', Source: 'v' }), { message: 'invalid mount config for type "volume": field Target must not be empty' });
  assert.throws(() => parseApiMount({ Type: 'volume', Target: '/x', ReadOnly: true }), /must not set ReadOnly mode when using anonymous volumes/);
  assert.throws(() => parseApiMount({ Type: 'volume', Source: 'v', Target: '/x', BindOptions: { Propagation: 'shared' } }), /field BindOptions must not be specified/);
  assert.throws(() => parseApiMount({ Type: 'tmpfs', Source: 'x', Target: '/x' }), /field Source must not be specified/);
  assert.throws(() => parseApiMount({ Type: 'bind', Source: '/a', Target: '/x', BindOptions: { Propagation: 'weird' } }), /invalid propagation mode: weird/);
});

test('--tmpfs entries', () => {
  const t = parseTmpfsEntry('/run', 'size=64m,mode=1777,exec');
  assert.deepEqual(t.tmpfsOptions, [`size=${64 * 1024 * 1024}`, 'mode=1777', 'exec']);
  assert.equal(parseTmpfsEntry('/run', 'ro').rw, false);
  assert.throws(() => parseTmpfsEntry('run', ''), /mount path must be absolute/);
  assert.throws(() => parseTmpfsEntry('/run', 'size=lots'), /invalid tmpfs option/);
  assert.throws(() => parseTmpfsEntry('/run', 'bogus'), /invalid tmpfs option/);
});

test('--volumes-from specs', () => {
  assert.deepEqual(parseVolumesFrom('db'), { container: 'db', mode: '' });
  assert.deepEqual(parseVolumesFrom('db:ro'), { container: 'db', mode: 'ro' });
  assert.deepEqual(parseVolumesFrom('db:rw'), { container: 'db', mode: 'rw' });
  assert.deepEqual(parseVolumesFrom('db:ro,z'), { container: 'db', mode: 'ro' });
  assert.throws(() => parseVolumesFrom('db:xx'), /invalid mode: xx/);
  assert.throws(() => parseVolumesFrom('db:nocopy'), /invalid mode for volumes-from: nocopy/);
});

test('local driver options', () => {
  validateLocalOptions('v', {});
  validateLocalOptions('v', { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
  assert.throws(() => validateLocalOptions('v', { foo: 'x' }), { message: 'create v: invalid option: "foo"' });
  assert.throws(() => validateLocalOptions('v', { type: 'tmpfs' }), { message: 'create v: missing required option: "device"' });
  assert.throws(() => validateLocalOptions('v', { device: '/x' }), { message: 'create v: missing required option: "type"' });
  assert.throws(() => validateLocalOptions('v', { o: 'size=1m', type: 'tmpfs' }), { message: 'create v: missing required option: "device"' });
  assert.deepEqual(parseMountOptions('bind,ro,size=1m,uid=5'), { flags: 4096 | 1, data: 'size=1m,uid=5' });
});
