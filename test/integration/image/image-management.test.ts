import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestDaemon, importBusybox, busyboxRootfsTar, type TestDaemon } from '../../helpers/daemon-harness.js';
import { runToExit } from './image-helpers.js';

let d: TestDaemon;
let server: ChildProcess;
let url: string;

/** The file server runs in its own process: the CLI is run synchronously from this one. */
const SERVER = `
const { createServer } = require('node:http');
const { readFileSync } = require('node:fs');
const tar = readFileSync(process.argv[1]);
const s = createServer((req, res) => {
  if (req.url === '/rootfs.tar') { res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length }); res.end(tar); }
  else if (req.url === '/moved') { res.writeHead(302, { Location: '/rootfs.tar' }); res.end(); }
  else { res.writeHead(404); res.end('no'); }
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
  server = spawn(process.execPath, ['-e', SERVER, busyboxRootfsTar()], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => server.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim())));
  url = `http://127.0.0.1:${port}`;
});
after(async () => {
  await d?.destroy();
  server?.kill();
});

test('import from a URL (following redirects), with --change, -m and --platform', async () => {
  const r = d.berth(['import', '-m', 'from the web', '-c', 'CMD ["echo","hello from url"]', '--platform', 'linux/amd64', `${url}/moved`, 'fromurl:1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}$/m);
  const insp = (await d.api('GET', '/images/fromurl:1/json')).json() as Record<string, any>;
  assert.equal(insp['Comment'], 'from the web');
  assert.deepEqual(insp['Config']['Cmd'], ['echo', 'hello from url']);
  const run = d.berth(['run', '--rm', 'fromurl:1']);
  assert.equal(run.stdout, 'hello from url\n');
  const bad = d.berth(['import', `${url}/missing`, 'nope:1']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /404/);
  assert.equal((await d.api('GET', '/images/nope:1/json')).status, 404);
});

test('image inspect carries the fields clients read', async () => {
  const insp = (await d.api('GET', '/v1.41/images/busybox/json')).json() as Record<string, any>;
  for (const k of ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'Container', 'ContainerConfig', 'DockerVersion', 'Author', 'Config', 'Architecture', 'Os', 'Size', 'VirtualSize', 'GraphDriver', 'RootFS', 'Metadata']) {
    assert.ok(k in insp, k);
  }
  assert.deepEqual(insp['RepoDigests'], []);
  assert.equal(insp['RootFS']['Type'], 'layers');
  assert.equal(insp['RootFS']['Layers'].length, 1);
  assert.ok(insp['GraphDriver']['Name']);
  assert.ok(insp['GraphDriver']['Data'] === null || typeof insp['GraphDriver']['Data'] === 'object');
  assert.match(insp['Metadata']['LastTagTime'], /^\d{4}-/);
  const id = await runToExit(d, 'busybox', ['true']);
  const c = (await d.api('POST', `/commit?container=${id}&repo=child`)).json() as { Id: string };
  const child = (await d.api('GET', `/images/${c.Id}/json`)).json() as Record<string, any>;
  assert.equal(child['Parent'], insp['Id']);
  assert.ok(!('VirtualSize' in ((await d.api('GET', '/v1.44/images/busybox/json')).json() as object)));
});

test('images filters: dangling, reference, label, before, since, until', async () => {
  const list = async (f: Record<string, string[]>): Promise<string[]> => {
    const r = await d.api('GET', `/images/json?filters=${encodeURIComponent(JSON.stringify(f))}`);
    assert.equal(r.status, 200, r.body);
    return (r.json() as Array<{ RepoTags: string[] }>).flatMap((i) => i.RepoTags);
  };
  const id = await runToExit(d, 'busybox', ['true']);
  await d.api('POST', `/commit?container=${id}&changes=${encodeURIComponent('LABEL stage=test')}`);
  await new Promise((r) => setTimeout(r, 1100));
  await d.api('POST', `/commit?container=${id}&repo=labelled&tag=x&changes=${encodeURIComponent('LABEL stage=prod')}`);
  const danglingCount = ((await d.api('GET', `/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}`)).json() as unknown[]).length;
  assert.ok(danglingCount >= 1);
  assert.ok(!(await list({ dangling: ['true'] })).includes('busybox:latest'));
  assert.ok((await list({ dangling: ['false'] })).includes('busybox:latest'));
  assert.deepEqual(await list({ reference: ['label*'] }), ['labelled:x']);
  assert.deepEqual(await list({ label: ['stage=prod'] }), ['labelled:x']);
  assert.ok(!(await list({ before: ['labelled:x'] })).includes('labelled:x'));
  assert.deepEqual(await list({ since: ['fromurl:1'] }).then((l) => l.includes('labelled:x')), true);
  assert.ok(!(await list({ until: ['1h'] })).includes('labelled:x'));
  assert.ok((await list({ until: [String(Math.floor(Date.now() / 1000) + 60)] })).includes('labelled:x'));
  assert.equal((await d.api('GET', `/images/json?filters=${encodeURIComponent('{"until":["nonsense"]}')}`)).status, 400);
  assert.equal((await d.api('GET', `/images/json?filters=${encodeURIComponent('{"bogus":["x"]}')}`)).status, 400);
});

test('image prune: dangling by default, -a, label and until filters, the prompt and the report', async () => {
  // Everything created in the earlier tests is in use by stopped containers: remove them first.
  for (const c of (await d.api('GET', '/containers/json?all=1')).json() as Array<{ Id: string }>) await d.api('DELETE', `/containers/${c.Id}?force=1`);
  const id = await runToExit(d, 'busybox', ['sh', '-c', 'head -c 200000 /dev/urandom > /blob']);
  const dangling = ((await d.api('POST', `/commit?container=${id}`)).json() as { Id: string }).Id;
  const id2 = await runToExit(d, 'busybox', ['sh', '-c', 'head -c 200000 /dev/urandom > /blob']);
  await d.api('POST', `/commit?container=${id2}&repo=keepme&changes=${encodeURIComponent('LABEL keep=yes')}`);
  await d.api('DELETE', `/containers/${id}?force=1`);
  await d.api('DELETE', `/containers/${id2}?force=1`);
  // Without -f the prompt is shown; "n" cancels.
  const cancelled = d.berth(['image', 'prune'], { input: 'n\n' });
  assert.equal(cancelled.code, 0);
  assert.match(cancelled.stdout, /WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\] /);
  assert.equal((await d.api('GET', `/images/${dangling}/json`)).status, 200);
  const r = d.berth(['image', 'prune'], { input: 'y\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Deleted Images:\\ndeleted: ${dangling}`));
  assert.match(r.stdout, /Total reclaimed space: 2\d\d(\.\d+)?kB/);
  assert.equal((await d.api('GET', `/images/${dangling}/json`)).status, 404);
  assert.equal((await d.api('GET', '/images/keepme/json')).status, 200);
  // -a with a label filter that excludes keepme, then one that matches it.
  const none = d.berth(['image', 'prune', '-a', '-f', '--filter', 'label!=keep=yes', '--filter', 'until=1h']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal((await d.api('GET', '/images/keepme/json')).status, 200);
  const api = await d.api('POST', `/images/prune?filters=${encodeURIComponent(JSON.stringify({ dangling: ['false'], label: ['keep=yes'] }))}`);
  assert.equal(api.status, 200);
  const report = api.json() as { ImagesDeleted: Array<Record<string, string>>; SpaceReclaimed: number };
  assert.deepEqual(report.ImagesDeleted[0], { Untagged: 'keepme:latest' });
  assert.ok(report.ImagesDeleted.some((x) => x['Deleted']));
  assert.ok(report.SpaceReclaimed > 190_000);
  // An image a container uses is never pruned.
  await runToExit(d, 'busybox', ['true']);
  const all = (await d.api('POST', `/images/prune?filters=${encodeURIComponent('{"dangling":["false"]}')}`)).json() as { ImagesDeleted: Array<Record<string, string>> | null };
  assert.ok(!(all.ImagesDeleted ?? []).some((x) => x['Untagged'] === 'busybox:latest'));
  assert.equal((await d.api('GET', '/images/busybox/json')).status, 200);
  const empty = d.berth(['image', 'prune', '-f']);
  assert.equal(empty.stdout, 'Total reclaimed space: 0B\n');
});

test('system df: images, containers, volumes, build cache; berth system df and -v', async () => {
  assert.equal((await d.api('POST', '/volumes/create', { Name: 'dfvol' })).status, 201);
  const c = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'head -c 30000 /dev/zero > /data/z'], HostConfig: { Binds: ['dfvol:/data'] } })).json() as { Id: string };
  await d.api('POST', `/containers/${c.Id}/start`);
  await d.api('POST', `/containers/${c.Id}/wait`);
  const r = await d.api('GET', '/system/df');
  assert.equal(r.status, 200);
  const du = r.json() as Record<string, any>;
  assert.ok(du['LayersSize'] > 1_000_000);
  const bb = (du['Images'] as Array<Record<string, any>>).find((i) => (i['RepoTags'] as string[]).includes('busybox:latest'))!;
  assert.ok(bb['Containers'] >= 1);
  assert.equal(typeof bb['SharedSize'], 'number');
  assert.ok((du['Containers'] as Array<Record<string, any>>).every((c) => typeof c['SizeRw'] === 'number'));
  const vol = (du['Volumes'] as Array<Record<string, any>>).find((v) => v['Name'] === 'dfvol')!;
  assert.deepEqual(vol['UsageData'], { Size: 30000, RefCount: 1 });
  assert.match(vol['Mountpoint'], /dfvol\/_data$/);
  assert.deepEqual(du['BuildCache'], []);
  const only = (await d.api('GET', '/system/df?type=image')).json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(only).sort(), ['Images', 'LayersSize']);
  const cli = d.berth(['system', 'df']);
  assert.equal(cli.code, 0, cli.stderr);
  const lines = cli.stdout.trim().split('\n');
  assert.match(lines[0]!, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
  assert.match(lines[1]!, /^Images\s+\d+\s+\d+\s+[\d.]+[kMG]?B\s+[\d.]+[kMG]?B \(\d+%\)$/);
  assert.match(lines[2]!, /^Containers\s+\d+\s+0\s+/);
  assert.match(lines[3]!, /^Local Volumes\s+1\s+1\s+30kB\s+0B \(0%\)$/);
  assert.match(lines[4]!, /^Build Cache\s+0\s+0\s+0B\s+0B$/);
  const fmt = d.berth(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
  assert.equal(fmt.code, 0, fmt.stderr);
  assert.match(fmt.stdout, /^Images=\d+\nContainers=\d+\nLocal Volumes=1\nBuild Cache=0\n$/);
  const json = d.berth(['system', 'df', '--format', 'json']);
  assert.equal((JSON.parse(json.stdout.split('\n')[2]!) as Record<string, string>)['Type'], 'Local Volumes');
  const v = d.berth(['system', 'df', '-v']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /Images space usage:\n\nREPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS\nbusybox\s+latest/);
  assert.match(v.stdout, /Containers space usage:\n\nCONTAINER ID\s+IMAGE\s+COMMAND/);
  assert.match(v.stdout, /Local Volumes space usage:\n\nVOLUME NAME\s+LINKS\s+SIZE\ndfvol\s+1\s+30kB/);
  assert.match(v.stdout, /Build cache usage: 0B/);
});
