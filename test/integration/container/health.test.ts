import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

interface Health { Status: string; FailingStreak: number; Log: Array<{ ExitCode: number; Output: string; Start: string; End: string }> }
const health = async (id: string): Promise<Health | undefined> =>
  ((await d.api('GET', `/containers/${id}/json`)).json() as { State: { Health?: Health } }).State.Health;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 8000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(healthcheck: Record<string, unknown>, cmd = ['sleep', '600']): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd, Healthcheck: healthcheck });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  return id;
}

async function exec(id: string, cmd: string[]): Promise<void> {
  const e = await d.api('POST', `/containers/${id}/exec`, { Cmd: cmd });
  const eid = (e.json() as { Id: string }).Id;
  await d.api('POST', `/exec/${eid}/start`, { Detach: true });
  await until('exec end', async () => !((await d.api('GET', `/exec/${eid}/json`)).json() as { Running: boolean }).Running);
}

test('starting, then healthy when the check passes, unhealthy after the retries fail; events and ps show it', async () => {
  const t0 = (Date.now() / 1000).toFixed(3);
  const id = await start({ Test: ['CMD-SHELL', 'test -e /tmp/ok && echo fine'], Interval: 100e6, Timeout: 2e9, Retries: 2 });
  assert.equal((await health(id))?.Status, 'starting');
  const ps0 = (await d.api('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ id: [id] }))}`)).json() as Array<{ Status: string }>;
  assert.match(ps0[0]!.Status, /\(health: starting\)$/);
  await exec(id, ['touch', '/tmp/ok']);
  const h = await until('healthy', async () => { const x = await health(id); return x?.Status === 'healthy' ? x : undefined; });
  assert.equal(h.FailingStreak, 0);
  assert.equal(h.Log.at(-1)!.Output, 'fine\n');
  const ps = (await d.api('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ id: [id] }))}`)).json() as Array<{ Status: string }>;
  assert.match(ps[0]!.Status, /^Up .* \(healthy\)$/);
  const byHealth = (await d.api('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ health: ['healthy'] }))}`)).json() as Array<{ Id: string }>;
  assert.deepEqual(byHealth.map((c) => c.Id), [id]);
  await exec(id, ['rm', '/tmp/ok']);
  const bad = await until('unhealthy', async () => { const x = await health(id); return x?.Status === 'unhealthy' ? x : undefined; });
  assert.ok(bad.FailingStreak >= 2);
  assert.ok(bad.Log.length <= 5);
  assert.equal(bad.Log.at(-1)!.ExitCode, 1);
  const ev = (await d.api('GET', `/events?since=${t0}&until=${(Date.now() / 1000).toFixed(3)}&filters=${encodeURIComponent(JSON.stringify({ container: [id], event: ['health_status'] }))}`)).body;
  const actions = ev.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { Action: string }).Action);
  assert.deepEqual(actions, ['health_status: healthy', 'health_status: unhealthy']);
  await d.api('DELETE', `/containers/${id}?force=1`);
});

test('a check that overruns its timeout fails with Docker\'s message; NONE disables the check', async () => {
  const id = await start({ Test: ['CMD', 'sleep', '5'], Interval: 100e6, Timeout: 200e6, Retries: 1 });
  const h = await until('unhealthy', async () => { const x = await health(id); return x?.Status === 'unhealthy' ? x : undefined; });
  assert.equal(h.Log[0]!.ExitCode, -1);
  assert.equal(h.Log[0]!.Output, 'Health check exceeded timeout (200ms)');
  await d.api('DELETE', `/containers/${id}?force=1`);
  const none = await start({ Test: ['NONE'] });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await health(none), undefined);
  await d.api('DELETE', `/containers/${none}?force=1`);
});
