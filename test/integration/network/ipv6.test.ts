import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

// IPv6 networks. The daemon runs in a network namespace of the test's own: IPv6 forwarding,
// which netavark turns on for IPv6 networks, and the ip6tables rules stay out of the host's.

const NS = `berth-v6-${randomBytes(4).toString('hex')}`;
const HEX = randomBytes(2).toString('hex');
const SUBNET6 = `fd42:${HEX}:6::/64`;
const PREFIX6 = `fd42:${HEX}:6::`;
let d: TestDaemon;

function ok(args: string[]): string {
  const r = d.berth(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

interface Ep { IPAMConfig: Record<string, string> | null; IPAddress: string; GlobalIPv6Address: string; GlobalIPv6PrefixLen: number; IPv6Gateway: string }
function endpoint(c: string, net: string): Ep {
  return (JSON.parse(ok(['inspect', c])) as Array<{ NetworkSettings: { Networks: Record<string, Ep> } }>)[0]!.NetworkSettings.Networks[net]!;
}

before(async () => {
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  d = await startTestDaemon([], { netns: NS });
  await importBusybox(d);
});

after(async () => {
  try {
    await d?.destroy();
  } finally {
    execFileSync('ip', ['netns', 'delete', NS]);
  }
});

test('network create --ipv6 with a v4 and a v6 subnet: inspect shows both pools and EnableIPv6', () => {
  ok(['network', 'create', '--ipv6', '--subnet', '10.66.6.0/24', '--subnet', SUBNET6, 'v6a']);
  const n = (JSON.parse(ok(['network', 'inspect', 'v6a'])) as Array<{ EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> } }>)[0]!;
  assert.equal(n.EnableIPv6, true);
  assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.66.6.0/24', Gateway: '10.66.6.1' }, { Subnet: SUBNET6, Gateway: `${PREFIX6}1` }]);
  assert.equal(ok(['network', 'ls', '--filter', 'name=v6a', '--format', '{{.IPv6}}']), 'true');
  // Docker's checks on the v6 pool.
  const overlap = d.berth(['network', 'create', '--ipv6', '--subnet', `${PREFIX6}1:0:0/96`, 'v6-overlap']);
  assert.notEqual(overlap.code, 0);
  assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
  const hostBits = d.berth(['network', 'create', '--ipv6', '--subnet', 'fd43::1/64', 'v6-bits']);
  assert.match(hostBits.stderr, /invalid subnet fd43::1\/64: it should be fd43::\/64/);
  const gw = d.berth(['network', 'create', '--ipv6', '--subnet', 'fd44::/64', '--gateway', 'fd45::1', 'v6-gw']);
  assert.match(gw.stderr, /Invalid gateway address fd45::1: it is not in subnet fd44::\/64/);
  assert.equal(d.berth(['network', 'inspect', 'v6-gw']).code, 1, 'nothing created');
});

test('containers get v6 addresses from the pool; ping6, wget and AAAA names work between them on the bridge', () => {
  const srv = ok(['run', '-d', '--name', 'srv6', '--network', 'v6a', 'busybox', 'sh', '-c', 'echo over-v6 > /i.html; httpd -f -p 80 -h /']);
  const ep = endpoint(srv, 'v6a');
  assert.equal(ep.GlobalIPv6Address, `${PREFIX6}2`);
  assert.equal(ep.GlobalIPv6PrefixLen, 64);
  assert.equal(ep.IPv6Gateway, `${PREFIX6}1`);
  assert.match(ep.IPAddress, /^10\.66\.6\.\d+$/);
  assert.equal(ep.IPAMConfig, null);
  const n = (JSON.parse(ok(['network', 'inspect', 'v6a'])) as Array<{ Containers: Record<string, { IPv6Address: string; IPv4Address: string }> }>)[0]!;
  assert.equal(n.Containers[srv]!.IPv6Address, `${PREFIX6}2/64`);
  const out = ok(['run', '--rm', '--network', 'v6a', 'busybox', 'sh', '-c',
    `ip -6 addr show dev eth0 scope global; ping6 -c 1 -W 3 ${PREFIX6}2 >/dev/null && echo PING-OK; ` +
    `for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- 'http://[${PREFIX6}2]/i.html' && break; sleep 0.2; done; nslookup -type=AAAA srv6; ping6 -c 1 -W 3 srv6 >/dev/null && echo NAME-OK`]);
  assert.match(out, new RegExp(`inet6 ${PREFIX6}3/64 scope global`), out);
  assert.match(out, /^PING-OK$/m);
  assert.match(out, /^over-v6$/m);
  assert.match(out, new RegExp(`Address: ${PREFIX6}2`), 'aardvark-dns answers AAAA');
  assert.match(out, /^NAME-OK$/m);
  // The container's own v6 address is in its /etc/hosts, as with Docker.
  assert.match(ok(['exec', srv, 'cat', '/etc/hosts']), new RegExp(`^${PREFIX6}2\\s+${srv.slice(0, 12)}$`, 'm'));
});

test('--ip6 on run and network connect; a taken or foreign address is refused; addresses return to the pool', () => {
  const fixed = ok(['run', '-d', '--name', 'fixed6', '--network', 'v6a', '--ip6', `${PREFIX6}99`, 'busybox', 'sleep', '60']);
  const ep = endpoint(fixed, 'v6a');
  assert.deepEqual(ep.IPAMConfig, { IPv6Address: `${PREFIX6}99` });
  assert.equal(ep.GlobalIPv6Address, `${PREFIX6}99`);
  const dup = d.berth(['run', '--rm', '--network', 'v6a', '--ip6', `${PREFIX6}99`, 'busybox', 'true']);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /Address already in use/);
  const foreign = d.berth(['run', '--rm', '--network', 'v6a', '--ip6', 'fd99::5', 'busybox', 'true']);
  assert.notEqual(foreign.code, 0);
  assert.match(foreign.stderr, /no configured subnet or ip-range contain the IP address fd99::5/);
  ok(['network', 'create', '--ipv6', 'v6b']);
  const b = (JSON.parse(ok(['network', 'inspect', 'v6b'])) as Array<{ IPAM: { Config: Array<{ Subnet: string }> } }>)[0]!.IPAM.Config;
  assert.equal(b.length, 2, 'a v4 pool and a v6 pool chosen by the daemon');
  assert.match(b[1]!.Subnet, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/, 'a unique local /64');
  const base = b[1]!.Subnet.replace('/64', '');
  ok(['network', 'connect', '--ip6', `${base}42`, 'v6b', 'fixed6']);
  assert.match(ok(['exec', fixed, 'ip', '-6', 'addr', 'show', 'scope', 'global']), new RegExp(`inet6 ${base}42/64`));
  assert.equal(endpoint(fixed, 'v6b').GlobalIPv6Address, `${base}42`);
  ok(['network', 'disconnect', 'v6b', 'fixed6']);
  ok(['rm', '-f', 'fixed6', 'srv6']);
  // Freed addresses are leased again from the start of the pool.
  const again = ok(['run', '-d', '--network', 'v6a', 'busybox', 'sleep', '60']);
  assert.equal(endpoint(again, 'v6a').GlobalIPv6Address, `${PREFIX6}2`);
  ok(['rm', '-f', again]);
  ok(['network', 'rm', 'v6b']);
});

test('the docker CLI: network create --ipv6, run --ip6, inspect templates read the v6 fields', () => {
  const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') };
  const docker = (args: string[]): string => {
    const r = spawnSync('/usr/local/bin/docker', args, { encoding: 'utf8', env });
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  docker(['network', 'create', '--ipv6', '--subnet', `fd48:${HEX}::/64`, 'dk6']);
  assert.equal(docker(['network', 'inspect', '-f', '{{.EnableIPv6}} {{(index .IPAM.Config 1).Subnet}}', 'dk6']), `true fd48:${HEX}::/64`);
  const id = docker(['run', '-d', '--network', 'dk6', '--ip6', `fd48:${HEX}::a`, 'busybox', 'sleep', '60']);
  assert.equal(docker(['inspect', '-f', '{{.NetworkSettings.Networks.dk6.GlobalIPv6Address}}/{{.NetworkSettings.Networks.dk6.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.dk6.IPv6Gateway}} {{.NetworkSettings.Networks.dk6.IPAMConfig.IPv6Address}}', id]),
    `fd48:${HEX}::a/64 fd48:${HEX}::1 fd48:${HEX}::a`);
  docker(['rm', '-f', id]);
  docker(['network', 'rm', 'dk6']);
});

test('an IPv6 subnet without --ipv6 is kept in the network\'s IPAM but gives no addresses (as Docker); --ip6 on a v4-only network is refused', () => {
  ok(['network', 'create', '--subnet', 'fd46::/64', 'v6-off']);
  const n = (JSON.parse(ok(['network', 'inspect', 'v6-off'])) as Array<{ EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string }> } }>)[0]!;
  assert.equal(n.EnableIPv6, false);
  assert.ok(n.IPAM.Config.some((c) => c.Subnet === 'fd46::/64'));
  assert.equal(ok(['run', '--rm', '--network', 'v6-off', 'busybox', 'ip', '-6', 'addr', 'show', 'scope', 'global']), '');
  const r = d.berth(['run', '--rm', '--network', 'v6-off', '--ip6', 'fd46::9', 'busybox', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /does not have IPv6 enabled/);
  ok(['network', 'rm', 'v6-off', 'v6a']);
});

test('berthd --ipv6 --fixed-cidr-v6: the default bridge gives containers v6 addresses, shown in inspect\'s top-level fields as Docker does', async () => {
  const ns = `berth-v6b-${randomBytes(4).toString('hex')}`;
  const sub = `fd4b:${HEX}::`;
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  let d2: TestDaemon | undefined;
  try {
    d2 = await startTestDaemon(['--ipv6', '--fixed-cidr-v6', `${sub}/64`], { netns: ns });
    await importBusybox(d2);
    const run = (args: string[]): string => {
      const r = d2!.berth(args);
      assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const n = (JSON.parse(run(['network', 'inspect', 'bridge'])) as Array<{ EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> } }>)[0]!;
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual(n.IPAM.Config[1], { Subnet: `${sub}/64`, Gateway: `${sub}1` });
    const id = run(['run', '-d', 'busybox', 'sleep', '60']);
    assert.equal(run(['inspect', '-f', '{{.NetworkSettings.GlobalIPv6Address}}/{{.NetworkSettings.GlobalIPv6PrefixLen}} {{.NetworkSettings.IPv6Gateway}} {{.NetworkSettings.Networks.bridge.GlobalIPv6Address}}', id]),
      `${sub}2/64 ${sub}1 ${sub}2`);
    const out = run(['run', '--rm', 'busybox', 'sh', '-c', `ip -6 addr show dev eth0 scope global; ip -6 route; ping6 -c 1 -W 3 ${sub}2 >/dev/null && echo PEER-OK`]);
    assert.match(out, new RegExp(`inet6 ${sub}3/64`));
    assert.match(out, new RegExp(`default via ${sub}1`));
    assert.match(out, /^PEER-OK$/m);
    run(['rm', '-f', id]);
  } finally {
    await d2?.destroy();
    execFileSync('ip', ['netns', 'delete', ns]);
  }
});
