import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDuration } from '../../../src/cli/health-flags.js';
import { parseRamBytes, parseUlimit, parseNanoCpus } from '../../../src/cli/resource-flags.js';

test('Go durations, memory sizes, cpus and ulimits parse as docker parses them', () => {
  assert.equal(parseGoDuration('1m30s', 'health-interval'), 90e9);
  assert.equal(parseGoDuration('250ms', 'health-interval'), 250e6);
  assert.equal(parseGoDuration('0', 'health-interval'), 0);
  assert.throws(() => parseGoDuration('10', 'health-interval'), /invalid duration "10"/);
  assert.equal(parseRamBytes('512m', '--memory'), 512 * 1024 * 1024);
  assert.equal(parseRamBytes('1g', '--memory'), 1024 ** 3);
  assert.equal(parseRamBytes('64MB', '--memory'), 64 * 1024 * 1024);
  assert.equal(parseRamBytes('1000', '--memory'), 1000);
  assert.throws(() => parseRamBytes('lots', '--memory'), /invalid size/);
  assert.equal(parseNanoCpus('0.5'), 500_000_000);
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
  assert.deepEqual(parseUlimit('nproc=50'), { Name: 'nproc', Soft: 50, Hard: 50 });
  assert.throws(() => parseUlimit('nofile=10:5'), /soft limit must be less than or equal to hard limit/);
});
