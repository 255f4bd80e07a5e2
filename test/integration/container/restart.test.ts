import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

interface Inspect { State: { Status: string; ExitCode: number; Pid: number; StartedAt: string }; RestartCount: number }
const inspect = async (id: string): Promise<Inspect> => (await d.api('GET', `/containers/${id}/json`)).json() as Inspect;

async function run(cmd: string[], policy: { Name: string; MaximumRetryCount?: number }): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd, HostConfig: { RestartPolicy: { MaximumRetryCount: 0, ...policy } } });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  return id;
}

async function until(what: string, fn: () => Promise<boolean>, ms = 8000): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('on-failure:2 restarts a failing container twice with back-off, then leaves it exited', async () => {
  const t0 = Date.now();
  const id = await run(['sh', '-c', 'exit 3'], { Name: 'on-failure', MaximumRetryCount: 2 });
  await until('two restarts', async () => (await inspect(id)).RestartCount === 2);
  await new Promise((r) => setTimeout(r, 600));
  const st = await inspect(id);
  assert.equal(st.RestartCount, 2);
  assert.equal(st.State.Status, 'exited');
  assert.equal(st.State.ExitCode, 3);
  // 100 ms then 200 ms of back-off at least.
  assert.ok(Date.now() - t0 >= 300);
});

test('on-failure does not restart a clean exit; no policy never restarts', async () => {
  const ok = await run(['true'], { Name: 'on-failure' });
  const none = await run(['sh', '-c', 'exit 1'], { Name: 'no' });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await inspect(ok)).RestartCount, 0);
  assert.equal((await inspect(none)).RestartCount, 0);
});

test('always restarts a container that exits; a manual stop is respected', async () => {
  const id = await run(['sh', '-c', 'sleep 0.2'], { Name: 'always' });
  await until('a restart', async () => (await inspect(id)).RestartCount >= 1);
  assert.equal((await d.api('POST', `/containers/${id}/stop?t=1`)).status, 204);
  const count = (await inspect(id)).RestartCount;
  await new Promise((r) => setTimeout(r, 800));
  const st = await inspect(id);
  assert.equal(st.State.Status, 'exited');
  assert.equal(st.RestartCount, count);
});

test('after berthd restarts, always and unless-stopped containers come back unless stopped by hand', async () => {
  const always = await run(['sleep', '600'], { Name: 'always' });
  const unless = await run(['sleep', '600'], { Name: 'unless-stopped' });
  const stopped = await run(['sleep', '600'], { Name: 'unless-stopped' });
  assert.equal((await d.api('POST', `/containers/${stopped}/stop?t=0`)).status, 204);
  const pids = [(await inspect(always)).State.Pid, (await inspect(unless)).State.Pid];
  await d.stop();
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  await d.restart();
  await until('both running', async () => (await inspect(always)).State.Status === 'running' && (await inspect(unless)).State.Status === 'running');
  assert.notEqual((await inspect(always)).State.Pid, pids[0]);
  assert.equal((await inspect(stopped)).State.Status, 'exited');
});

test('during the back-off a container shows as restarting; exec, start and rm refuse as Docker does; stop ends it', async () => {
  const id = await run(['sh', '-c', 'exit 2'], { Name: 'always' });
  type Full = { State: { Status: string; Running: boolean; Restarting: boolean; Pid: number; ExitCode: number; StartedAt: string }; RestartCount: number };
  const full = async (): Promise<Full> => (await d.api('GET', `/containers/${id}/json`)).json() as Full;
  // After the fifth restart's run, the back-off lasts 3.2 s: long enough to look at it. (While a
  // restart is starting the container it shows as restarting too, with the previous StartedAt.)
  let startedAt = '';
  await until('the fifth restart', async () => { const s = await full(); startedAt = s.State.StartedAt; return s.RestartCount >= 5; }, 15_000);
  await until('its run and the next back-off', async () => { const s = await full(); return s.State.StartedAt !== startedAt && s.State.Status === 'restarting'; });
  const st = await full();
  assert.deepEqual([st.State.Running, st.State.Restarting, st.State.Pid, st.State.ExitCode], [true, true, 0, 2]);
  const ps = (await d.api('GET', '/containers/json')).json() as Array<{ Id: string; State: string; Status: string }>;
  const row = ps.find((c) => c.Id === id);
  assert.ok(row, 'ps without --all lists a restarting container');
  assert.equal(row.State, 'restarting');
  assert.match(row.Status, /^Restarting \(2\) /);
  const filtered = (await d.api('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ status: ['restarting'] }))}`)).json() as Array<{ Id: string }>;
  assert.ok(filtered.some((c) => c.Id === id));
  const ex = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
  assert.equal(ex.status, 409);
  assert.match(ex.body, /is restarting, wait until the container is running/);
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 304);
  const rm = await d.api('DELETE', `/containers/${id}`);
  assert.equal(rm.status, 409);
  assert.match(rm.body, /You cannot remove a restarting container/);
  assert.equal((await d.api('POST', `/containers/${id}/stop?t=1`)).status, 204);
  const after = await full();
  assert.deepEqual([after.State.Status, after.State.Running, after.State.Restarting], ['exited', false, false]);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await full()).RestartCount, after.RestartCount);
  assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
});
