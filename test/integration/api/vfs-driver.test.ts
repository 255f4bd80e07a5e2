import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon(['--storage-driver', 'vfs']);
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

test('berthd on the vfs driver runs containers and reports sizes', async () => {
  const info = (await d.api('GET', '/info')).json() as { Driver: string };
  assert.equal(info.Driver, 'vfs');
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'head -c 100000 /dev/zero > /big; echo done'] });
  const id = (c.json() as { Id: string }).Id;
  const w = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  assert.deepEqual((await w).json(), { StatusCode: 0 });
  const insp = (await d.api('GET', `/containers/${id}/json?size=1`)).json() as { SizeRw: number; SizeRootFs: number; GraphDriver: { Name: string } };
  assert.equal(insp.GraphDriver.Name, 'vfs');
  assert.ok(insp.SizeRw >= 100_000, `SizeRw ${insp.SizeRw}`);
  assert.ok(insp.SizeRootFs > insp.SizeRw);
  assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
});
