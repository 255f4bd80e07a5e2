import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLogSize, resolveLogConfig, rotationPolicy, parseSyslogAddress, canReadLogs } from '../../../src/logs/log-config.js';
import { renderLogTag } from '../../../src/logs/log-manager.js';

test('sizes use binary multiples like Docker', () => {
  assert.equal(parseLogSize('10m'), 10 * 1024 * 1024);
  assert.equal(parseLogSize('1k'), 1024);
  assert.equal(parseLogSize('100'), 100);
  assert.equal(parseLogSize('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseLogSize('ten'), undefined);
});

test('the daemon default applies when the container names no driver; its options only to the same driver', () => {
  const def = { Type: 'local', Config: { 'max-size': '5m' } };
  assert.deepEqual(resolveLogConfig(undefined, def), { Type: 'local', Config: { 'max-size': '5m' } });
  assert.deepEqual(resolveLogConfig({ Type: '', Config: { 'max-file': '2' } }, def), { Type: 'local', Config: { 'max-size': '5m', 'max-file': '2' } });
  assert.deepEqual(resolveLogConfig({ Type: 'json-file' }, def), { Type: 'json-file', Config: {} });
});

test('validation messages', () => {
  const jf = { Type: 'json-file', Config: {} };
  assert.throws(() => resolveLogConfig({ Type: 'x' }, jf), { message: "logger: no log driver named 'x' is registered" });
  assert.throws(() => resolveLogConfig({ Type: 'local', Config: { tag: 'x' } }, jf), { message: "unknown log opt 'tag' for local log driver" });
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { 'max-file': '3' } }, jf), { message: "max-file can't be set without max-size" });
  assert.throws(() => resolveLogConfig({ Type: 'json-file', Config: { 'max-size': 'big' } }, jf), /invalid size: 'big'/);
  assert.throws(() => resolveLogConfig({ Type: 'journald' }, jf, { journaldSocket: '/nonexistent' }), { message: 'journald is not enabled on this host' });
});

test('rotation policies: json-file unbounded by default, local and caches at Docker\'s defaults', () => {
  assert.deepEqual(rotationPolicy({ Type: 'json-file', Config: {} }), { maxSize: 0, maxFile: 1, compress: false });
  assert.deepEqual(rotationPolicy({ Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '3', compress: 'true' } }), { maxSize: 1024, maxFile: 3, compress: true });
  assert.deepEqual(rotationPolicy({ Type: 'local', Config: {} }), { maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true });
  assert.equal(canReadLogs({ Type: 'none', Config: {} }), false);
  assert.equal(canReadLogs({ Type: 'syslog', Config: {} }), true);
  assert.equal(canReadLogs({ Type: 'syslog', Config: { 'cache-disabled': 'true' } }), false);
});

test('syslog addresses and tags', () => {
  assert.deepEqual(parseSyslogAddress('udp://10.0.0.1'), { proto: 'udp', address: '10.0.0.1:514' });
  assert.deepEqual(parseSyslogAddress('tcp://h:601'), { proto: 'tcp', address: 'h:601' });
  assert.deepEqual(parseSyslogAddress('unix:///dev/log'), { proto: 'unix', address: '/dev/log' });
  assert.deepEqual(parseSyslogAddress(''), { proto: 'unixgram', address: '/dev/log' });
  const t = { id: 'a'.repeat(64), name: '/web', imageName: 'busybox', imageId: `sha256:${'b'.repeat(64)}` };
  assert.equal(renderLogTag(undefined, t), 'a'.repeat(12));
  assert.equal(renderLogTag('{{.Name}}/{{.ImageName}}/{{.ImageID}}', t), `web/busybox/${'b'.repeat(12)}`);
});
