import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

// One daemon with DNS defaults of its own: containers that set none get them, as with dockerd.
let d: TestDaemon;
before(async () => {
  d = await startTestDaemon(['--dns', '10.77.1.1', '--dns', '10.77.1.2', '--dns-search', 'corp.example', '--dns-opt', 'ndots:3']);
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

function ok(args: string[]): string {
  const r = d.berth(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

test('daemon --dns, --dns-search, --dns-opt reach containers that set none; a container\'s own win, field by field', () => {
  const plain = ok(['run', '--rm', 'busybox', 'cat', '/etc/resolv.conf']);
  assert.match(plain, /^nameserver 10\.77\.1\.1$/m);
  assert.match(plain, /^nameserver 10\.77\.1\.2$/m);
  assert.match(plain, /^search corp\.example$/m);
  assert.match(plain, /^options ndots:3$/m);
  const own = ok(['run', '--rm', '--dns', '10.88.0.9', 'busybox', 'cat', '/etc/resolv.conf']);
  assert.match(own, /^nameserver 10\.88\.0\.9$/m);
  assert.doesNotMatch(own, /10\.77\.1\.1/);
  assert.match(own, /^search corp\.example$/m, 'search domains still the daemon\'s');
  const search = ok(['run', '--rm', '--dns-search', 'mine.example', 'busybox', 'cat', '/etc/resolv.conf']);
  assert.match(search, /^search mine\.example$/m);
  assert.doesNotMatch(search, /corp\.example/);
  assert.match(search, /^nameserver 10\.77\.1\.1$/m);
});

test('after a berthd restart, connect and disconnect still rewrite a running container\'s /etc/hosts and resolv.conf', async () => {
  ok(['network', 'create', 'nf-after']);
  const id = ok(['run', '-d', '--name', 'nf-runner', 'busybox', 'sleep', '120']);
  try {
    await d.stop();
    await d.restart();
    ok(['network', 'connect', 'nf-after', 'nf-runner']);
    const ip = (JSON.parse(ok(['inspect', id])) as Array<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>)[0]!
      .NetworkSettings.Networks['nf-after']!.IPAddress;
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    const hosts = ok(['exec', id, 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`, 'm'), `the new network's address in /etc/hosts:\n${hosts}`);
    const resolv = ok(['exec', id, 'cat', '/etc/resolv.conf']);
    const gw = (JSON.parse(ok(['network', 'inspect', 'nf-after'])) as Array<{ IPAM: { Config: Array<{ Gateway: string }> } }>)[0]!.IPAM.Config[0]!.Gateway;
    assert.match(resolv, new RegExp(`^nameserver ${gw.replace(/\./g, '\\.')}$`, 'm'), `the network's resolver:\n${resolv}`);
    ok(['network', 'disconnect', 'nf-after', 'nf-runner']);
    const after = ok(['exec', id, 'cat', '/etc/hosts']);
    assert.doesNotMatch(after, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`, 'm'), `gone after disconnect:\n${after}`);
  } finally {
    d.berth(['rm', '-f', id]);
    d.berth(['network', 'rm', 'nf-after']);
  }
});

test('inspect NAME finds networks and volumes too; --type network|volume narrows the lookup', () => {
  ok(['network', 'create', 'nf-inspect']);
  ok(['volume', 'create', 'nf-vol']);
  try {
    const net = JSON.parse(ok(['inspect', 'nf-inspect'])) as Array<{ Name: string; Driver: string; IPAM: unknown }>;
    assert.equal(net[0]!.Name, 'nf-inspect');
    assert.equal(net[0]!.Driver, 'bridge');
    assert.equal(ok(['inspect', '--type', 'network', '-f', '{{.Name}} {{.Driver}}', 'nf-inspect']), 'nf-inspect bridge');
    assert.equal(ok(['inspect', '-f', '{{.Name}}', 'nf-vol']), 'nf-vol');
    assert.equal(ok(['inspect', '--type', 'volume', '-f', '{{.Driver}}', 'nf-vol']), 'local');
    const wrong = d.berth(['inspect', '--type', 'volume', 'nf-inspect']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /no such volume/i);
    const wrongNet = d.berth(['inspect', '--type', 'network', 'nf-vol']);
    assert.equal(wrongNet.code, 1);
    assert.match(wrongNet.stderr, /network nf-vol not found/);
    const none = d.berth(['inspect', 'nf-nothing-here']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Error: No such object: nf-nothing-here/);
  } finally {
    d.berth(['network', 'rm', 'nf-inspect']);
    d.berth(['volume', 'rm', 'nf-vol']);
  }
});
