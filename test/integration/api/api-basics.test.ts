import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let imageId: string;

before(async () => {
  d = await startTestDaemon();
  imageId = await importBusybox(d, 'busybox:latest');
});
after(async () => { await d?.destroy(); });

test('ping answers GET and HEAD with the headers clients read', async () => {
  const get = await d.api('GET', '/_ping');
  assert.equal(get.status, 200);
  assert.equal(get.body, 'OK');
  assert.equal(get.headers['api-version'], '1.44');
  assert.equal(get.headers['ostype'], 'linux');
  const head = await d.api('HEAD', '/v1.41/_ping');
  assert.equal(head.status, 200);
  assert.equal(head.headers['builder-version'], '1');
});

test('version and info carry the fields clients need', async () => {
  const v = (await d.api('GET', '/version')).json() as Record<string, unknown>;
  assert.equal(v['ApiVersion'], '1.44');
  assert.equal(v['MinAPIVersion'], '1.24');
  const info = (await d.api('GET', '/v1.44/info')).json() as Record<string, unknown>;
  assert.equal(info['OSType'], 'linux');
  assert.equal((info['Swarm'] as Record<string, unknown>)['LocalNodeState'], 'inactive');
  assert.ok((info['Images'] as number) >= 1);
});

test('API versions outside 1.24..1.44 are refused with 400', async () => {
  const old = await d.api('GET', '/v1.12/version');
  assert.equal(old.status, 400);
  assert.match(old.body, /too old/);
  const young = await d.api('GET', '/v1.99/version');
  assert.equal(young.status, 400);
  assert.match(young.body, /too new/);
});

test('unknown routes are 404 page not found with a JSON content type', async () => {
  const r = await d.api('GET', '/nope');
  assert.equal(r.status, 404);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(r.json(), { message: 'page not found' });
});

test('imported image is listed, inspectable by name, id and prefix', async () => {
  const list = (await d.api('GET', '/images/json')).json() as Array<Record<string, unknown>>;
  const img = list.find((i) => i['Id'] === imageId);
  assert.ok(img, 'imported image listed');
  assert.deepEqual(img['RepoTags'], ['busybox:latest']);
  for (const name of ['busybox', 'busybox:latest', 'docker.io/library/busybox:latest', imageId, imageId.slice(7), imageId.slice(7, 19)]) {
    const r = await d.api('GET', `/images/${name}/json`);
    assert.equal(r.status, 200, name);
    assert.equal((r.json() as Record<string, unknown>)['Id'], imageId);
  }
  const insp = (await d.api('GET', '/images/busybox/json')).json() as Record<string, Record<string, unknown>>;
  assert.deepEqual(insp['Config']!['Cmd'], ['sh']);
  assert.ok('ContainerConfig' in insp);
  const hist = (await d.api('GET', '/images/busybox/history')).json() as Array<Record<string, unknown>>;
  assert.equal(hist[0]!['Id'], imageId);
  assert.ok((hist[0]!['Size'] as number) > 1_000_000);
});

test('tag, untag and delete follow Docker', async () => {
  assert.equal((await d.api('POST', '/images/busybox/tag?repo=docker.io/library/mybox&tag=2')).status, 201);
  const insp = (await d.api('GET', '/images/mybox:2/json')).json() as Record<string, unknown>;
  assert.deepEqual(insp['RepoTags'], ['busybox:latest', 'mybox:2']);
  const del = await d.api('DELETE', '/images/mybox:2');
  assert.equal(del.status, 200);
  assert.deepEqual(del.json(), [{ Untagged: 'mybox:2' }]);
  assert.equal((await d.api('GET', '/images/mybox:2/json')).status, 404);
  const missing = await d.api('DELETE', '/images/nothere');
  assert.equal(missing.status, 404);
  assert.match(missing.body, /No such image: nothere/);
});

test('create with an unknown image is a 404 the docker CLI pulls on', async () => {
  const r = await d.api('POST', '/containers/create', { Image: 'nosuchimage', Cmd: ['true'] });
  assert.equal(r.status, 404);
  assert.deepEqual(r.json(), { message: 'No such image: nosuchimage:latest' });
});

test('bad JSON is a 400 and a bad option is a 400 with a clear message', async () => {
  const bad = await d.api('POST', '/containers/create', '{"Image": ');
  assert.equal(bad.status, 400);
  const badName = await d.api('POST', '/containers/create?name=' + encodeURIComponent('bad name!'), { Image: 'busybox', Cmd: ['true'] });
  assert.equal(badName.status, 400);
  assert.match(badName.body, /Invalid container name/);
  // An unknown network is a 404, as Docker's (and nothing is left of the container).
  const badNet = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'nonet' } });
  assert.equal(badNet.status, 404);
  assert.match(badNet.body, /network nonet not found/);
  const all = (await d.api('GET', '/containers/json?all=1')).json() as unknown[];
  assert.ok(!JSON.stringify(all).includes('nonet'));
  const badType = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Tty: 'yes' });
  assert.equal(badType.status, 400);
  assert.match(badType.body, /cannot unmarshal/);
});

test('a container runs, exits with its code, logs and is removed', async () => {
  const create = await d.api('POST', '/containers/create?name=exit3', { Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
  assert.equal(create.status, 201, create.body);
  const id = (create.json() as { Id: string }).Id;
  assert.match(id, /^[0-9a-f]{64}$/);
  const dup = await d.api('POST', '/containers/create?name=exit3', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(dup.status, 409);
  assert.match(dup.body, /is already in use by container/);
  const waitP = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
  const start = await d.api('POST', `/containers/${id}/start`);
  assert.equal(start.status, 204, start.body);
  const w = await waitP;
  assert.deepEqual(w.json(), { StatusCode: 3 });
  const insp = (await d.api('GET', `/containers/exit3/json`)).json() as Record<string, Record<string, unknown>>;
  assert.equal(insp['State']!['Status'], 'exited');
  assert.equal(insp['State']!['ExitCode'], 3);
  assert.equal(insp['Name'] as unknown, '/exit3');
  const logs = await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  assert.equal(logs.status, 200);
  const raw = Buffer.from(logs.body, 'latin1');
  // stdcopy frames: [1,0,0,0,len]"out\n" and [2,0,0,0,len]"err\n" (order by time)
  assert.ok(logs.body.includes('out\n') && logs.body.includes('err\n'), logs.body);
  assert.ok(raw[0] === 1 || raw[0] === 2);
  const ps = (await d.api('GET', '/containers/json?all=1&filters=' + encodeURIComponent('{"status":["exited"]}'))).json() as Array<Record<string, unknown>>;
  assert.ok(ps.some((c) => c['Id'] === id && /^Exited \(3\)/.test(c['Status'] as string)));
  assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
  assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
});

test('start of a missing executable fails with the runtime message and leaves no mount', async () => {
  const create = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['/nope'] });
  const id = (create.json() as { Id: string }).Id;
  const start = await d.api('POST', `/containers/${id}/start`);
  assert.equal(start.status, 500);
  assert.match(start.body, /no such file or directory|not found/);
  const insp = (await d.api('GET', `/containers/${id}/json`)).json() as Record<string, Record<string, unknown>>;
  assert.equal(insp['State']!['Status'], 'created');
  assert.equal(insp['State']!['ExitCode'], 127);
  const { readFileSync } = await import('node:fs');
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(id), 'no mount left for a failed start');
  assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
});

test('stop sends the stop signal and then SIGKILL after the timeout', async () => {
  const create = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'trap "" TERM; sleep 60'] });
  const id = (create.json() as { Id: string }).Id;
  await d.api('POST', `/containers/${id}/start`);
  const t0 = Date.now();
  assert.equal((await d.api('POST', `/containers/${id}/stop?t=1`)).status, 204);
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 10_000, `stop took ${took} ms`);
  const insp = (await d.api('GET', `/containers/${id}/json`)).json() as Record<string, Record<string, unknown>>;
  assert.equal(insp['State']!['ExitCode'], 137);
  assert.equal((await d.api('POST', `/containers/${id}/stop`)).status, 304);
  await d.api('DELETE', `/containers/${id}`);
});

test('AutoRemove containers are gone when wait?condition=removed answers', async () => {
  const create = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'exit 5'], HostConfig: { AutoRemove: true } });
  const id = (create.json() as { Id: string }).Id;
  const waitP = d.api('POST', `/containers/${id}/wait?condition=removed`);
  await d.api('POST', `/containers/${id}/start`);
  assert.deepEqual((await waitP).json(), { StatusCode: 5 });
  assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
});

test('importing something that is not a tar fails and leaves no image and no layer', async () => {
  const { readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const layersBefore = readdirSync(join(d.dataRoot, 'overlay2')).sort();
  const imagesBefore = ((await d.api('GET', '/images/json?all=1')).json() as unknown[]).length;
  const r = await d.api('POST', '/images/create?fromSrc=-&repo=broken&tag=1', 'this is not a tar archive at all, just text'.repeat(40));
  assert.ok(r.status >= 400, `status ${r.status}`);
  assert.equal(((await d.api('GET', '/images/json?all=1')).json() as unknown[]).length, imagesBefore);
  assert.equal((await d.api('GET', '/images/broken:1/json')).status, 404);
  assert.deepEqual(readdirSync(join(d.dataRoot, 'overlay2')).sort(), layersBefore);
  const bad = await d.api('POST', '/images/create?fromSrc=-&repo=Bad:Name', 'x');
  assert.equal(bad.status, 400);
});
