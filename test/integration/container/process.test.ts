import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let id: string;
let t0: number;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
  t0 = Date.now() / 1000;
  const c = await d.api('POST', '/containers/create?name=proc', { Image: 'busybox', Cmd: ['sleep', '600'], Labels: { team: 'blue' } });
  assert.equal(c.status, 201, c.body);
  id = (c.json() as { Id: string }).Id;
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
});
after(async () => { await d?.destroy(); });

const state = async (): Promise<{ Status: string; Paused: boolean; Running: boolean }> =>
  ((await d.api('GET', `/containers/${id}/json`)).json() as { State: { Status: string; Paused: boolean; Running: boolean } }).State;

test('top lists the container processes with ps titles; ps_args apply', async () => {
  const r = await d.api('GET', `/containers/${id}/top`);
  assert.equal(r.status, 200, r.body);
  const top = r.json() as { Titles: string[]; Processes: string[][] };
  assert.deepEqual(top.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
  assert.equal(top.Processes.length, 1);
  assert.equal(top.Processes[0]![7], 'sleep 600');
  const aux = (await d.api('GET', `/containers/${id}/top?ps_args=${encodeURIComponent('-o pid,comm')}`)).json() as { Titles: string[]; Processes: string[][] };
  assert.deepEqual(aux.Titles, ['PID', 'COMMAND']);
  assert.deepEqual(aux.Processes.map((p) => p[1]), ['sleep']);
});

test('pause freezes, exec is refused while paused, unpause thaws; errors in Docker\'s words', async () => {
  assert.equal((await d.api('POST', `/containers/${id}/pause`)).status, 204);
  const st = await state();
  assert.equal(st.Status, 'paused');
  assert.equal(st.Paused, true);
  assert.equal(st.Running, true);
  const freezer = readFileSync(`/sys/fs/cgroup/freezer/berth/${id}/freezer.state`, 'utf8').trim();
  assert.equal(freezer, 'FROZEN');
  const ex = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
  assert.equal(ex.status, 409);
  assert.equal((ex.json() as { message: string }).message, `Container ${id} is paused, unpause the container before exec`);
  const again = await d.api('POST', `/containers/${id}/pause`);
  assert.equal(again.status, 409);
  assert.match(again.body, /is already paused/);
  assert.equal((await d.api('POST', `/containers/${id}/unpause`)).status, 204);
  assert.equal((await state()).Status, 'running');
  const notPaused = await d.api('POST', `/containers/${id}/unpause`);
  assert.equal(notPaused.status, 409);
  assert.match(notPaused.body, /is not paused/);
});

test('update changes memory, cpu and pids limits of a running container and records them', async () => {
  const r = await d.api('POST', `/containers/${id}/update`, { Memory: 64 * 1024 * 1024, NanoCpus: 500_000_000, PidsLimit: 50, CpuShares: 512 });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { Warnings: [] });
  assert.equal(readFileSync(`/sys/fs/cgroup/memory/berth/${id}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * 1024 * 1024));
  assert.equal(readFileSync(`/sys/fs/cgroup/cpu/berth/${id}/cpu.cfs_quota_us`, 'utf8').trim(), '50000');
  assert.equal(readFileSync(`/sys/fs/cgroup/cpu/berth/${id}/cpu.shares`, 'utf8').trim(), '512');
  assert.equal(readFileSync(`/sys/fs/cgroup/pids/berth/${id}/pids.max`, 'utf8').trim(), '50');
  const hc = ((await d.api('GET', `/containers/${id}/json`)).json() as { HostConfig: Record<string, unknown> }).HostConfig;
  assert.equal(hc['Memory'], 64 * 1024 * 1024);
  assert.equal(hc['NanoCpus'], 500_000_000);
  assert.equal(hc['PidsLimit'], 50);
  const bad = await d.api('POST', `/containers/${id}/update`, { Memory: 1024 });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /Minimum memory limit allowed is 6MB/);
  const rp = await d.api('POST', `/containers/${id}/update`, { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });
  assert.equal(rp.status, 200);
  const hc2 = ((await d.api('GET', `/containers/${id}/json`)).json() as { HostConfig: { RestartPolicy: unknown } }).HostConfig;
  assert.deepEqual(hc2.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
});

function eventsUntil(query: string): Promise<Array<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }>> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'GET', path: `/events?${query}` }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve(text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as never)));
    });
    req.on('error', reject);
    req.end();
  });
}

test('events: replay with since/until, filters by container, event, type, label; live events stream', async () => {
  const now = Date.now() / 1000;
  const all = await eventsUntil(`since=${t0.toFixed(3)}&until=${now.toFixed(3)}`);
  const actions = all.filter((e) => e.Actor.ID === id).map((e) => e.Action);
  for (const a of ['create', 'start', 'pause', 'unpause', 'update']) assert.ok(actions.includes(a), `${a} in ${actions.join(',')}`);
  assert.ok(actions.some((a) => a === 'exec_create: true') === false, 'the refused exec left no event');
  const f = encodeURIComponent(JSON.stringify({ event: ['pause', 'unpause'], container: ['proc'], type: ['container'], label: ['team=blue'] }));
  const filtered = await eventsUntil(`since=${t0.toFixed(3)}&until=${now.toFixed(3)}&filters=${f}`);
  assert.deepEqual(filtered.map((e) => e.Action), ['pause', 'unpause']);
  const none = await eventsUntil(`since=${t0.toFixed(3)}&until=${now.toFixed(3)}&filters=${encodeURIComponent(JSON.stringify({ label: ['team=red'] }))}`);
  assert.equal(none.length, 0);
  // Live: until a moment in the future; an exec in between shows up with its prefix filter.
  const live = eventsUntil(`until=${(Date.now() / 1000 + 1.5).toFixed(3)}&filters=${encodeURIComponent(JSON.stringify({ event: ['exec_create', 'exec_die'] }))}`);
  await new Promise((r) => setTimeout(r, 200));
  const ex = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
  const eid = (ex.json() as { Id: string }).Id;
  await d.api('POST', `/exec/${eid}/start`, { Detach: true });
  const got = await live;
  assert.deepEqual(got.map((e) => e.Action), ['exec_create: true', 'exec_die']);
  assert.equal(got[1]!.Actor.Attributes['exitCode'], '0');
  const badFilter = await d.api('GET', `/events?filters=${encodeURIComponent(JSON.stringify({ nope: ['x'] }))}`);
  assert.equal(badFilter.status, 400);
});

test('stop and kill work on a paused container', async () => {
  assert.equal((await d.api('POST', `/containers/${id}/pause`)).status, 204);
  assert.equal((await d.api('POST', `/containers/${id}/stop?t=1`)).status, 204);
  assert.equal((await state()).Status, 'exited');
  const top = await d.api('GET', `/containers/${id}/top`);
  assert.equal(top.status, 409);
  assert.equal((top.json() as { message: string }).message, `Container ${id} is not running`);
  const p = await d.api('POST', `/containers/${id}/pause`);
  assert.equal(p.status, 409);
  assert.match(p.body, /is not running/);
});
