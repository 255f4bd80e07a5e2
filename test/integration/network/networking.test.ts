import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { startTestDaemon, importBusybox, networkLeftovers, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

interface Inspect {
  Id: string;
  State: { Status: string; Running: boolean; Pid: number };
  NetworkSettings: {
    IPAddress: string; Gateway: string; MacAddress: string; SandboxKey: string; IPPrefixLen: number;
    Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
    Networks: Record<string, { IPAddress: string; Gateway: string; NetworkID: string; Aliases: string[] | null; MacAddress: string; DNSNames: string[] | null }>;
  };
}

async function inspect(id: string): Promise<Inspect> {
  const r = await d.api('GET', `/containers/${id}/json`);
  assert.equal(r.status, 200, r.body);
  return r.json() as Inspect;
}

function berth(args: string[]): { code: number; stdout: string; stderr: string } {
  return d.berth(args);
}

function ok(args: string[]): string {
  const r = berth(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function httpGet(host: string, port: number, path = '/hostname'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A shell loop that fetches a URL, retrying while a just-started server or resolver comes up. */
function fetchLoop(url: string): string[] {
  return ['sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- ${url} && exit 0; sleep 0.5; done; exit 1`];
}

async function retry<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try { return await fn(); } catch (err) { if (Date.now() > until) throw err; await new Promise((r) => setTimeout(r, 100)); }
  }
}

function bridgeGateway(): string {
  const n = JSON.parse(ok(['network', 'inspect', 'bridge'])) as Array<{ IPAM: { Config: Array<{ Gateway: string; Subnet: string }> }; Options: Record<string, string> }>;
  return n[0]!.IPAM.Config[0]!.Gateway;
}

test('default bridge: address in inspect, published port on 127.0.0.1 and on the gateway, port command', async () => {
  const id = ok(['run', '-d', '--name', 'web', '-p', '127.0.0.1::80', '-p', '0:80', '--expose', '9999', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  const c = await inspect(id);
  const gw = bridgeGateway();
  assert.equal(c.NetworkSettings.Gateway, gw);
  assert.match(c.NetworkSettings.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
  assert.notEqual(c.NetworkSettings.IPAddress, gw);
  assert.equal(c.NetworkSettings.Networks['bridge']!.IPAddress, c.NetworkSettings.IPAddress);
  assert.match(c.NetworkSettings.MacAddress, /^02:42:/);
  assert.equal(c.NetworkSettings.SandboxKey, `/run/netns/berth-${id}`);
  assert.ok(existsSync(c.NetworkSettings.SandboxKey));
  const bindings = c.NetworkSettings.Ports['80/tcp']!;
  assert.equal(bindings.length, 2);
  assert.equal(c.NetworkSettings.Ports['9999/tcp'], null, 'exposed, unpublished port maps to null');
  const local = bindings.find((b) => b.HostIp === '127.0.0.1')!;
  const any = bindings.find((b) => b.HostIp === '0.0.0.0')!;
  assert.ok(Number(local.HostPort) >= 32768 && Number(any.HostPort) >= 32768, 'free ports from the ephemeral range');
  assert.match(await retry(() => httpGet('127.0.0.1', Number(local.HostPort))), new RegExp(id.slice(0, 12)));
  assert.match(await retry(() => httpGet('127.0.0.1', Number(any.HostPort))), new RegExp(id.slice(0, 12)));
  assert.match(await retry(() => httpGet(gw, Number(any.HostPort))), new RegExp(id.slice(0, 12)));
  const port = ok(['port', 'web']).split('\n').sort();
  assert.deepEqual(port, [`80/tcp -> 0.0.0.0:${any.HostPort}`, `80/tcp -> 127.0.0.1:${local.HostPort}`].sort());
  assert.equal(ok(['port', 'web', '80/tcp']).split('\n').length, 2);
  const ps = ok(['ps', '--format', '{{.Ports}}', '--filter', 'name=web']);
  assert.match(ps, new RegExp(`0\\.0\\.0\\.0:${any.HostPort}->80/tcp`));
  ok(['rm', '-f', 'web']);
  assert.ok(!existsSync(c.NetworkSettings.SandboxKey), 'namespace removed with the container');
});

test('a host port in use: Docker\'s error, and no half-started container', async () => {
  const first = ok(['run', '-d', '-p', '127.0.0.1:0:80', 'busybox', 'httpd', '-f', '-p', '80']);
  const hostPort = (await inspect(first)).NetworkSettings.Ports['80/tcp']![0]!.HostPort;
  const r = berth(['run', '-d', '--name', 'clash', '-p', `127.0.0.1:${hostPort}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${hostPort} failed: port is already allocated`));
  const clash = await inspect('clash');
  assert.equal(clash.State.Running, false);
  assert.equal(clash.NetworkSettings.IPAddress, '');
  assert.ok(!existsSync(`/run/netns/berth-${clash.Id}`), 'no namespace left for the failed start');
  // A host process holding a port is refused the same way, before anything is set up.
  const srv: Server = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const held = (srv.address() as { port: number }).port;
  const r2 = berth(['run', '-d', '--name', 'held', '-p', `127.0.0.1:${held}:80`, 'busybox', 'true']);
  srv.close();
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /address already in use/);
  ok(['rm', '-f', first, 'clash', 'held']);
});

test('a network whose setup fails: netavark\'s words, exit 125, nothing left', async () => {
  ok(['network', 'create', '-o', 'com.docker.network.bridge.name=lo', 'broken']);
  const r = berth(['run', '--rm', '--network', 'broken', 'busybox', 'true']);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /netavark setup: .*\blo\b/);
  assert.equal(ok(['ps', '-aq']), '');
  const n = JSON.parse(ok(['network', 'inspect', 'broken'])) as Array<{ Containers: Record<string, unknown> }>;
  assert.deepEqual(n[0]!.Containers, {});
  ok(['network', 'rm', 'broken']);
});

test('-P publishes every exposed port to free ports; restart keeps them', async () => {
  const id = ok(['run', '-d', '-P', '--expose', '80', '--expose', '81/udp', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  const before = (await inspect(id)).NetworkSettings.Ports;
  assert.ok(before['80/tcp']?.[0]?.HostPort && before['81/udp']?.[0]?.HostPort);
  const portOut = ok(['port', id, '80']);
  assert.equal(portOut, `0.0.0.0:${before['80/tcp']![0]!.HostPort}`);
  ok(['restart', '-t', '0', id]);
  const after = (await inspect(id)).NetworkSettings.Ports;
  assert.deepEqual(after, before, 'the same host ports after restart');
  assert.match(await retry(() => httpGet('127.0.0.1', Number(after['80/tcp']![0]!.HostPort))), new RegExp(id.slice(0, 12)));
  ok(['rm', '-f', id]);
});

test('user networks: names and aliases resolve, other networks are unreachable, internal has no way out', async () => {
  ok(['network', 'create', 'front']);
  ok(['network', 'create', 'back']);
  ok(['network', 'create', '--internal', 'sealed']);
  const srv = ok(['run', '-d', '--name', 'srv', '--network', 'front', '--network-alias', 'www', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  const s = await inspect(srv);
  assert.ok(s.NetworkSettings.Networks['front']!.IPAddress);
  assert.ok(s.NetworkSettings.Networks['front']!.Aliases!.includes('www'));
  assert.deepEqual(s.NetworkSettings.Networks['front']!.DNSNames, ['srv', 'www', srv.slice(0, 12)]);
  assert.equal(s.NetworkSettings.IPAddress, '', 'top-level address is for the default bridge only');
  const byName = berth(['run', '--rm', '--network', 'front', 'busybox', ...fetchLoop('http://srv/hostname')]);
  assert.equal(byName.code, 0, byName.stderr);
  assert.equal(byName.stdout.trim(), srv.slice(0, 12));
  const byAlias = berth(['run', '--rm', '--network', 'front', 'busybox', ...fetchLoop('http://www/hostname')]);
  assert.equal(byAlias.stdout.trim(), srv.slice(0, 12), byAlias.stderr);
  const ip = s.NetworkSettings.Networks['front']!.IPAddress;
  const across = berth(['run', '--rm', '--network', 'back', 'busybox', 'sh', '-c', `timeout 3 wget -qO- http://${ip}/hostname; echo rc=$?; nslookup srv 2>&1 | grep -c "${ip}"`]);
  // busybox's wget -T crashes (exit 139) whatever the network does, so the time limit is timeout's.
  assert.match(across.stdout, /^rc=(?!0$|139$)\d+$/m, 'no route across networks');
  assert.doesNotMatch(across.stdout, new RegExp(srv.slice(0, 12)));
  assert.match(across.stdout, /^0$/m, 'a name on another network does not resolve');
  const frontGw = (JSON.parse(ok(['network', 'inspect', 'front'])) as Array<{ IPAM: { Config: Array<{ Gateway: string }> } }>)[0]!.IPAM.Config[0]!.Gateway;
  const sealed = berth(['run', '--rm', '--network', 'sealed', 'busybox', 'sh', '-c', `ip route; ping -c 1 -W 1 ${frontGw} >/dev/null 2>&1; echo ping=$?`]);
  assert.doesNotMatch(sealed.stdout, /default/, 'an internal network has no default route');
  assert.match(sealed.stdout, /ping=1/, 'an internal network cannot reach another bridge');
  // connect a running container to a second network: it answers there by name too.
  ok(['network', 'connect', '--alias', 'api', 'back', 'srv']);
  const viaBack = berth(['run', '--rm', '--network', 'back', 'busybox', ...fetchLoop('http://api/hostname')]);
  assert.equal(viaBack.stdout.trim(), srv.slice(0, 12), viaBack.stderr);
  const netIn = JSON.parse(ok(['network', 'inspect', 'back'])) as Array<{ Containers: Record<string, { Name: string; IPv4Address: string }>; IPAM: { Config: Array<{ Gateway: string }> } }>;
  assert.equal(netIn[0]!.Containers[srv]!.Name, 'srv');
  // The running container's /etc files follow its networks.
  const paths = (await d.api('GET', `/containers/${srv}/json`)).json() as { HostsPath: string; ResolvConfPath: string };
  const backIp = netIn[0]!.Containers[srv]!.IPv4Address.split('/')[0]!;
  const { readFileSync } = await import('node:fs');
  assert.match(readFileSync(paths.HostsPath, 'utf8'), new RegExp(`^${backIp.replace(/\./g, '\\.')}\t`, 'm'));
  assert.match(readFileSync(paths.ResolvConfPath, 'utf8'), new RegExp(`^nameserver ${netIn[0]!.IPAM.Config[0]!.Gateway.replace(/\./g, '\\.')}$`, 'm'));
  const rm = berth(['network', 'rm', 'back']);
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /has active endpoints/);
  ok(['network', 'disconnect', 'back', 'srv']);
  assert.doesNotMatch(readFileSync(paths.HostsPath, 'utf8'), new RegExp(`^${backIp.replace(/\./g, '\\.')}\t`, 'm'));
  ok(['rm', '-f', 'srv']);
  ok(['network', 'rm', 'front', 'back', 'sealed']);
  assert.equal(berth(['network', 'inspect', 'front']).code, 1);
});

test('--ip, --dns, --dns-search, --add-host host-gateway, --hostname/--domainname, --link', async () => {
  ok(['network', 'create', '--subnet', `${subnetBase()}.77.0/24`, 'fixed']);
  const base = subnetBase();
  const id = ok(['run', '-d', '--name', 'pinned', '--network', 'fixed', '--ip', `${base}.77.50`, 'busybox', 'sleep', '60']);
  assert.equal((await inspect(id)).NetworkSettings.Networks['fixed']!.IPAddress, `${base}.77.50`);
  const taken = berth(['run', '--rm', '--network', 'fixed', '--ip', `${base}.77.50`, 'busybox', 'true']);
  assert.notEqual(taken.code, 0);
  assert.match(taken.stderr, /Address already in use/);
  const files = ok(['run', '--rm', '--hostname', 'h1', '--domainname', 'example.org', '--dns', '192.0.2.53', '--dns-search', 'corp.example',
    '--dns-option', 'ndots:2', '--add-host', 'gw:host-gateway', '--add-host', 'db:10.9.9.9', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf /etc/hosts; hostname']);
  assert.match(files, /^nameserver 192\.0\.2\.53$/m);
  assert.match(files, /^search corp\.example$/m);
  assert.match(files, /^options ndots:2$/m);
  assert.match(files, new RegExp(`^${bridgeGateway().replace(/\./g, '\\.')}\\tgw$`, 'm'));
  assert.match(files, /^10\.9\.9\.9\tdb$/m);
  assert.match(files, /\th1\.example\.org h1$/m);
  assert.match(files, /^h1$/m);
  const target = ok(['run', '-d', '--name', 'linked', 'busybox', 'sleep', '60']);
  const tip = (await inspect(target)).NetworkSettings.IPAddress;
  const hosts = ok(['run', '--rm', '--link', 'linked:dbalias', 'busybox', 'cat', '/etc/hosts']);
  assert.match(hosts, new RegExp(`^${tip.replace(/\./g, '\\.')}\\tdbalias ${target.slice(0, 12)} linked$`, 'm'));
  ok(['rm', '-f', 'pinned', 'linked']);
  ok(['network', 'rm', 'fixed']);
});

/** Leftovers that belong to containers (port rules, namespaces), not to a network that is still up. */
function perContainer(l: string): boolean {
  return /--dport|DNAT|id: |^netns|^link/.test(l);
}

function subnetBase(): string {
  const gw = bridgeGateway();
  return gw.split('.').slice(0, 2).join('.');
}

test('none, host and container:<name> modes; container mode survives a berthd restart', async () => {
  const none = ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "']);
  assert.equal(none.trim(), 'lo');
  const host = ok(['run', '--rm', '--network', 'host', 'busybox', 'sh', '-c', 'ls /sys/class/net']);
  assert.match(host, /eth0|lo/);
  const owner = ok(['run', '-d', '--name', 'owner', 'busybox', 'sleep', '60']);
  const ownerIp = (await inspect(owner)).NetworkSettings.IPAddress;
  const shared = ok(['run', '--rm', '--network', 'container:owner', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(shared, new RegExp(ownerIp.replace(/\./g, '\\.')));
  await d.stop();
  await d.restart();
  const again = ok(['run', '--rm', '--network', 'container:owner', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(again, new RegExp(ownerIp.replace(/\./g, '\\.')));
  const stopped = ok(['create', '--name', 'idle', 'busybox', 'true']);
  const r = berth(['run', '--rm', '--network', 'container:idle', 'busybox', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /non running container/);
  ok(['rm', '-f', owner, stopped]);
});

test('crash of berthd with networked containers, restart, rm: nothing left behind', async () => {
  ok(['network', 'create', 'crashnet']);
  const a = ok(['run', '-d', '-p', '0:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  const b = ok(['run', '-d', '--network', 'crashnet', 'busybox', 'sleep', '60']);
  const c = ok(['run', '-d', '--network', 'crashnet', 'busybox', 'sh', '-c', 'sleep 1']);
  const nets = JSON.parse(ok(['network', 'inspect', 'bridge', 'crashnet'])) as Array<{ Id: string; Options: Record<string, string>; IPAM: { Config: Array<{ Subnet: string }> } }>;
  const netIds = nets.map((n) => n.Id);
  const bridges = nets.map((n) => n.Options['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`);
  await d.crash();
  await new Promise((r) => setTimeout(r, 1500));
  await d.restart();
  const cInfo = await inspect(c);
  assert.equal(cInfo.State.Status, 'exited');
  assert.ok(!existsSync(`/run/netns/berth-${c}`), 'a container that ended while berthd was down loses its namespace');
  const aInfo = await inspect(a);
  assert.equal(aInfo.State.Running, true);
  const hp = Number(aInfo.NetworkSettings.Ports['80/tcp']![0]!.HostPort);
  assert.match(await retry(() => httpGet('127.0.0.1', hp)), new RegExp(a.slice(0, 12)), 'a running container keeps its network');
  ok(['rm', '-f', a, b, c]);
  ok(['network', 'rm', 'crashnet']);
  const prefix = nets[0]!.IPAM.Config[0]!.Subnet.split('.').slice(0, 2).join('.') + '.';
  // The default bridge stays up while berthd runs (as docker0 does): only per-container leftovers
  // count there; crashnet, removed, must have left nothing. destroy() checks the rest after stop.
  const bridgeLeft = networkLeftovers([], prefix, [a, b, c], [netIds[0]!]).filter(perContainer);
  const crashLeft = networkLeftovers([bridges[1]!], `${nets[1]!.IPAM.Config[0]!.Subnet.split('.').slice(0, 3).join('.')}.`, [], [netIds[1]!]);
  assert.deepEqual([...bridgeLeft, ...crashLeft], []);
});

test('200 create/start/rm cycles with published ports leave no veth, netns, rule or lease', async () => {
  const n = 200;
  const parallel = 8;
  let next = 0;
  const ids: string[] = [];
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < n && !failed) {
      next++;
      const c = await d.api('POST', '/containers/create', {
        Image: 'busybox', Cmd: ['true'], ExposedPorts: { '80/tcp': {} },
        HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
      });
      assert.equal(c.status, 201, c.body);
      const id = (c.json() as { Id: string }).Id;
      ids.push(id);
      const s = await d.api('POST', `/containers/${id}/start`);
      assert.equal(s.status, 204, s.body);
      const w = await d.api('POST', `/containers/${id}/wait`);
      assert.equal(w.status, 200);
      const r = await d.api('DELETE', `/containers/${id}?force=1`);
      assert.equal(r.status, 204, r.body);
    }
  };
  // Every worker finishes before any failure is reported, so nothing is still starting when the
  // daemon is torn down.
  const results = await Promise.allSettled(Array.from({ length: parallel }, () => worker().catch((err: unknown) => { failed = true; throw err; })));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  assert.equal(ids.length, n);
  const bridge = JSON.parse(ok(['network', 'inspect', 'bridge'])) as Array<{ Id: string; Containers: Record<string, unknown>; Options: Record<string, string>; IPAM: { Config: Array<{ Subnet: string }> } }>;
  assert.deepEqual(bridge[0]!.Containers, {}, 'no lease left on the bridge network');
  const br = bridge[0]!.Options['com.docker.network.bridge.name']!;
  const prefix = bridge[0]!.IPAM.Config[0]!.Subnet.split('.').slice(0, 2).join('.') + '.';
  const left = networkLeftovers([], prefix, ids, [bridge[0]!.Id]).filter(perContainer);
  assert.deepEqual(left, []);
  const { execFileSync } = await import('node:child_process');
  let veths = '';
  try { veths = execFileSync('ip', ['-o', 'link', 'show', 'master', br], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* bridge gone */ }
  assert.equal(veths.split('\n').filter(Boolean).length, 1, `only the bridge's own anchor veth is left: ${veths}`);
});
