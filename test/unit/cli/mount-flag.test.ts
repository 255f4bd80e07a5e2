import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountFlag, ramInBytes, splitVolumeFlags, tmpfsMap } from '../../../src/cli/mount-flag.js';

test('--mount values as docker\'s CLI sends them', () => {
  assert.deepEqual(parseMountFlag('type=bind,src=/a,dst=/b,readonly,bind-propagation=rslave'), {
    Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true, BindOptions: { Propagation: 'rslave' },
  });
  assert.deepEqual(parseMountFlag('source=v,target=/d,volume-nocopy,volume-opt=type=tmpfs,volume-label=a=b'), {
    Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { NoCopy: true, DriverConfig: { Options: { type: 'tmpfs' } }, Labels: { a: 'b' } },
  });
  assert.deepEqual(parseMountFlag('type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770'), {
    Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 },
  });
  assert.equal(parseMountFlag('type=bind,src=./x,dst=/y', '/base').Source, '/base/x');
  assert.equal(parseMountFlag('"type=volume",dst=/y').Type, 'volume');
});

test('--mount errors in docker\'s words', () => {
  assert.throws(() => parseMountFlag('type=bind,src=/a'), { message: 'target is required' });
  assert.throws(() => parseMountFlag('type=bind,dst=/a,bogus'), { message: "invalid field 'bogus' must be a key=value pair" });
  assert.throws(() => parseMountFlag('type=bind,dst=/a,foo=1'), { message: "unexpected key 'foo' in 'foo=1'" });
  assert.throws(() => parseMountFlag('type=bind,dst=/a,volume-nocopy'), { message: "cannot mix 'volume-*' options with mount type 'bind'" });
  assert.throws(() => parseMountFlag('type=volume,dst=/a,tmpfs-size=1m'), { message: "cannot mix 'tmpfs-*' options with mount type 'volume'" });
  assert.throws(() => parseMountFlag('type=tmpfs,dst=/a,tmpfs-size=lots'), { message: 'invalid value for tmpfs-size: lots' });
  assert.throws(() => parseMountFlag('type=,dst=/a'), { message: 'type is required' });
});

test('-v and --tmpfs values', () => {
  assert.deepEqual(splitVolumeFlags(['/anon', 'named:/d:ro', './rel:/r', '/h:/c'], '/cwd'), {
    binds: ['named:/d:ro', '/cwd/rel:/r', '/h:/c'], volumes: { '/anon': {} },
  });
  assert.deepEqual(tmpfsMap(['/run', '/tmp:size=1m,mode=1777']), { '/run': '', '/tmp': 'size=1m,mode=1777' });
  assert.equal(ramInBytes('1g'), 1024 ** 3);
  assert.equal(ramInBytes('512KiB'), 512 * 1024);
  assert.equal(ramInBytes('x'), undefined);
});
