import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, REPO, testNetworkArgs } from '../../helpers/daemon-harness.js';

const BERTHD = join(REPO, 'bin/berthd');

function tempConfig(t: { after(fn: () => void): void }, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'daemon.json');
  writeFileSync(p, JSON.stringify(content));
  return p;
}

function hostHardLimit(label: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(label))!;
  const hard = line.slice(label.length).trim().split(/\s+/)[1]!;
  return hard === 'unlimited' ? Infinity : Number(hard);
}

test('--default-ulimit: bad values are refused with Docker\'s words', () => {
  const soft = spawnSync(process.execPath, [BERTHD, '--validate', '--default-ulimit', 'nofile=10:5'], { encoding: 'utf8' });
  assert.notEqual(soft.status, 0);
  assert.match(soft.stderr, /invalid argument "nofile=10:5" for "--default-ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 10 > 5/);
  const name = spawnSync(process.execPath, [BERTHD, '--validate', '--default-ulimit', 'files=10'], { encoding: 'utf8' });
  assert.match(name.stderr, /invalid ulimit type: files/);
});

test('default-ulimits apply to containers (and their execs) that do not set that limit; inspect keeps what the client sent', async (t) => {
  const nprocHard = hostHardLimit('Max processes');
  const file = tempConfig(t, {
    'default-ulimits': {
      nofile: { Name: 'nofile', Soft: 4096, Hard: 8192 },
      // Above this host's hard limit: lowered to it rather than failing every start.
      nproc: { Name: 'nproc', Soft: 999999999, Hard: 999999999 },
    },
  });
  const d = await startTestDaemon(['--config-file', file]);
  t.after(() => d.destroy());
  await importBusybox(d);

  const plain = d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -Hu)']);
  assert.equal(plain.code, 0, plain.stderr);
  const expectNproc = Number.isFinite(nprocHard) ? String(nprocHard) : 'unlimited';
  assert.equal(plain.stdout.trim(), `4096 8192 ${expectNproc}`);

  const own = d.berth(['run', '--rm', '--ulimit', 'nofile=1000:1000', 'busybox', 'sh', '-c', 'echo $(ulimit -Sn) $(ulimit -Hn)']);
  assert.equal(own.code, 0, own.stderr);
  assert.equal(own.stdout.trim(), '1000 1000');

  const run = d.berth(['run', '-d', '--name', 'ul', 'busybox', 'sleep', '60']);
  assert.equal(run.code, 0, run.stderr);
  const exec = d.berth(['exec', 'ul', 'sh', '-c', 'ulimit -n']);
  assert.equal(exec.stdout.trim(), '4096');
  const inspect = (await d.api('GET', '/containers/ul/json')).json() as { HostConfig: { Ulimits: unknown } };
  assert.equal(inspect.HostConfig.Ulimits, null);

  const created = d.berth(['create', '--name', 'ul2', '--ulimit', 'core=0:0', 'busybox', 'true']);
  assert.equal(created.code, 0, created.stderr);
  const i2 = (await d.api('GET', '/containers/ul2/json')).json() as { HostConfig: { Ulimits: unknown } };
  assert.deepEqual(i2.HostConfig.Ulimits, [{ Name: 'core', Soft: 0, Hard: 0 }]);
});

interface Inspect { State: { ExitCode: number; FinishedAt: string; StartedAt: string; Running: boolean; Restarting: boolean }; RestartCount: number }

test('berthd stop without live restore: each container gets its stop signal, then SIGKILL after its own stop timeout', async (t) => {
  // Docker's rules: a container's StopTimeout (10 s when unset) decides when SIGKILL comes;
  // shutdown-timeout only bounds the whole wait, and never below the longest StopTimeout + 5 s.
  const d = await startTestDaemon(['--live-restore=false', '--shutdown-timeout', '1']);
  t.after(() => d.destroy());
  await importBusybox(d);
  const loop = 'while true; do sleep 0.1; done';
  const runs = [
    ['run', '-d', '--name', 'traps', 'busybox', 'sh', '-c', `trap 'exit 3' TERM; ${loop}`],
    ['run', '-d', '--name', 'usr1', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', `trap 'exit 4' USR1; trap '' TERM; ${loop}`],
    ['run', '-d', '--name', 'deaf2', '--stop-timeout', '2', 'busybox', 'sh', '-c', `trap '' TERM; ${loop}`],
    ['run', '-d', '--name', 'deaf', 'busybox', 'sh', '-c', `trap '' TERM; ${loop}`],
  ];
  for (const r of runs) assert.equal(d.berth(r).code, 0);
  await new Promise((r) => setTimeout(r, 300));
  const before = Date.now();
  await d.stop();
  const tookMs = Date.now() - before;
  await d.restart();
  const state = async (n: string): Promise<Inspect> => (await d.api('GET', `/containers/${n}/json`)).json() as Inspect;
  const after = async (n: string): Promise<number> => Date.parse((await state(n)).State.FinishedAt) - before;
  assert.equal((await state('traps')).State.ExitCode, 3);
  assert.equal((await state('usr1')).State.ExitCode, 4);
  assert.equal((await state('deaf2')).State.ExitCode, 137);
  assert.equal((await state('deaf')).State.ExitCode, 137);
  assert.ok(await after('traps') < 1500, `trapping container stopped after ${await after('traps')} ms`);
  const deaf2 = await after('deaf2');
  assert.ok(deaf2 >= 1900 && deaf2 < 4000, `StopTimeout 2 container killed after ${deaf2} ms`);
  const deaf = await after('deaf');
  assert.ok(deaf >= 9900 && deaf < 13000, `default StopTimeout container killed after ${deaf} ms`);
  assert.ok(tookMs >= 9900, `daemon stop took ${tookMs} ms`);
  for (const n of ['traps', 'usr1', 'deaf2', 'deaf']) assert.equal((await state(n)).State.Running, false);
});

test('wait (not-running) on a container in its restart back-off returns at its next exit, or when a stop cancels the restart', async (t) => {
  const d = await startTestDaemon();
  t.after(() => d.destroy());
  await importBusybox(d);
  const state = async (): Promise<Inspect> => (await d.api('GET', '/containers/bo/json')).json() as Inspect;
  // Running: the wait returns at the exit although the container will be restarted.
  assert.equal(d.berth(['run', '-d', '--name', 'bo', '--restart', 'on-failure', 'busybox', 'sh', '-c', 'sleep 0.5; exit 7']).code, 0);
  const first = await d.api('POST', '/containers/bo/wait');
  assert.deepEqual(first.json(), { StatusCode: 7 });
  assert.equal((await state()).RestartCount, 0);

  // Let the back-off grow (each run is short), then catch the container between two runs.
  const end = Date.now() + 20_000;
  let s = await state();
  while (!(s.RestartCount >= 3 && s.State.Restarting)) {
    if (Date.now() > end) throw new Error(`no back-off seen: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
    s = await state();
  }
  const issued = Date.now();
  const during = await d.api('POST', '/containers/bo/wait');
  const waited = Date.now() - issued;
  assert.deepEqual(during.json(), { StatusCode: 7 });
  // Each run lasts 0.5 s: the wait spans the next run, which started after the wait was sent.
  assert.ok(waited >= 400, `the wait returned after ${waited} ms, before the next run ended`);
  assert.ok(Date.parse((await state()).State.StartedAt) >= issued - 5, 'the wait returned before the next run');

  // A stop during the back-off cancels the restart and ends the wait.
  while (!(s = await state()).State.Restarting) await new Promise((r) => setTimeout(r, 20));
  const pending = d.api('POST', '/containers/bo/wait');
  await new Promise((r) => setTimeout(r, 100));
  const stopped = await d.api('POST', '/containers/bo/stop');
  assert.equal(stopped.status, 204);
  const res = await Promise.race([pending, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  assert.ok(res, 'wait did not return after the stop');
  assert.deepEqual(res.json(), { StatusCode: 7 });
  assert.equal((await state()).State.Restarting, false);
});

test('storage-opts: unknown options and overlay2.size on a filesystem without quotas stop berthd; a container --storage-opt size is refused', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-sopt-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const net = testNetworkArgs();
  const start = (extra: string[]): { status: number | null; stderr: string } => spawnSync(process.execPath, [
    BERTHD, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '-H', `unix://${join(root, 'sock')}`, ...net.args, ...extra,
  ], { encoding: 'utf8', timeout: 30_000 });
  const unknown = start(['--storage-driver', 'overlay2', '--storage-opt', 'dm.basesize=20G']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /error initializing graphdriver: overlay2: unknown option dm\.basesize/);
  const file = tempConfig(t, { 'storage-opts': ['overlay2.size=1G'] });
  const size = start(['--storage-driver', 'overlay2', '--config-file', file]);
  assert.equal(size.status, 1);
  assert.match(size.stderr, /error initializing graphdriver: Storage Option overlay2.size only supported for backingFS XFS\. Found extfs/);

  const d = await startTestDaemon(['--storage-driver', 'overlay2', '--storage-opt', 'overlay2.override_kernel_check=true']);
  t.after(() => d.destroy());
  await importBusybox(d);
  const r = await d.api('POST', '/containers/create?name=sized', { Image: 'busybox', Cmd: ['true'], HostConfig: { StorageOpt: { size: '1G' } } });
  assert.equal(r.status, 500);
  assert.deepEqual(r.json(), { message: "--storage-opt is supported only for overlay over xfs with 'pquota' mount option" });
  assert.equal((await d.api('GET', '/containers/sized/json')).status, 404);
  const cli = d.berth(['run', '--rm', '--storage-opt', 'size=1G', 'busybox', 'true']);
  assert.equal(cli.code, 125);
  assert.match(cli.stderr, /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/);
  assert.equal(d.berth(['run', '--rm', 'busybox', 'true']).code, 0);
});
