import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  containerHosts, formatIpv4, macForIpv4, overlaps, parseCidr, parseExtraHost, parseIpv4, portRequests, portsSummary, portsWire,
  parseAddressPool,
} from '../../../src/network/index.js';

test('IPv4 parsing, subnets and overlap', () => {
  assert.equal(parseIpv4('10.1.2.3'), 0x0a010203);
  assert.equal(parseIpv4('256.1.1.1'), undefined);
  assert.equal(formatIpv4(0xac110001), '172.17.0.1');
  const s = parseCidr('172.17.0.1/16');
  assert.equal(formatIpv4(s.base), '172.17.0.0');
  assert.equal(s.prefix, 16);
  assert.throws(() => parseCidr('10.0.0.1/24', { strict: true }), /should be 10.0.0.0\/24/);
  assert.throws(() => parseCidr('10.0.0.0/33'), /invalid CIDR/);
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.5.0.0/16')));
  assert.ok(!overlaps(parseCidr('10.5.0.0/16'), parseCidr('10.6.0.0/16')));
  assert.equal(macForIpv4(parseIpv4('172.17.0.2')!), '02:42:ac:11:00:02');
});

test('port bindings: explicit, random, ranges, udp, host IP, publish-all', () => {
  const r = portRequests({
    '80/tcp': [{ HostIp: '', HostPort: '8080' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    '443/tcp': [{ HostIp: '0.0.0.0', HostPort: '9000-9010' }],
    '22/tcp': null,
  }, { '7000/tcp': {}, '80/tcp': {} }, true);
  assert.deepEqual(r, [
    { containerPort: 80, protocol: 'tcp', hostIp: '', hostPortLow: 8080, hostPortHigh: 8080 },
    { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPortLow: 0, hostPortHigh: 0 },
    { containerPort: 443, protocol: 'tcp', hostIp: '', hostPortLow: 9000, hostPortHigh: 9010 },
    { containerPort: 22, protocol: 'tcp', hostIp: '', hostPortLow: 0, hostPortHigh: 0 },
    { containerPort: 7000, protocol: 'tcp', hostIp: '', hostPortLow: 0, hostPortHigh: 0 },
  ]);
  assert.throws(() => portRequests({ '99999/tcp': [] }, undefined, false), /invalid port specification/);
  assert.throws(() => portRequests({ '80/xyz': [] }, undefined, false), /invalid proto/);
  assert.throws(() => portRequests({ '80/tcp': [{ HostPort: 'abc' }] }, undefined, false), /invalid hostPort/);
});

test('ports on the wire: inspect map with nulls, summary list', () => {
  const m = [{ containerPort: 80, protocol: 'tcp' as const, hostIp: '', hostPort: 8080 }];
  assert.deepEqual(portsWire(m, { '80/tcp': {}, '443/tcp': {} }), {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null,
  });
  assert.deepEqual(portsSummary(m, { '80/tcp': {}, '443/tcp': {} }), [
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { PrivatePort: 443, Type: 'tcp' },
  ]);
});

test('extra hosts and host-gateway', () => {
  assert.deepEqual(parseExtraHost('db:10.0.0.5', '172.17.0.1'), { host: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseExtraHost('gw:host-gateway', '172.17.0.1'), { host: 'gw', ip: '172.17.0.1' });
  assert.deepEqual(parseExtraHost('v6=[::1]', ''), { host: 'v6', ip: '::1' });
  assert.throws(() => parseExtraHost('nocolon', ''), /invalid IP address in add-host/);
  assert.throws(() => parseExtraHost('a:not-an-ip', ''), /invalid IP address in add-host/);
});

test('/etc/hosts: own address with domain, extra hosts and links', async () => {
  const h = await containerHosts({
    hostname: 'web', domainname: 'example.com', hostNetwork: false, addresses: ['10.1.0.2'],
    extraHosts: [{ host: 'gw', ip: '10.1.0.1' }], links: [{ ip: '10.1.0.3', names: ['db', 'abc', 'dbname'] }],
  });
  assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(h, /^10\.1\.0\.1\tgw$/m);
  assert.match(h, /^10\.1\.0\.3\tdb abc dbname$/m);
  assert.match(h, /^10\.1\.0\.2\tweb\.example\.com web$/m);
});

test('address pools', () => {
  assert.deepEqual(parseAddressPool('base=10.10.0.0/16,size=24'), { base: '10.10.0.0/16', size: 24 });
  assert.throws(() => parseAddressPool('base=10.10.0.0/16'), /invalid default address pool/);
  assert.throws(() => parseAddressPool('base=10.10.0.0/16,size=8'), /invalid default address pool/);
});
