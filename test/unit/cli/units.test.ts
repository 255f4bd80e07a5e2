import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, formatGoG, humanDuration, humanSize, humanSizeWithPrecision, timeAgo } from '../../../src/cli/units.js';

test('humanSizeWithPrecision matches go-units', () => {
  const cases: Array<[number, number, string]> = [
    [0, 3, '0B'], [1, 3, '1B'], [999, 3, '999B'], [1000, 3, '1kB'], [1982464, 3, '1.98MB'],
    [1982464, 4, '1.982MB'], [1234567, 4, '1.235MB'], [5.3e9, 3, '5.3GB'], [999500, 3, '1e+03kB'],
  ];
  for (const [n, p, want] of cases) assert.equal(humanSizeWithPrecision(n, p), want, `${n}/${p}`);
  assert.equal(humanSize(1024), '1.024kB');
});

test('bytesSize uses binary units', () => {
  assert.equal(bytesSize(25275846656), '23.54GiB');
  assert.equal(bytesSize(1024), '1KiB');
  assert.equal(bytesSize(512), '512B');
});

test('formatGoG', () => {
  assert.equal(formatGoG(1.5, 3), '1.5');
  assert.equal(formatGoG(100, 3), '100');
  assert.equal(formatGoG(0.00001234, 3), '1.23e-05');
});

test('humanDuration', () => {
  const s = 1000;
  const cases: Array<[number, string]> = [
    [500, 'Less than a second'], [s, '1 second'], [45 * s, '45 seconds'], [60 * s, 'About a minute'],
    [119 * s, 'About a minute'], [120 * s, '2 minutes'], [3600 * s, 'About an hour'], [5 * 3600 * s, '5 hours'],
    [3 * 86400 * s, '3 days'], [20 * 86400 * s, '2 weeks'], [90 * 86400 * s, '3 months'], [800 * 86400 * s, '2 years'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, String(ms));
});

test('timeAgo', () => {
  assert.equal(timeAgo(1000, 1000 * 1000 + 120_000), '2 minutes ago');
  assert.equal(timeAgo(1000, 1000 * 1000), 'Less than a second ago');
});
