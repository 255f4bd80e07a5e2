import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { rawRequest, runToExit, tarMember, tarNames } from './image-helpers.js';

let d: TestDaemon;
let base: string;

before(async () => {
  d = await startTestDaemon();
  base = await importBusybox(d, 'busybox:latest');
});
after(async () => { await d?.destroy(); });

test('diff lists the read-write layer as Docker: A/C/D, engine-mounted files left out', async () => {
  const id = await runToExit(d, 'busybox', ['sh', '-c', 'mkdir /newdir && echo hi > /newdir/f && echo x > /tmp/t && rm /bin/ls']);
  const r = await d.api('GET', `/containers/${id}/changes`);
  assert.equal(r.status, 200);
  const changes = r.json() as Array<{ Path: string; Kind: number }>;
  const byPath = new Map(changes.map((c) => [c.Path, c.Kind]));
  assert.equal(byPath.get('/newdir'), 1);
  assert.equal(byPath.get('/newdir/f'), 1);
  assert.equal(byPath.get('/tmp'), 0);
  assert.equal(byPath.get('/tmp/t'), 1);
  assert.equal(byPath.get('/bin/ls'), 2);
  for (const p of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/etc']) assert.ok(!byPath.has(p), `${p} must not be listed`);
  const cli = d.berth(['diff', id]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^A \/newdir$/m);
  assert.match(cli.stdout, /^C \/tmp$/m);
  assert.match(cli.stdout, /^D \/bin\/ls$/m);
  const untouched = await runToExit(d, 'busybox', ['true']);
  assert.equal((await d.api('GET', `/containers/${untouched}/changes`)).body.trim(), 'null');
  assert.equal((await d.api('GET', '/containers/nope/changes')).status, 404);
});

test('commit makes an image of parent layers + changes, with config, history and Docker fields', async () => {
  const id = await runToExit(d, 'busybox', ['sh', '-c', 'echo committed > /hello']);
  const r = await d.api('POST', `/commit?container=${id}&repo=committed&tag=v1&comment=my%20msg&author=me&changes=${encodeURIComponent('ENV FOO=bar')}&changes=${encodeURIComponent('CMD ["cat","/hello"]')}`, { Labels: { a: 'b' } });
  assert.equal(r.status, 201, r.body);
  const newId = (r.json() as { Id: string }).Id;
  assert.match(newId, /^sha256:[0-9a-f]{64}$/);
  const insp = (await d.api('GET', '/images/committed:v1/json')).json() as Record<string, any>;
  assert.equal(insp['Id'], newId);
  assert.equal(insp['Author'], 'me');
  assert.equal(insp['Comment'], 'my msg');
  assert.equal(insp['Container'], id);
  assert.deepEqual(insp['Config']['Cmd'], ['cat', '/hello']);
  assert.ok((insp['Config']['Env'] as string[]).includes('FOO=bar'));
  assert.deepEqual(insp['Config']['Labels'], { a: 'b' });
  assert.deepEqual(insp['ContainerConfig']['Cmd'], ['sh', '-c', 'echo committed > /hello']);
  const parent = (await d.api('GET', `/images/${base}/json`)).json() as Record<string, any>;
  assert.equal(insp['RootFS']['Layers'].length, 2);
  assert.equal(insp['RootFS']['Layers'][0], parent['RootFS']['Layers'][0]);
  const hist = (await d.api('GET', '/images/committed:v1/history')).json() as Array<Record<string, any>>;
  assert.equal(hist.length, 2);
  assert.equal(hist[0]!['CreatedBy'], 'sh -c echo committed > /hello');
  assert.equal(hist[0]!['Comment'], 'my msg');
  assert.ok(hist[0]!['Size'] > 0 && hist[0]!['Size'] < 1000);
  // The new image runs and sees the committed file; the engine's mount points were not committed.
  const run = d.berth(['run', '--rm', 'committed:v1']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'committed\n');
  const ls = d.berth(['run', '--rm', 'committed:v1', 'sh', '-c', 'echo $FOO']);
  assert.equal(ls.stdout, 'bar\n');
});

test('berth commit: -m, -a, -c, REPO:TAG, prints the id; an empty commit adds the empty layer', async () => {
  const id = await runToExit(d, 'busybox', ['true']);
  const r = d.berth(['commit', '-m', 'nothing', '-a', 'someone', '-c', 'WORKDIR /srv', '-c', 'EXPOSE 8080', '-c', 'USER nobody', '-c', 'VOLUME /data', '-c', 'ENTRYPOINT ["/bin/sh"]', '-c', 'LABEL x=y', id, 'emptycommit']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const insp = (await d.api('GET', '/images/emptycommit/json')).json() as Record<string, any>;
  assert.equal(insp['Config']['WorkingDir'], '/srv');
  assert.equal(insp['Config']['User'], 'nobody');
  assert.deepEqual(insp['Config']['ExposedPorts'], { '8080/tcp': {} });
  assert.deepEqual(insp['Config']['Volumes'], { '/data': {} });
  assert.deepEqual(insp['Config']['Entrypoint'], ['/bin/sh']);
  assert.equal(insp['Config']['Labels']['x'], 'y');
  // Docker's diff id of an empty layer tar (1024 zero bytes).
  assert.equal(insp['RootFS']['Layers'][1], 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
  const bad = d.berth(['commit', '-c', 'RUN true', id]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /RUN is not a valid change command/);
  assert.equal((await d.api('POST', '/commit?container=nope')).status, 404);
});

test('commit --pause freezes a running container and lets it run on', async () => {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo running > /state; sleep 60'] });
  const id = (c.json() as { Id: string }).Id;
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Math.floor(Date.now() / 1000) - 1;
  const r = d.berth(['commit', id, 'livecommit']);
  assert.equal(r.code, 0, r.stderr);
  // As with Docker, the container is paused for the commit: pause, commit, unpause events.
  const ev = await d.api('GET', `/events?since=${t0}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: [id] }))}`);
  const actions = ev.body.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { Action: string }).Action);
  assert.deepEqual(actions.filter((a) => ['pause', 'commit', 'unpause'].includes(a)), ['pause', 'commit', 'unpause']);
  const st = (await d.api('GET', `/containers/${id}/json`)).json() as Record<string, any>;
  assert.equal(st['State']['Status'], 'running');
  const run = d.berth(['run', '--rm', 'livecommit', 'cat', '/state']);
  assert.equal(run.stdout, 'running\n');
  const nopause = d.berth(['commit', '--pause=false', id]);
  assert.equal(nopause.code, 0, nopause.stderr);
  await d.api('DELETE', `/containers/${id}?force=1`);
});

test('export streams the whole filesystem; berth export -o writes it', async () => {
  const id = await runToExit(d, 'busybox', ['sh', '-c', 'echo exported > /marker']);
  const r = await rawRequest(d.socket, 'GET', `/containers/${id}/export`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/x-tar');
  const names = tarNames(r.body);
  assert.ok(names.includes('marker'));
  assert.ok(names.includes('bin/busybox'));
  assert.equal(tarMember(r.body, 'marker').toString(), 'exported\n');
  const out = `${d.root}/export.tar`;
  const cli = d.berth(['export', '-o', out, id]);
  assert.equal(cli.code, 0, cli.stderr);
  const { readFileSync } = await import('node:fs');
  assert.ok(tarNames(readFileSync(out)).includes('marker'));
  // The stopped container's rootfs is unmounted again after the export.
  // (the unmount follows the end of the stream, so give it a moment)
  let mounted = true;
  for (let i = 0; i < 100 && mounted; i++) {
    mounted = readFileSync('/proc/mounts', 'utf8').includes(`${id}/merged`);
    if (mounted) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(mounted, false);
});
