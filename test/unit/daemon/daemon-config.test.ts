import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDaemonOptions, reloadDaemonOptions, flagsOnCommandLine, CONFIG_DIRECTIVES } from '../../../src/daemon/daemon-config.js';

function withFile(t: { after(fn: () => void): void }, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'daemon.json');
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

test('file directives become options as their flags would', (t) => {
  const p = withFile(t, { 'data-root': '/x/data', 'exec-root': '/x/exec', hosts: ['unix:///x/a.sock', '/x/b.sock'], 'log-level': 'warn', 'live-restore': false, 'default-runtime': 'crun' });
  const o = loadDaemonOptions(['--config-file', p]);
  assert.equal(o.dataRoot, '/x/data');
  assert.equal(o.execRoot, '/x/exec');
  assert.equal(o.pidfile, '/x/exec/berthd.pid');
  assert.deepEqual(o.hosts, ['unix:///x/a.sock', '/x/b.sock']);
  assert.equal(o.logLevel, 'warn');
  assert.equal(o.liveRestore, false);
  assert.equal(o.defaultRuntime, 'crun');
});

test('live-restore defaults to true; the absent default file is no error', () => {
  const o = loadDaemonOptions(['--data-root', '/x']);
  assert.equal(o.liveRestore, true);
  assert.deepEqual(o.config, { 'data-root': '/x' });
});

test('an explicit file that does not exist is an error', () => {
  assert.throws(() => loadDaemonOptions(['--config-file', '/nonexistent/berth.json']),
    { message: 'unable to configure the Docker daemon with file /nonexistent/berth.json: open /nonexistent/berth.json: no such file or directory' });
});

test('unknown directives are refused with dockerd\'s message, all of them named', (t) => {
  const p = withFile(t, { 'log-level': 'info', 'tls-verify': true, foo: 1 });
  assert.throws(() => loadDaemonOptions(['--config-file', p]), (err: Error) => {
    assert.equal(err.message, `unable to configure the Docker daemon with file ${p}: the following directives don't match any configuration option: tls-verify, foo`);
    return true;
  });
});

test('a directive given as a flag too is a conflict, whatever the values', (t) => {
  const p = withFile(t, { hosts: ['unix:///x.sock'], debug: false });
  assert.throws(() => loadDaemonOptions(['--config-file', p, '-H', 'unix:///y.sock', '-D']), (err: Error) => {
    assert.equal(err.message, `unable to configure the Docker daemon with file ${p}: the following directives are specified both as a flag and in the configuration file: hosts: (from flag: unix:///y.sock, from file: [unix:///x.sock]), debug: (from flag: true, from file: false)`);
    return true;
  });
});

test('values of the wrong type and bad values are refused before anything starts', (t) => {
  assert.throws(() => loadDaemonOptions(['--config-file', withFile(t, { 'live-restore': 'yes' })]), /cannot unmarshal string into Go struct field Config.live-restore of type bool/);
  assert.throws(() => loadDaemonOptions(['--config-file', withFile(t, { 'log-level': 'loud' })]), /with file .*: unable to parse logging level: loud/);
  assert.throws(() => loadDaemonOptions(['--config-file', withFile(t, '{"debug": tru')]), /unable to configure the Docker daemon with file/);
  assert.throws(() => loadDaemonOptions(['--config-file', withFile(t, { graph: '/a', 'data-root': '/b' })]), /cannot specify both "graph" and "data-root"/);
});

test('directives without a berthd flag yet are kept in the effective configuration', (t) => {
  const p = withFile(t, { bridge: 'br9', bip: '10.9.0.1/24', 'insecure-registries': ['r:5000'], 'log-opts': { 'max-size': '1m' }, 'default-ulimits': { nofile: { Name: 'nofile', Hard: 10, Soft: 10 } } });
  const o = loadDaemonOptions(['--config-file', p]);
  assert.equal(o.config['bridge'], 'br9');
  assert.deepEqual(o.config['insecure-registries'], ['r:5000']);
  assert.deepEqual(o.config['log-opts'], { 'max-size': '1m' });
});

test('every directive is listed once; flags map to one directive', () => {
  const keys = CONFIG_DIRECTIVES.map((d) => d.key);
  assert.equal(new Set(keys).size, keys.length);
  for (const k of ['data-root', 'exec-root', 'hosts', 'log-level', 'log-driver', 'log-opts', 'storage-driver', 'storage-opts', 'insecure-registries', 'registry-mirrors', 'max-concurrent-downloads', 'max-concurrent-uploads', 'bridge', 'bip', 'default-address-pools', 'iptables', 'ip-forward', 'icc', 'dns', 'dns-search', 'default-ulimits', 'default-runtime', 'runtimes', 'live-restore', 'userns-remap', 'default-shm-size', 'tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey']) {
    assert.ok(keys.includes(k), k);
  }
  assert.deepEqual([...flagsOnCommandLine(['-H', 'unix:///a', '--host=unix:///b', '-D', '--config-file', '-x', '--log-level', 'warn'])],
    [['hosts', ['unix:///a', 'unix:///b']], ['debug', ['true']], ['log-level', ['warn']]]);
});

test('reload re-applies only what Docker reloads', (t) => {
  const p = withFile(t, { 'log-level': 'info', 'live-restore': true, labels: ['a=1'] });
  const argv = ['--config-file', p];
  const o = loadDaemonOptions(argv);
  writeFileSync(p, JSON.stringify({ 'log-level': 'debug', 'live-restore': false, labels: ['b=2'], 'storage-driver': 'vfs' }));
  const { reloaded } = reloadDaemonOptions(o, argv);
  assert.equal(o.logLevel, 'debug');
  assert.equal(o.liveRestore, false);
  assert.deepEqual(o.config['labels'], ['b=2']);
  assert.equal(o.storageDriver, undefined, 'the storage driver needs a restart');
  assert.equal(reloaded['live-restore'], false);
  writeFileSync(p, JSON.stringify({ 'log-level': 'warn', nope: 1 }));
  assert.throws(() => reloadDaemonOptions(o, argv), /don't match any configuration option: nope/);
  assert.equal(o.logLevel, 'debug', 'a bad file changes nothing');
});

test('userns-remap comes from the file or the flag, not both', (t) => {
  const file = withFile(t, { 'userns-remap': 'default' });
  assert.equal(loadDaemonOptions(['--config-file', file]).usernsRemap, 'default');
  assert.equal(loadDaemonOptions(['--userns-remap', 'someone:staff']).usernsRemap, 'someone:staff');
  assert.equal(loadDaemonOptions(['--data-root', '/x']).usernsRemap, '');
  assert.throws(() => loadDaemonOptions(['--config-file', file, '--userns-remap=other']),
    /specified both as a flag and in the configuration file: userns-remap: \(from flag: other, from file: default\)/);
  const wrongType = withFile(t, { 'userns-remap': 1000 });
  assert.throws(() => loadDaemonOptions(['--config-file', wrongType]), /cannot unmarshal number into Go struct field Config.userns-remap of type string/);
});
