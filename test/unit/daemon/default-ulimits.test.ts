import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultUlimitsAsFlags, parseUlimitFlag, readHostHardLimits, resolveDefaultUlimits } from '../../../src/daemon/default-ulimits.js';
import { shutdownTimeoutFor } from '../../../src/daemon/shutdown-containers.js';
import { loadDaemonOptions, reloadDaemonOptions } from '../../../src/daemon/daemon-config.js';
import { parseDaemonArgs } from '../../../src/daemon/daemon-options.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('parseUlimitFlag: soft[:hard] with Docker\'s errors', () => {
  assert.deepEqual(parseUlimitFlag('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
  assert.deepEqual(parseUlimitFlag('core=0'), { Name: 'core', Soft: 0, Hard: 0 });
  assert.deepEqual(parseUlimitFlag('memlock=-1:-1'), { Name: 'memlock', Soft: -1, Hard: -1 });
  assert.throws(() => parseUlimitFlag('nofile'), /^InvalidParameterError: invalid ulimit argument: nofile$/);
  assert.throws(() => parseUlimitFlag('files=1'), /invalid ulimit type: files/);
  assert.throws(() => parseUlimitFlag('nofile=1:2:3'), /too many limit value arguments - 1:2:3, can only have up to two, `soft\[:hard\]`/);
  assert.throws(() => parseUlimitFlag('nofile=x'), /strconv.ParseInt: parsing "x": invalid syntax/);
  assert.throws(() => parseUlimitFlag('nofile=20:10'), /ulimit soft limit must be less than or equal to hard limit: 20 > 10/);
});

test('resolveDefaultUlimits: last of a name wins; lowered to the host hard limit; -1 means the host maximum', () => {
  const host = readHostHardLimits('Max open files            1024                 20000                files\nMax processes             unlimited            unlimited            processes\n');
  assert.deepEqual([...host], [['nofile', 20000]]);
  const r = resolveDefaultUlimits(['nofile=10:10', 'nofile=64000:64000', 'nproc=100:200', 'core=-1'], host);
  assert.deepEqual(r.ulimits, [
    { Name: 'nofile', Soft: 20000, Hard: 20000 },
    { Name: 'nproc', Soft: 100, Hard: 200 },
  ]);
  assert.deepEqual(r.clamped, ['nofile=64000:64000 -> 20000:20000', 'core=-1:-1 -> inherited from berthd']);
  assert.deepEqual(resolveDefaultUlimits(['nofile=-1'], host).ulimits, [{ Name: 'nofile', Soft: 20000, Hard: 20000 }]);
});

test('daemon.json default-ulimits, shutdown-timeout and storage-opts reach the options; a flag and the file together conflict', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-cfg-'));
  try {
    const file = join(dir, 'daemon.json');
    writeFileSync(file, JSON.stringify({
      'default-ulimits': { nofile: { Name: 'nofile', Hard: 64000, Soft: 32000 } },
      'shutdown-timeout': 30,
      'storage-opts': ['overlay2.override_kernel_check=true'],
    }));
    const o = loadDaemonOptions(['--config-file', file]);
    assert.deepEqual(o.defaultUlimits, ['nofile=32000:64000']);
    assert.equal(o.shutdownTimeout, 30);
    assert.deepEqual(o.storageOpts, ['overlay2.override_kernel_check=true']);
    assert.throws(() => loadDaemonOptions(['--config-file', file, '--shutdown-timeout', '5']), /shutdown-timeout: \(from flag: 5, from file: 30\)/);
    assert.equal(loadDaemonOptions(['--config-file', file, '--debug']).shutdownTimeout, 30);
    assert.equal(parseDaemonArgs(['--shutdown-timeout', '-1']).shutdownTimeout, -1);
    assert.throws(() => parseDaemonArgs(['--shutdown-timeout', 'x']), /invalid argument "x" for "--shutdown-timeout" flag/);
    writeFileSync(file, JSON.stringify({ 'default-ulimits': { nofile: { Name: 'nofile', Hard: 1, Soft: 2 } } }));
    assert.throws(() => loadDaemonOptions(['--config-file', file]), /ulimit soft limit must be less than or equal to hard limit: 2 > 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('defaultUlimitsAsFlags: the key names the limit when Name is missing', () => {
  assert.deepEqual(defaultUlimitsAsFlags({ nproc: { Soft: 5, Hard: 6 } }), ['nproc=5:6']);
});

test('shutdownTimeoutFor: shutdown-timeout raised to the longest stop timeout + 5; -1 anywhere waits for ever', () => {
  assert.equal(shutdownTimeoutFor(15, []), 15);
  assert.equal(shutdownTimeoutFor(1, [undefined]), 15);
  assert.equal(shutdownTimeoutFor(1, [2, 30]), 35);
  assert.equal(shutdownTimeoutFor(60, [2]), 60);
  assert.equal(shutdownTimeoutFor(15, [-1]), -1);
  assert.equal(shutdownTimeoutFor(-1, [2]), -1);
});

test('SIGHUP reload: shutdown-timeout is re-read; default-ulimits are not (as with dockerd)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-cfg-'));
  try {
    const file = join(dir, 'daemon.json');
    writeFileSync(file, JSON.stringify({ 'shutdown-timeout': 30, 'default-ulimits': { nofile: { Name: 'nofile', Soft: 10, Hard: 10 } } }));
    const live = loadDaemonOptions(['--config-file', file]);
    writeFileSync(file, JSON.stringify({ 'shutdown-timeout': 3, 'default-ulimits': { nofile: { Name: 'nofile', Soft: 20, Hard: 20 } } }));
    const { reloaded } = reloadDaemonOptions(live, ['--config-file', file]);
    assert.equal(live.shutdownTimeout, 3);
    assert.equal(reloaded['shutdown-timeout'], 3);
    assert.deepEqual(live.defaultUlimits, ['nofile=10:10']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
