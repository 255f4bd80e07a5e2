import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTcpHost, parseDaemonArgs } from '../../../src/daemon/daemon-options.js';
import { activationFds } from '../../../src/daemon/daemon-listeners.js';
import { parseUntil } from '../../../src/container/container-prune.js';

test('tcp hosts: default ports 2375/2376, IPv6 brackets, bad schemes refused', () => {
  assert.deepEqual(parseTcpHost('tcp://127.0.0.1', false), { host: '127.0.0.1', port: 2375 });
  assert.deepEqual(parseTcpHost('tcp://127.0.0.1', true), { host: '127.0.0.1', port: 2376 });
  assert.deepEqual(parseTcpHost('tcp://[::1]:4243', true), { host: '::1', port: 4243 });
  assert.deepEqual(parseTcpHost('tcp://:2380', false), { host: '127.0.0.1', port: 2380 });
  assert.throws(() => parseDaemonArgs(['-H', 'ssh://host']), /Invalid bind address format: ssh:\/\/host/);
  assert.throws(() => parseDaemonArgs(['-H', 'fd://x']), /invalid bind address \(fd:\/\/x\)/);
  const o = parseDaemonArgs(['-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscacert', '/c/ca.pem', '--tls=false']);
  assert.equal(o.tlsVerify, true);
  assert.equal(o.tls, false);
  assert.equal(o.tlsCaCert, '/c/ca.pem');
});

test('socket activation: LISTEN_PID must be ours; fd:// takes all, fd://N one', () => {
  assert.deepEqual(activationFds('fd://', { LISTEN_PID: '42', LISTEN_FDS: '2' }, 42), [3, 4]);
  assert.deepEqual(activationFds('fd://4', { LISTEN_PID: '42', LISTEN_FDS: '2' }, 42), [4]);
  assert.throws(() => activationFds('fd://', { LISTEN_PID: '41', LISTEN_FDS: '2' }, 42), /no sockets found via socket activation/);
  assert.throws(() => activationFds('fd://9', { LISTEN_PID: '42', LISTEN_FDS: '1' }, 42), /fd 9/);
});

test('prune until: Go durations, Unix seconds, RFC3339', () => {
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);
  assert.equal(parseUntil('1h30m', now), now - 90 * 60_000);
  assert.equal(parseUntil('1700000000', now), 1_700_000_000_000);
  assert.equal(parseUntil('2026-11-24T11:00:00Z', now), Date.UTC(2026, 10, 24, 11, 0, 0));
  assert.throws(() => parseUntil('yesterday', now), /failed to parse value as time or duration: "yesterday"/);
});
