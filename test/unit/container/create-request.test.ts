import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeConfig, mergeEnv, parseBind, validateName, DEFAULT_PATH } from '../../../src/container/create-request.js';
import { canStart, canTransition, isActive, type ContainerStatus } from '../../../src/container/container-status.js';
import { parseSignal } from '../../../src/container/signals.js';

test('Entrypoint and Cmd combine as Docker\'s', () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
  const table: Array<[Record<string, unknown>, string, string[]]> = [
    [{}, '/entry', ['default']],
    [{ Cmd: ['x', 'y'] }, '/entry', ['x', 'y']],
    [{ Entrypoint: ['/other'] }, '/other', []],
    [{ Entrypoint: ['/other'], Cmd: ['a'] }, '/other', ['a']],
    [{ Entrypoint: [], Cmd: ['sh'] }, 'sh', []],
    [{ Entrypoint: 'single', Cmd: 'one' }, 'single', ['one']],
  ];
  for (const [req, path, args] of table) {
    const r = composeConfig({ Image: 'i', ...req }, image, 'i');
    assert.equal(r.path, path, JSON.stringify(req));
    assert.deepEqual(r.args, args, JSON.stringify(req));
  }
  assert.throws(() => composeConfig({ Image: 'i' }, {}, 'i'), /No command specified/);
});

test('environment: PATH default, image first, request overrides', () => {
  const r = composeConfig({ Image: 'i', Cmd: ['x'], Env: ['A=2', 'C=3'] }, { Env: ['A=1', 'B=1'] }, 'i');
  assert.deepEqual(r.config.Env, [`PATH=${DEFAULT_PATH}`, 'A=2', 'B=1', 'C=3']);
  assert.deepEqual(mergeEnv(['PATH=/x'], ['PATH=/y']), ['PATH=/y']);
  assert.throws(() => composeConfig({ Image: 'i', Cmd: ['x'], Env: ['=bad'] }, {}, 'i'), /invalid environment variable/);
});

test('host config defaults and validation', () => {
  const r = composeConfig({ Image: 'i', Cmd: ['x'] }, {}, 'i');
  assert.equal(r.hostConfig.NetworkMode, 'default');
  assert.equal(r.hostConfig.LogConfig.Type, 'json-file');
  assert.equal(r.hostConfig.ShmSize, 64 * 1024 * 1024);
  assert.deepEqual(r.hostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  // User network names pass through; the network service checks that they exist.
  assert.equal(composeConfig({ Image: 'i', Cmd: ['x'], HostConfig: { NetworkMode: 'mynet' } }, {}, 'i').hostConfig.NetworkMode, 'mynet');
  assert.throws(() => composeConfig({ Image: 'i', Cmd: ['x'], HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } } }, {}, 'i'), /AutoRemove/);
  assert.throws(() => composeConfig({ Image: 'i', Cmd: ['x'], WorkingDir: 'rel' }, {}, 'i'), /absolute path/);
  assert.throws(() => composeConfig({ Image: 'i', Cmd: ['x'], Tty: 'yes' as unknown as boolean }, {}, 'i'), /cannot unmarshal string/);
  assert.throws(() => composeConfig({ Image: 'i', Cmd: ['x'], Hostname: 'bad_host!' }, {}, 'i'), /invalid hostname/);
});

test('bind specifications', () => {
  assert.deepEqual(parseBind('/a:/b'), { source: '/a', destination: '/b', readonly: false });
  assert.deepEqual(parseBind('/a:/b:ro'), { source: '/a', destination: '/b', readonly: true });
  assert.deepEqual(parseBind('/a:/b:rw,z'), { source: '/a', destination: '/b', readonly: false });
  assert.throws(() => parseBind('/a'), /invalid volume specification/);
  assert.throws(() => parseBind('/a:rel'), /must be absolute/);
  assert.throws(() => parseBind('/a:/b:bogus'), /invalid mode/);
});

test('container names', () => {
  assert.equal(validateName('/web'), 'web');
  assert.equal(validateName('a.b_c-1'), 'a.b_c-1');
  for (const bad of ['', 'a', '-x', 'has space', 'slash/inside']) assert.throws(() => validateName(bad), /Invalid container name/, bad);
});

test('status transitions and guards', () => {
  const all: ContainerStatus[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
  assert.deepEqual(all.filter(canStart), ['created', 'exited']);
  assert.deepEqual(all.filter(isActive), ['running', 'paused', 'restarting']);
  assert.ok(canTransition('created', 'running'));
  assert.ok(canTransition('running', 'exited'));
  assert.ok(!canTransition('exited', 'paused'));
  assert.ok(!canTransition('dead', 'running'));
});

test('signals by name, with or without SIG, and by number', () => {
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('hup'), 1);
  assert.equal(parseSignal('10'), 10);
  assert.equal(parseSignal('RTMIN+2'), 36);
  assert.throws(() => parseSignal('NOPE'), /Invalid signal: NOPE/);
  assert.throws(() => parseSignal('0'), /Invalid signal/);
});
