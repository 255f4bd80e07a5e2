import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { startTestDaemon, importBusybox, REPO, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitExit(id: string): Promise<void> {
  const r = await d.api('POST', `/containers/${id}/wait`);
  assert.equal(r.status, 200, r.body);
}

function numbers(out: string): number[] {
  return out.split('\n').filter(Boolean).map((l) => Number(l.replace(/^line-/, '')));
}

function consecutive(ns: number[]): boolean {
  return ns.every((n, i) => i === 0 || n === ns[i - 1]! + 1);
}

test('json-file max-size/max-file rotate the log; logs and --tail read across rotated, compressed files', async () => {
  const run = d.berth(['run', '-d', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', '--log-opt', 'compress=true', 'busybox',
    'sh', '-c', 'i=1; while [ $i -le 400 ]; do echo line-$i; i=$((i+1)); [ $((i % 40)) -eq 0 ] && sleep 0.3; done']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await waitExit(id);
  await sleep(500);
  const dir = join(d.dataRoot, 'containers', id);
  const files = readdirSync(dir).filter((f) => f.startsWith('container.log'));
  assert.ok(files.includes('container.log.1.gz'), `rotated and compressed: ${files.join(' ')}`);
  assert.ok(!files.some((f) => /\.log\.[3-9]/.test(f)), `at most max-file files: ${files.join(' ')}`);
  const all = numbers(d.berth(['logs', id]).stdout);
  assert.ok(all.length < 400, 'old lines were rotated away');
  assert.equal(all.at(-1), 400);
  assert.ok(consecutive(all), 'no gap in what is kept');
  const tail = d.berth(['logs', '--tail', '150', id]);
  assert.deepEqual(numbers(tail.stdout), Array.from({ length: Math.min(150, all.length) }, (_, i) => 400 - Math.min(150, all.length) + 1 + i));
  const inspect = (await d.api('GET', `/containers/${id}/json`)).json() as { LogPath: string; HostConfig: { LogConfig: { Type: string; Config: Record<string, string> } } };
  assert.equal(inspect.LogPath, join(dir, 'container.log'));
  assert.deepEqual(inspect.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '2k', 'max-file': '3', compress: 'true' } });
});

test('logs -f follows a rotating log without losing a line', async () => {
  const run = d.berth(['run', '-d', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=2', 'busybox',
    'sh', '-c', 'sleep 0.5; i=1; while [ $i -le 300 ]; do echo line-$i; i=$((i+1)); [ $((i % 30)) -eq 0 ] && sleep 0.25; done']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const follower = spawn(process.execPath, [join(REPO, 'bin/berth'), '-H', d.host, 'logs', '-f', id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  follower.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  await new Promise((r) => follower.once('exit', r));
  const ns = numbers(out);
  assert.equal(ns[0], 1);
  assert.equal(ns.at(-1), 300);
  assert.ok(consecutive(ns), 'every line once, in order');
  assert.ok(existsSync(join(d.dataRoot, 'containers', id, 'container.log.1')), 'the log did rotate');
});

test('logs --details shows the labels, env and tag the json-file options name', async () => {
  const run = d.berth(['run', '-d', '-l', 'app=web', '-l', 'other=x', '-e', 'MODE=prod', '--log-opt', 'labels=app', '--log-opt', 'env=MODE',
    '--log-opt', 'tag={{.Name}}', '--name', 'detailed', 'busybox', 'echo', 'hi']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await waitExit(id);
  assert.equal(d.berth(['logs', '--details', id]).stdout, 'MODE=prod,app=web,tag=detailed hi\n');
  const plain = d.berth(['run', '-d', 'busybox', 'echo', 'ho']).stdout.trim();
  await waitExit(plain);
  assert.equal(d.berth(['logs', '--details', plain]).stdout, ' ho\n');
  const docker = spawnSync('/usr/local/bin/docker', ['-H', d.host, 'logs', '--details', id], { encoding: 'utf8' });
  assert.equal(docker.stdout, 'MODE=prod,app=web,tag=detailed hi\n');
});

test('none: logs refuses as Docker does; LogPath is empty', async () => {
  const run = d.berth(['run', '-d', '--log-driver', 'none', 'busybox', 'echo', 'hi']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await waitExit(id);
  const logs = d.berth(['logs', id]);
  assert.equal(logs.code, 1);
  assert.match(logs.stderr, /Error response from daemon: configured logging driver does not support reading/);
  const inspect = (await d.api('GET', `/containers/${id}/json`)).json() as { LogPath: string; HostConfig: { LogConfig: { Type: string } } };
  assert.equal(inspect.LogPath, '');
  assert.equal(inspect.HostConfig.LogConfig.Type, 'none');
  const docker = spawnSync('/usr/local/bin/docker', ['-H', d.host, 'logs', id], { encoding: 'utf8' });
  assert.equal(docker.status, 1);
  assert.match(docker.stderr, /configured logging driver does not support reading/);
});

test('bad log configurations are refused at create with Docker\'s messages', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--log-opt', 'foo=bar'], /unknown log opt 'foo' for json-file log driver/],
    [['--log-driver', 'fluent'], /logger: no log driver named 'fluent' is registered/],
    [['--log-driver', 'journald'], /journald is not enabled on this host/],
    [['--log-driver', 'syslog', '--log-opt', 'syslog-address=ftp://x'], /unsupported scheme: 'ftp'/],
    [['--log-driver', 'syslog', '--log-opt', 'syslog-facility=nope'], /invalid syslog facility/],
    [['--log-opt', 'max-file=0', '--log-opt', 'max-size=1m'], /max-file cannot be less than 1/],
  ];
  for (const [flags, re] of cases) {
    const r = d.berth(['create', ...flags, 'busybox', 'true']);
    assert.equal(r.code, 1, flags.join(' '));
    assert.match(r.stderr, re);
  }
  assert.equal(existsSync('/run/systemd/journal/socket'), false, 'this check assumes no journald on the test host');
});

test('syslog over udp: lines arrive with the tag and daemon.info/err priorities; logs reads the local cache', async (t) => {
  const server = createSocket('udp4');
  const got: string[] = [];
  server.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const port = server.address().port;
  const run = d.berth(['run', '-d', '--name', 'sysl', '--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${port}`,
    '--log-opt', 'tag={{.Name}}/{{.ID}}', 'busybox', 'sh', '-c', 'echo to-out; echo to-err >&2']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await waitExit(id);
  for (let i = 0; i < 50 && got.length < 2; i++) await sleep(100);
  const out = got.find((m) => m.includes('to-out'));
  const err = got.find((m) => m.includes('to-err'));
  assert.ok(out && err, JSON.stringify(got));
  assert.match(out, new RegExp(`^<30>.*sysl/${id.slice(0, 12)}`));
  assert.match(err, /^<27>/);
  assert.equal(d.berth(['logs', id]).stdout, 'to-out\n');
  const inspect = (await d.api('GET', `/containers/${id}/json`)).json() as { LogPath: string };
  assert.equal(inspect.LogPath, '');
});

test('syslog over tcp and over a unix stream socket, with a facility', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-syslog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const got: string[] = [];
  const servers = [createServer((c) => c.on('data', (b: Buffer) => got.push(b.toString()))), createServer((c) => c.on('data', (b: Buffer) => got.push(b.toString())))];
  await new Promise<void>((r) => servers[0]!.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => servers[1]!.listen(join(dir, 'log.sock'), () => r()));
  t.after(() => { for (const s of servers) s.close(); });
  const port = (servers[0]!.address() as AddressInfo).port;
  for (const [addr, word] of [[`tcp://127.0.0.1:${port}`, 'over-tcp'], [`unix://${join(dir, 'log.sock')}`, 'over-unix']] as const) {
    const run = d.berth(['run', '-d', '--log-driver', 'syslog', '--log-opt', `syslog-address=${addr}`, '--log-opt', 'syslog-facility=local3', 'busybox', 'echo', word]);
    assert.equal(run.code, 0, run.stderr);
    await waitExit(run.stdout.trim());
  }
  for (let i = 0; i < 50 && !(got.join('').includes('over-tcp') && got.join('').includes('over-unix')); i++) await sleep(100);
  const all = got.join('');
  // local3.info = 19 * 8 + 6
  assert.match(all, /<158>[^\n]*over-tcp/);
  assert.match(all, /<158>[^\n]*over-unix/);
});

test('syslog forwarding resumes after berthd restarts, without gaps or repeats', async (t) => {
  const server = createSocket('udp4');
  const got: string[] = [];
  server.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const run = d.berth(['run', '-d', '--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${server.address().port}`,
    'busybox', 'sh', '-c', 'i=1; while [ $i -le 40 ]; do echo r-$i; i=$((i+1)); sleep 0.05; done']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await sleep(500);
  await d.stop();
  await sleep(1500);
  await d.restart();
  await waitExit(id);
  for (let i = 0; i < 50 && got.filter((m) => /r-40$/.test(m.trim())).length === 0; i++) await sleep(100);
  await sleep(300);
  const ns = got.map((m) => Number(/r-(\d+)\s*$/.exec(m)?.[1])).filter((n) => n > 0);
  assert.deepEqual(ns, Array.from({ length: 40 }, (_, i) => i + 1));
});

test('daemon log-driver/log-opts apply to containers that name no driver', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'daemon.json');
  writeFileSync(file, JSON.stringify({ 'log-driver': 'local', 'log-opts': { 'max-size': '5m' } }));
  const d2 = await startTestDaemon(['--config-file', file]);
  t.after(() => d2.destroy());
  await importBusybox(d2);
  const info = (await d2.api('GET', '/info')).json() as { LoggingDriver: string };
  assert.equal(info.LoggingDriver, 'local');
  const c1 = d2.berth(['create', 'busybox', 'true']).stdout.trim();
  const c2 = d2.berth(['create', '--log-driver', 'json-file', 'busybox', 'true']).stdout.trim();
  const lc = async (id: string): Promise<unknown> => ((await d2.api('GET', `/containers/${id}/json`)).json() as { HostConfig: { LogConfig: unknown } }).HostConfig.LogConfig;
  assert.deepEqual(await lc(c1), { Type: 'local', Config: { 'max-size': '5m' } });
  assert.deepEqual(await lc(c2), { Type: 'json-file', Config: {} });
});

test('a container printing 200k lines is not slowed by berthd, nor does berthd grow', async () => {
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))![1]) * 1024;
  const before = rss();
  const run = d.berth(['run', '-d', '--log-opt', 'max-size=2m', '--log-opt', 'max-file=2', 'busybox', 'seq', '1', '200000']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await waitExit(id);
  const st = ((await d.api('GET', `/containers/${id}/json`)).json() as { State: { StartedAt: string; FinishedAt: string } }).State;
  const ms = Date.parse(st.FinishedAt) - Date.parse(st.StartedAt);
  assert.ok(ms < 10_000, `the container ran ${ms} ms`);
  assert.equal(d.berth(['logs', '--tail', '1', id]).stdout, '200000\n');
  const grown = rss() - before;
  assert.ok(grown < 48 * 1024 * 1024, `berthd RSS grew by ${grown} bytes`);
  console.log(`# 200k lines: container ran ${ms} ms; berthd RSS ${Math.round(before / 1048576)} -> ${Math.round(rss() / 1048576)} MiB`);
});
