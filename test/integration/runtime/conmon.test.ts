import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, rmdir, symlink, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildSpec, readHostFacts, type SpecInput } from '../../../src/runtime/spec.js';
import { RuncRuntime } from '../../../src/runtime/runc-runtime.js';
import { ConmonMonitor, type ConmonCreateOptions } from '../../../src/runtime/conmon-monitor.js';
import { ExitWatcher } from '../../../src/runtime/exit-watcher.js';
import { readLog, type LogEntry } from '../../../src/logs/k8s-file-log.js';
import { SubprocessError } from '../../../src/common/errors.js';

const RUNC = '/usr/sbin/runc';
const CONMON = '/usr/bin/conmon';
const SECCOMP = '/usr/share/containers/seccomp.json';
const missing = [RUNC, CONMON, '/bin/busybox'].filter((p) => !existsSync(p));
const skip = process.getuid?.() !== 0 ? 'needs root' : missing.length ? `missing ${missing.join(', ')}` : false;

const host = readHostFacts();
const CGROUP_PARENT = `berth-test-${process.pid}`;

/** runc removes each container's cgroup but not the parent the tests put them in. */
async function removeCgroupParent(): Promise<void> {
  const roots = ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup').catch(() => [])).map((c) => join('/sys/fs/cgroup', c))];
  for (const r of roots) await rmdir(join(r, CGROUP_PARENT)).catch(() => undefined);
}

interface Env {
  dir: string;
  runtime: RuncRuntime;
  monitor: ConmonMonitor;
  watcher: ExitWatcher;
  /** Per-container cleanups, run before the directory goes away. */
  cleanups: Array<() => Promise<void>>;
}

async function setup(t: TestContext): Promise<Env> {
  const dir = await mkdtemp('/tmp/berth-conmon-');
  const runtime = new RuncRuntime({ binary: RUNC, root: join(dir, 'runc') });
  const monitor = new ConmonMonitor({ conmonPath: CONMON, runtimePath: RUNC, runtimeRoot: join(dir, 'runc') });
  const watcher = new ExitWatcher({ exitDir: join(dir, 'exits') });
  await watcher.start();
  const cleanups: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
    watcher.stop();
    await rm(dir, { recursive: true, force: true });
    await removeCgroupParent();
  });
  return { dir, runtime, monitor, watcher, cleanups };
}

/** A bundle whose rootfs is busybox with a few applet links. */
async function bundle(env: Env, id: string, over: Partial<SpecInput>): Promise<string> {
  const b = join(env.dir, 'bundles', id);
  const rootfs = join(b, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'echo', 'cat', 'sleep', 'tty', 'stty']) await symlink('busybox', join(rootfs, 'bin', applet));
  const spec = buildSpec({
    id, rootfs, readonlyRootfs: false, args: ['sh', '-c', 'true'], env: ['PATH=/bin'], cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] }, terminal: false, hostname: id.slice(0, 12), domainname: '',
    privileged: false, capAdd: [], capDrop: [], init: false, mounts: [], network: { mode: 'new' },
    shmSize: 64 * 1024 * 1024, cgroupsPath: `/${CGROUP_PARENT}/${id}`,
    seccompProfilePath: existsSync(SECCOMP) ? SECCOMP : null, ...over,
  }, host);
  await writeFile(join(b, 'config.json'), JSON.stringify(spec));
  return b;
}

function createOpts(env: Env, id: string, b: string, over: Partial<ConmonCreateOptions> = {}): ConmonCreateOptions {
  return {
    id, bundle: b, logPath: join(b, 'ctr.log'), exitDir: join(env.dir, 'exits'),
    persistDir: join(env.dir, 'persist', id), socketDir: join(env.dir, 'sockets'),
    pidFile: join(b, 'pid'), conmonPidFile: join(b, 'conmon.pid'),
    terminal: false, stdin: false, stdinOnce: false, ...over,
  };
}

/** Registers the cleanup for one container: delete it in runc and make sure its conmon is gone. */
function cleanupContainer(env: Env, id: string, conmonPid: () => number | undefined): void {
  env.cleanups.push(async () => {
    await env.runtime.delete(id, { force: true }).catch(() => undefined);
    const pid = conmonPid();
    if (pid && (await env.monitor.isAlive(pid, id))) {
      for (let i = 0; i < 50 && (await env.monitor.isAlive(pid, id)); i++) await sleep(20);
      if (await env.monitor.isAlive(pid, id)) process.kill(pid, 'SIGKILL');
    }
  });
}

async function logOf(path: string): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readLog(path, { follow: false, stdout: true, stderr: true })) out.push(e);
  return out;
}

async function waitGone(env: Env, pid: number, id: string): Promise<void> {
  for (let i = 0; i < 200 && (await env.monitor.isAlive(pid, id)); i++) await sleep(10);
  assert.equal(await env.monitor.isAlive(pid, id), false, 'conmon exits after the container');
}

test('a container prints a line and exits 3; log, exit file and watcher agree', { skip }, async (t) => {
  const env = await setup(t);
  const id = 'berthtest' + process.pid + 'a';
  let conmonPid: number | undefined;
  cleanupContainer(env, id, () => conmonPid);
  const b = await bundle(env, id, { args: ['sh', '-c', 'echo hello from berth; echo oops >&2; exit 3'] });
  const created = await env.monitor.create(createOpts(env, id, b));
  conmonPid = created.conmonPid;
  assert.ok(created.pid > 0);
  assert.equal(await env.monitor.isAlive(created.conmonPid, id), true);
  assert.equal(await env.monitor.isAlive(created.conmonPid, 'someone-else'), false);
  assert.deepEqual(await env.runtime.state(id), { status: 'created', pid: created.pid });
  const exitEvent = new Promise<[string, number]>((resolve) => env.watcher.on('exit', (i, c) => { if (i === id) resolve([i, c]); }));
  await env.runtime.start(id);
  assert.equal(await env.watcher.waitForExit(id), 3);
  assert.deepEqual(await exitEvent, [id, 3]);
  assert.equal(await env.monitor.readExitCode(join(env.dir, 'exits'), id), 3);
  assert.equal((await readFile(join(env.dir, 'persist', id, 'exit'), 'utf8')).trim(), '3');
  const log = await logOf(join(b, 'ctr.log'));
  assert.deepEqual(log.map((e) => [e.stream, e.data.toString()]).sort(), [['stderr', 'oops\n'], ['stdout', 'hello from berth\n']]);
  assert.match(log[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.equal((await env.runtime.state(id))?.status, 'stopped');
  await env.runtime.delete(id, { force: false });
  assert.equal(await env.runtime.state(id), undefined);
  await waitGone(env, created.conmonPid, id);
});

test('a missing executable fails create with runc\'s own message', { skip }, async (t) => {
  const env = await setup(t);
  const id = 'berthtest' + process.pid + 'b';
  cleanupContainer(env, id, () => undefined);
  const b = await bundle(env, id, { args: ['nope'] });
  await assert.rejects(env.monitor.create(createOpts(env, id, b)), (err: unknown) => {
    assert.ok(err instanceof SubprocessError);
    assert.match(err.message, /exec: "nope": executable file not found in \$PATH/);
    return true;
  });
  assert.equal(await env.runtime.state(id), undefined);
  assert.equal(existsSync(join(b, 'attach')), false);
});

test('stdin piped through the attach socket reaches cat', { skip }, async (t) => {
  const env = await setup(t);
  const id = 'berthtest' + process.pid + 'c';
  let conmonPid: number | undefined;
  cleanupContainer(env, id, () => conmonPid);
  const b = await bundle(env, id, { args: ['cat'] });
  const created = await env.monitor.create(createOpts(env, id, b, { stdin: true, stdinOnce: true }));
  conmonPid = created.conmonPid;
  const stdin = env.monitor.openStdin(b);
  await env.runtime.start(id);
  assert.equal((await env.runtime.state(id))?.status, 'running');
  assert.deepEqual(await env.runtime.ps(id), [created.pid]);
  await stdin.write(Buffer.from('hello\n'));
  await stdin.write(Buffer.from('x'.repeat(20000) + '\n'));
  await stdin.close();
  assert.equal(await env.watcher.waitForExit(id), 0);
  const out = (await logOf(join(b, 'ctr.log'))).map((e) => e.data.toString()).join('');
  assert.equal(out, 'hello\n' + 'x'.repeat(20000) + '\n');
  await waitGone(env, created.conmonPid, id);
});

test('a terminal container gets a tty, resizes, and is killed with 137', { skip }, async (t) => {
  const env = await setup(t);
  const id = 'berthtest' + process.pid + 'd';
  let conmonPid: number | undefined;
  cleanupContainer(env, id, () => conmonPid);
  const b = await bundle(env, id, {
    terminal: true, env: ['PATH=/bin', 'TERM=xterm'],
    args: ['sh', '-c', 'tty; sleep 0.5; stty size; sleep 100'],
  });
  const created = await env.monitor.create(createOpts(env, id, b, { terminal: true }));
  conmonPid = created.conmonPid;
  await env.runtime.start(id);
  await env.monitor.resize(b, 33, 111);
  let text = '';
  for (let i = 0; i < 100 && !text.includes('33 111'); i++) {
    await sleep(50);
    text = (await logOf(join(b, 'ctr.log'))).map((e) => e.data.toString()).join('');
  }
  assert.match(text, /\/dev\/pts\/0/);
  assert.match(text, /33 111/);
  assert.ok((await logOf(join(b, 'ctr.log'))).every((e) => e.stream === 'stdout'));
  await env.runtime.pause(id);
  assert.equal((await env.runtime.state(id))?.status, 'paused');
  await env.runtime.resume(id);
  await env.runtime.kill(id, 'SIGKILL');
  assert.equal(await env.watcher.waitForExit(id), 137);
  await waitGone(env, created.conmonPid, id);
});
