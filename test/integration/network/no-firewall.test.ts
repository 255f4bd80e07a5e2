import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

// berthd --iptables=false, run inside a network namespace of the test's own: its firewall tables
// hold only what the test put there, so "berthd changed nothing" is an exact comparison that other
// daemons on this machine cannot disturb. Its bridges, veths and proxies live there too.

const NS = `berth-nfw-${randomBytes(4).toString('hex')}`;
const DOCKER = '/usr/local/bin/docker';
let d: TestDaemon;
let rulesBefore: string;

function inNs(argv: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('nsenter', [`--net=/run/netns/${NS}`, '--', ...argv], { encoding: 'utf8', input: input ?? '', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every firewall table of the namespace, counters left out. */
function rules(): string {
  const save = (cmd: string): string => inNs([cmd]).stdout.split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/^(:\S+ \S+) \[\d+:\d+\]$/, '$1').replace(/^\[\d+:\d+\] /, ''))
    .join('\n');
  const nft = inNs(['nft', 'list', 'ruleset']).stdout.replace(/counter packets \d+ bytes \d+/g, 'counter');
  return `${save('iptables-save')}\n--\n${save('ip6tables-save')}\n--\n${nft}`;
}

/** An HTTP GET from the namespace's loopback (where berthd's published ports listen). */
function httpGet(port: number, path = '/'): { code: number; body: string } {
  const js = `require('http').get({host:'127.0.0.1',port:${port},path:${JSON.stringify(path)},timeout:3000},(r)=>{let b='';r.on('data',(d)=>b+=d);r.on('end',()=>{process.stdout.write(b);process.exit(r.statusCode===200?0:2)})}).on('error',(e)=>{process.stderr.write(e.code||e.message);process.exit(1)})`;
  const r = inNs([process.execPath, '-e', js]);
  return { code: r.code, body: r.code === 0 ? r.stdout : r.stderr };
}

async function until<T>(fn: () => T, okv: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (okv(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function ok(args: string[]): string {
  const r = d.berth(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The proxy processes of this daemon's containers (their records live under its exec root). */
function proxies(): string[] {
  const dir = join(d.execRoot, 'userland-proxy');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

before(async () => {
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  // Rules berthd must neither touch nor remove.
  inNs(['iptables', '-A', 'INPUT', '-s', '192.0.2.7/32', '-j', 'DROP']);
  inNs(['iptables', '-t', 'nat', '-N', 'SITE-NAT']);
  inNs(['ip6tables', '-A', 'FORWARD', '-s', '2001:db8::/64', '-j', 'DROP']);
  rulesBefore = rules();
  assert.match(rulesBefore, /192\.0\.2\.7/);
  d = await startTestDaemon(['--iptables=false'], { netns: NS });
  await importBusybox(d);
});

after(async () => {
  try {
    await d?.destroy();
  } finally {
    execFileSync('ip', ['netns', 'delete', NS]);
  }
});

test('published ports answer on the host\'s 127.0.0.1 through the userland proxy; stop frees them, start brings them back', async () => {
  const id = ok(['run', '-d', '--name', 'web', '-p', '127.0.0.1:0:80', '-p', '0:80', 'busybox', 'sh', '-c', 'echo served-by-$(hostname) > /index.html; httpd -f -p 80 -h /']);
  const ports = (JSON.parse(ok(['inspect', id])) as Array<{ NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }>> } }>)[0]!
    .NetworkSettings.Ports['80/tcp']!;
  assert.equal(ports.length, 2);
  const local = Number(ports.find((p) => p.HostIp === '127.0.0.1')!.HostPort);
  const any = Number(ports.find((p) => p.HostIp === '0.0.0.0')!.HostPort);
  const got = await until(() => httpGet(local, '/index.html'), (r) => r.code === 0);
  assert.equal(got.body.trim(), `served-by-${id.slice(0, 12)}`);
  assert.equal(httpGet(any, '/index.html').body.trim(), `served-by-${id.slice(0, 12)}`);
  assert.deepEqual(proxies(), [`${id}.json`]);
  ok(['stop', '-t', '1', 'web']);
  assert.deepEqual(proxies(), [], 'the proxy ends with the run');
  assert.equal(httpGet(local).body, 'ECONNREFUSED');
  ok(['start', 'web']);
  const again = await until(() => httpGet(local, '/index.html'), (r) => r.code === 0);
  assert.equal(again.body.trim(), `served-by-${id.slice(0, 12)}`, 'the same host port after a restart');
  ok(['rm', '-f', 'web']);
  assert.deepEqual(proxies(), []);
  assert.equal(httpGet(local).body, 'ECONNREFUSED');
});

test('a taken host port: Docker\'s error, the container stays created, no proxy and no namespace left', async () => {
  const first = ok(['run', '-d', '-p', '127.0.0.1:0:80', 'busybox', 'httpd', '-f', '-p', '80']);
  const port = Number(/:(\d+)$/.exec(ok(['port', first, '80/tcp']))![1]);
  const r = d.berth(['run', '-d', '--name', 'clash', '-p', `127.0.0.1:${port}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`));
  // A process of the host (not berthd's) holding the port.
  const holder: ChildProcess = spawn('nsenter', [`--net=/run/netns/${NS}`, '--', process.execPath, '-e',
    "const s=require('net').createServer().listen(0,'0.0.0.0',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'ignore'] });
  const held = await new Promise<number>((res) => holder.stdout!.once('data', (b: Buffer) => res(Number(b.toString().trim()))));
  try {
    const r2 = d.berth(['run', '-d', '--name', 'held', '-p', `${held}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, new RegExp(`Error starting userland proxy: listen tcp4 0\\.0\\.0\\.0:${held}: bind: address already in use`));
    assert.match(r2.stderr, /Error response from daemon: driver failed programming external connectivity/, 'Docker\'s words, not wrapped');
    const c = (JSON.parse(ok(['inspect', 'held'])) as Array<{ Id: string; State: { Status: string } }>)[0]!;
    assert.equal(c.State.Status, 'created');
    assert.ok(!existsSync(`/run/netns/berth-${c.Id}`), 'no namespace left');
    assert.deepEqual(proxies(), [`${first}.json`], 'only the first container\'s proxy');
  } finally {
    holder.kill();
  }
  ok(['rm', '-f', first, 'clash', 'held']);
  assert.deepEqual(proxies(), []);
});

test('user networks resolve names, --internal has no way out, connect and rm work, all without firewall rules', () => {
  ok(['network', 'create', 'nfw-a']);
  ok(['network', 'create', '--internal', 'nfw-in']);
  ok(['run', '-d', '--name', 'srv', '--network', 'nfw-a', 'busybox', 'sh', '-c', 'echo srv-here > /i.html; httpd -f -p 80 -h /']);
  const fetched = ok(['run', '--rm', '--network', 'nfw-a', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://srv/i.html && exit 0; sleep 0.2; done; exit 1']);
  assert.equal(fetched, 'srv-here');
  const routes = ok(['run', '--rm', '--network', 'nfw-in', 'busybox', 'ip', 'route']);
  assert.doesNotMatch(routes, /default/, `an internal network gives no default route:\n${routes}`);
  ok(['network', 'connect', 'nfw-in', 'srv']);
  const onIn = ok(['run', '--rm', '--network', 'nfw-in', 'busybox', 'nslookup', 'srv']);
  assert.match(onIn, /Address: \d+\.\d+\.\d+\.\d+/);
  ok(['network', 'disconnect', 'nfw-in', 'srv']);
  // An IPv6 network: netavark's ip6tables calls change nothing either.
  ok(['network', 'create', '--ipv6', '--subnet', 'fd47:1:2::/64', 'nfw-v6']);
  ok(['network', 'connect', 'nfw-v6', 'srv']);
  const v6 = ok(['run', '--rm', '--network', 'nfw-v6', 'busybox', 'sh', '-c', 'ping6 -c 1 -W 3 srv >/dev/null && echo V6-OK']);
  assert.equal(v6, 'V6-OK');
  ok(['rm', '-f', 'srv']);
  ok(['network', 'rm', 'nfw-a', 'nfw-in', 'nfw-v6']);
  assert.equal(rules(), rulesBefore);
});

test('the docker CLI: run -p works against berthd --iptables=false', async () => {
  const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') };
  const run = spawnSync(DOCKER, ['run', '-d', '--name', 'dk', '-p', '127.0.0.1::80', 'busybox', 'sh', '-c', 'echo docker-cli > /d.html; httpd -f -p 80 -h /'], { encoding: 'utf8', env });
  assert.equal(run.status, 0, run.stderr);
  const port = spawnSync(DOCKER, ['port', 'dk', '80'], { encoding: 'utf8', env });
  const m = /^127\.0\.0\.1:(\d+)$/m.exec(port.stdout);
  assert.ok(m, port.stdout + port.stderr);
  const got = await until(() => httpGet(Number(m[1]), '/d.html'), (r) => r.code === 0);
  assert.equal(got.body.trim(), 'docker-cli');
  assert.equal(spawnSync(DOCKER, ['rm', '-f', 'dk'], { encoding: 'utf8', env }).status, 0);
});

test('published ports keep answering while berthd is down; a container that ended meanwhile loses its proxy at restart', async () => {
  const id = ok(['run', '-d', '--name', 'lr', '-p', '127.0.0.1:0:80', 'busybox', 'sh', '-c', 'echo live > /l.html; httpd -f -p 80 -h /']);
  const port = Number(/:(\d+)$/.exec(ok(['port', id, '80/tcp']))![1]);
  assert.equal((await until(() => httpGet(port, '/l.html'), (r) => r.code === 0)).body.trim(), 'live');
  const pid = Number(ok(['inspect', '-f', '{{.State.Pid}}', id]));
  await d.crash();
  assert.equal(httpGet(port, '/l.html').body.trim(), 'live', 'served with berthd down');
  process.kill(pid, 'SIGKILL');
  await d.restart();
  const status = await until(() => ok(['inspect', '-f', '{{.State.Status}}', id]), (s) => s === 'exited');
  assert.equal(status, 'exited');
  assert.deepEqual(proxies(), [], 'the proxy of the ended run is gone');
  assert.equal(httpGet(port).body, 'ECONNREFUSED');
  ok(['rm', id]);
});

test('a running container whose proxy died while berthd was down gets it back when berthd starts', async () => {
  const id = ok(['run', '-d', '-p', '127.0.0.1:0:80', 'busybox', 'sh', '-c', 'echo back > /b.html; httpd -f -p 80 -h /']);
  const port = Number(/:(\d+)$/.exec(ok(['port', id, '80/tcp']))![1]);
  assert.equal((await until(() => httpGet(port, '/b.html'), (r) => r.code === 0)).body.trim(), 'back');
  const rec = JSON.parse(readFileSync(join(d.execRoot, 'userland-proxy', `${id}.json`), 'utf8')) as { pid: number };
  await d.stop();
  process.kill(rec.pid, 'SIGKILL');
  assert.equal((await until(() => httpGet(port), (r) => r.body === 'ECONNREFUSED')).body, 'ECONNREFUSED');
  await d.restart();
  assert.equal((await until(() => httpGet(port, '/b.html'), (r) => r.code === 0)).body.trim(), 'back');
  ok(['rm', '-f', id]);
  assert.deepEqual(proxies(), []);
});

test('after all of it, every firewall table is byte for byte what it was', () => {
  assert.equal(rules(), rulesBefore);
});
