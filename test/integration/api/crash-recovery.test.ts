import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

async function run(body: Record<string, unknown>): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', ...body });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body);
  return id;
}

async function logLines(id: string): Promise<number> {
  const r = await d.api('GET', `/containers/${id}/logs?stdout=1`);
  return (r.body.match(/tick/g) ?? []).length;
}

test('kill -9 berthd: running containers survive, exits while down are recorded', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await run({ Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'] }));
  const quitter = await run({ Cmd: ['sh', '-c', 'sleep 1; exit 42'] });
  const autoRm = await run({ Cmd: ['sh', '-c', 'sleep 1'], HostConfig: { AutoRemove: true } });

  await d.crash();
  await new Promise((r) => setTimeout(r, 2500));
  await d.restart();

  const list = (await d.api('GET', '/containers/json')).json() as Array<{ Id: string; State: string }>;
  for (const id of ids) assert.ok(list.some((c) => c.Id === id && c.State === 'running'), `container ${id.slice(0, 12)} still running`);
  const q = (await d.api('GET', `/containers/${quitter}/json`)).json() as { State: { Status: string; ExitCode: number } };
  assert.equal(q.State.Status, 'exited');
  assert.equal(q.State.ExitCode, 42);
  const { readFileSync } = await import('node:fs');
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(quitter), 'the rootfs of a container that exited while berthd was down is unmounted');
  assert.equal((await d.api('GET', `/containers/${autoRm}/json`)).status, 404, 'finished --rm container removed at start-up');

  const before = await logLines(ids[0]!);
  await new Promise((r) => setTimeout(r, 600));
  assert.ok((await logLines(ids[0]!)) > before, 'logs keep flowing after the restart');

  // sh as PID 1 ignores SIGTERM: stop escalates to SIGKILL after 1 s, and the exit of a
  // re-adopted container must be noticed right away.
  const t0 = Date.now();
  assert.equal((await d.api('POST', `/containers/${ids[0]}/stop?t=1`)).status, 204);
  assert.ok(Date.now() - t0 < 4000, `stop of a re-adopted container is prompt (${Date.now() - t0} ms)`);
  const s = (await d.api('GET', `/containers/${ids[0]}/json`)).json() as { State: { Status: string } };
  assert.equal(s.State.Status, 'exited');

  // A container that exits after the restart is noticed too.
  await d.api('POST', `/containers/${ids[1]}/kill?signal=KILL`);
  const w = await d.api('POST', `/containers/${ids[1]}/wait`);
  assert.deepEqual(w.json(), { StatusCode: 137 });
});

test('a graceful stop leaves containers running and a second daemon on the same root is refused', async () => {
  const id = await run({ Cmd: ['sleep', '30'] });
  // An attached client must not hold up a graceful shutdown.
  const { request } = await import('node:http');
  const attached = new Promise<void>((resolve) => {
    const req = request({ socketPath: d.socket, method: 'POST', path: `/containers/${id}/attach?stream=1&stdout=1`, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
    req.on('upgrade', (_res, sock) => { sock.on('error', () => undefined); sock.on('close', () => resolve()); });
    req.on('error', () => resolve());
    req.end();
  });
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await d.stop();
  assert.ok(Date.now() - t0 < 3000, `graceful stop with an attached client took ${Date.now() - t0} ms`);
  await attached;
  await d.restart();
  const insp = (await d.api('GET', `/containers/${id}/json`)).json() as { State: { Running: boolean } };
  assert.equal(insp.State.Running, true);
  const { spawnSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const { REPO } = await import('../../helpers/daemon-harness.js');
  const second = spawnSync(process.execPath, [join(REPO, 'bin/berthd'), '--data-root', d.dataRoot, '--exec-root', d.execRoot, '-H', `unix://${d.root}/second.sock`], { encoding: 'utf8', timeout: 10_000 });
  assert.notEqual(second.status, 0);
  assert.match(second.stderr, /already running/);
  await d.api('DELETE', `/containers/${id}?force=1`);
});

test('a restarted container\'s exit is seen, and an old exit record is not taken for a new run', async () => {
  // First run exits at once; the second run (same container) keeps going.
  const id = await run({ Cmd: ['sh', '-c', 'if [ -f /ran ]; then sleep 60; else touch /ran; exit 4; fi'] });
  const first = await d.api('POST', `/containers/${id}/wait`);
  assert.deepEqual(first.json(), { StatusCode: 4 });
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  await d.crash();
  await d.restart();
  const insp = (await d.api('GET', `/containers/${id}/json`)).json() as { State: { Status: string } };
  assert.equal(insp.State.Status, 'running', 'the second run is still running after a crash and restart');
  // Its exit is noticed (the watcher must not think it already reported this container).
  await d.api('POST', `/containers/${id}/kill`);
  const w = await d.api('POST', `/containers/${id}/wait`);
  assert.deepEqual(w.json(), { StatusCode: 137 });
  // And once more: start, exit by itself is seen.
  const c2 = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'exit 6'] });
  const id2 = (c2.json() as { Id: string }).Id;
  for (let i = 0; i < 3; i++) {
    const wait = d.api('POST', `/containers/${id2}/wait?condition=next-exit`);
    assert.equal((await d.api('POST', `/containers/${id2}/start`)).status, 204);
    assert.deepEqual((await wait).json(), { StatusCode: 6 }, `run ${i + 1}`);
  }
  await d.api('DELETE', `/containers/${id}?force=1`);
  await d.api('DELETE', `/containers/${id2}`);
});
