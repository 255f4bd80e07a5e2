import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  contains6, formatCidr6, formatIpv6, lastOf6, overlaps6, parseCidr6, parseIpv6, randomUla64,
} from '../../../src/network/index.js';

test('IPv6 parsing and canonical formatting (RFC 5952)', () => {
  assert.equal(parseIpv6('::'), 0n);
  assert.equal(parseIpv6('::1'), 1n);
  assert.equal(parseIpv6('fd00::'), 0xfd00n << 112n);
  assert.equal(formatIpv6(parseIpv6('FD42:0:0:0:0:0:0:2')!), 'fd42::2');
  assert.equal(formatIpv6(parseIpv6('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1', 'the first of two equal zero runs');
  assert.equal(formatIpv6(parseIpv6('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1', 'a single zero group stays');
  assert.equal(formatIpv6(parseIpv6('fd42:99:5::77')!), 'fd42:99:5::77');
  assert.equal(formatIpv6(0n), '::');
  for (const bad of ['fd00::1::2', '1.2.3.4', 'fe80::1%eth0', '::ffff:1.2.3.4', 'g::1', '']) assert.equal(parseIpv6(bad), undefined, bad);
});

test('IPv6 subnets: host bits, containment, overlap, last address', () => {
  const s = parseCidr6('fd42:1:2::/64');
  assert.equal(formatCidr6(s), 'fd42:1:2::/64');
  assert.throws(() => parseCidr6('fd42::1/64', { strict: true }), /it should be fd42::\/64/);
  assert.throws(() => parseCidr6('fd42::/129'), /invalid CIDR/);
  assert.ok(contains6(s, parseIpv6('fd42:1:2::ffff')!));
  assert.ok(!contains6(s, parseIpv6('fd42:1:3::1')!));
  assert.ok(overlaps6(s, parseCidr6('fd42:1:2:0:1::/80')));
  assert.ok(!overlaps6(s, parseCidr6('fd42:1:3::/64')));
  assert.equal(formatIpv6(lastOf6(parseCidr6('fd42::/120'))), 'fd42::ff');
  const u = randomUla64();
  assert.equal(u.prefix, 64);
  assert.equal(u.base >> 120n, 0xfdn);
  assert.equal(u.base & ((1n << 80n) - 1n), 0n, 'subnet id and host bits zero');
});
