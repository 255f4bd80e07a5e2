import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { apiRequest, startTestDaemon, importBusybox, testNetworkArgs, REPO } from '../../helpers/daemon-harness.js';

test('the systemd units pass systemd-analyze verify', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-units-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const service = readFileSync(join(REPO, 'contrib/systemd/berth.service'), 'utf8');
  assert.match(service, /^ExecStart=\/usr\/local\/bin\/berthd -H fd:\/\/$/m);
  assert.match(service, /^KillMode=process$/m, 'containers must outlive a berthd restart');
  assert.match(service, /^ExecReload=\/bin\/kill -s HUP \$MAINPID$/m);
  writeFileSync(join(dir, 'berth.service'), service.replace('/usr/local/bin/berthd', join(REPO, 'bin/berthd')));
  writeFileSync(join(dir, 'berth.socket'), readFileSync(join(REPO, 'contrib/systemd/berth.socket')));
  const r = spawnSync('systemd-analyze', ['verify', join(dir, 'berth.socket'), join(dir, 'berth.service')], { encoding: 'utf8', cwd: dir });
  assert.equal(r.stderr.split('\n').filter((l) => /berth\.(service|socket)/.test(l)).join('\n'), '');
});

test('berthd -H fd:// serves on the socket systemd hands over', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-act-'));
  const sock = join(root, 'act.sock');
  const proc = spawn('systemd-socket-activate', ['-l', sock, process.execPath, join(REPO, 'bin/berthd'), '-H', 'fd://',
    '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), ...testNetworkArgs().args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => { log += b.toString(); });
  t.after(async () => {
    if (proc.exitCode === null) { proc.kill('SIGTERM'); await new Promise((r) => proc.once('exit', r)); }
    rmSync(root, { recursive: true, force: true });
  });
  let res: Awaited<ReturnType<typeof apiRequest>> | undefined;
  for (let i = 0; i < 100 && !res; i++) {
    res = await apiRequest(sock, 'GET', '/_ping').catch(() => undefined);
    if (!res) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(res?.status, 200, log);
  assert.equal(res?.body, 'OK');
  const noFds = spawnSync(process.execPath, [join(REPO, 'bin/berthd'), '-H', 'fd://', '--data-root', join(root, 'd2'), '--exec-root', join(root, 'e2'), ...testNetworkArgs().args], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
  assert.equal(noFds.status, 1);
  assert.match(noFds.stderr, /no sockets found via socket activation: make sure the service was started by systemd/);
});

test('info reports the effective configuration: logging driver, registries, mirrors, live restore, warnings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-info-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'daemon.json');
  writeFileSync(file, JSON.stringify({ 'insecure-registries': ['myreg:5000', '10.1.0.0/16'], 'registry-mirrors': ['https://mirror.example'], 'log-driver': 'local', labels: ['a=b'], 'default-shm-size': '128M' }));
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  const d = await startTestDaemon(['--config-file', file, '-H', `tcp://127.0.0.1:${port}`, '--tls=false']);
  t.after(() => d.destroy());
  const info = d.berth(['info']);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, / Logging Driver: local\n/);
  assert.match(info.stdout, / Storage Driver: (overlay2|vfs)\n  Backing Filesystem: \S+/);
  assert.match(info.stdout, / Cgroup Driver: cgroupfs\n Cgroup Version: [12]\n/);
  assert.match(info.stdout, / Insecure Registries:\n  myreg:5000\n  ::1\/128\n  127\.0\.0\.0\/8\n  10\.1\.0\.0\/16\n Registry Mirrors:\n  https:\/\/mirror\.example\/\n Live Restore Enabled: true\n/);
  assert.match(info.stdout, / Labels:\n  a=b\n/);
  assert.match(info.stdout, / Runtimes: crun runc\n Default Runtime: crun\n/);
  const warnings = ((await d.api('GET', '/info')).json() as { Warnings: string[] }).Warnings.join('\n');
  assert.match(warnings, new RegExp(`^WARNING: API is accessible on http://127\\.0\\.0\\.1:${port} without encryption\\.`, 'm'));
  const docker = spawnSync('/usr/local/bin/docker', ['-H', d.host, 'info'], { encoding: 'utf8' });
  assert.match(docker.stdout, / Registry Mirrors:\n  https:\/\/mirror\.example\/\n/);
  assert.match(docker.stdout, / Logging Driver: local\n/);
  await importBusybox(d);
  const c1 = d.berth(['create', 'busybox', 'true']).stdout.trim();
  const c2 = ((await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { ShmSize: 8 * 1024 * 1024 } })).json() as { Id: string }).Id;
  const shm = async (id: string): Promise<number> => ((await d.api('GET', `/containers/${id}/json`)).json() as { HostConfig: { ShmSize: number } }).HostConfig.ShmSize;
  assert.equal(await shm(c1), 128 * 1024 * 1024, 'default-shm-size applies');
  assert.equal(await shm(c2), 8 * 1024 * 1024, 'an explicit --shm-size wins');
  writeFileSync(file, JSON.stringify({ 'insecure-registries': [], 'registry-mirrors': ['https://other.example'], 'log-driver': 'local', labels: ['a=b'], 'default-shm-size': '128M' }));
  d.proc.kill('SIGHUP');
  for (let i = 0; i < 50 && !/Reloaded configuration/.test(d.log()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(d.berth(['info']).stdout, / Registry Mirrors:\n  https:\/\/other\.example\/\n/);
});
