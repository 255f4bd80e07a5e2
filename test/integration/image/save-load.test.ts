import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { rawRequest, runToExit, tarMember, tarNames } from './image-helpers.js';

let d: TestDaemon;
let d2: TestDaemon;
let base: string;
let committed: string;
let work: string;

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** Layer dirs under the graph driver and tar layouts kept: what a failed load must not add to. */
function storeCounts(t: TestDaemon): { layers: number; splits: number; scratch: number } {
  const ov = join(t.dataRoot, 'overlay2');
  const vfs = join(t.dataRoot, 'vfs', 'dir');
  const layers = existsSync(ov) ? readdirSync(ov).filter((n) => n !== 'l' && !n.startsWith('.')).length : existsSync(vfs) ? readdirSync(vfs).length : 0;
  const sp = join(t.dataRoot, 'layerdb', 'tar-split');
  const tmp = join(t.dataRoot, 'layerdb', 'tmp');
  return {
    layers,
    splits: existsSync(sp) ? readdirSync(sp).length : 0,
    scratch: existsSync(tmp) ? readdirSync(tmp).length : 0,
  };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-saveload-'));
  d = await startTestDaemon();
  d2 = await startTestDaemon(['--storage-driver', 'vfs']); // the other driver: archives cross between them
  base = await importBusybox(d, 'busybox:latest');
  const c = await runToExit(d, 'busybox', ['sh', '-c', 'mkdir -p /app && echo saved > /app/data && ln -s /app/data /app/link && rm /bin/ls']);
  const r = await d.api('POST', `/commit?container=${c}&repo=app&tag=1`);
  committed = (r.json() as { Id: string }).Id;
  await d.api('POST', `/images/app:1/tag?repo=app&tag=2`);
});
after(async () => {
  try {
    await d?.destroy();
  } finally {
    await d2?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});

test('save writes the docker-archive layout, with layer tars that hash to the diff ids', async () => {
  const r = await rawRequest(d.socket, 'GET', '/images/get?names=app:1&names=busybox');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/x-tar');
  const names = tarNames(r.body);
  const manifest = JSON.parse(tarMember(r.body, 'manifest.json').toString()) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
  assert.equal(manifest.length, 2);
  const app = manifest.find((m) => m.RepoTags?.includes('app:1'))!;
  assert.equal(app.Config, `${committed.slice(7)}.json`);
  assert.equal(app.Layers.length, 2);
  const config = JSON.parse(tarMember(r.body, app.Config).toString()) as { rootfs: { diff_ids: string[] } };
  assert.equal(sha256(tarMember(r.body, app.Config)), committed);
  for (let i = 0; i < app.Layers.length; i++) {
    assert.equal(sha256(tarMember(r.body, app.Layers[i]!)), config.rootfs.diff_ids[i]);
    const dir = app.Layers[i]!.split('/')[0]!;
    assert.equal(tarMember(r.body, `${dir}/VERSION`).toString(), '1.0');
    assert.equal((JSON.parse(tarMember(r.body, `${dir}/json`).toString()) as { id: string }).id, dir);
  }
  // The base layer is shared: its content is written once, the other directory links to it.
  const layerTars = names.filter((n) => n.endsWith('/layer.tar'));
  const listing = execFileSync('tar', ['-tv'], { input: r.body, maxBuffer: 1 << 30 }).toString();
  assert.equal(listing.split('\n').filter((l) => l.includes('/layer.tar -> ../')).length, layerTars.length - 2);
  const repos = JSON.parse(tarMember(r.body, 'repositories').toString()) as Record<string, Record<string, string>>;
  assert.equal(repos['app']!['1'], app.Layers[1]!.split('/')[0]);
  assert.ok(repos['busybox']!['latest']);
  // Saving by bare repository takes every tag; by id, none.
  const all = await rawRequest(d.socket, 'GET', '/images/app/get');
  const m2 = JSON.parse(tarMember(all.body, 'manifest.json').toString()) as Array<{ RepoTags: string[] }>;
  assert.deepEqual(m2[0]!.RepoTags.sort(), ['app:1', 'app:2']);
  const byId = await rawRequest(d.socket, 'GET', `/images/get?names=${committed.slice(7, 19)}`);
  assert.equal((JSON.parse(tarMember(byId.body, 'manifest.json').toString()) as Array<{ RepoTags: unknown }>)[0]!.RepoTags, null);
  const missing = await rawRequest(d.socket, 'GET', '/images/get?names=nothere');
  assert.equal(missing.status, 404);
  assert.match(missing.text(), /No such image: nothere/);
});

test('berth save -o / load -i round trip into another daemon; the image runs there', async () => {
  const file = join(work, 'app.tar');
  const s = d.berth(['save', '-o', file, 'app:1', 'busybox:latest']);
  assert.equal(s.code, 0, s.stderr);
  const l = d2.berth(['load', '-i', file]);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^Loaded image: app:1$/m);
  assert.match(l.stdout, /^Loaded image: busybox:latest$/m);
  const insp = (await d2.api('GET', '/images/app:1/json')).json() as Record<string, any>;
  assert.equal(insp['Id'], committed);
  const run = d2.berth(['run', '--rm', 'app:1', 'sh', '-c', 'cat /app/link; ls /bin/ls 2>&1 || true']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^saved\n/);
  assert.match(run.stdout, /No such file/);
  // Loading the same archive again changes nothing and says so.
  const again = d2.berth(['load', '-q', '-i', file]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Loaded image: app:1/);
  // And what d2 saves is byte-identical in its layers (diff ids are kept exactly).
  const back = await rawRequest(d2.socket, 'GET', '/images/app:1/get');
  const m = JSON.parse(tarMember(back.body, 'manifest.json').toString()) as Array<{ Layers: string[] }>;
  assert.equal(sha256(tarMember(back.body, m[0]!.Layers[1]!)), insp['RootFS']['Layers'][1]);
  d2.berth(['rmi', 'app:1', 'busybox:latest']);
});

test('save of a missing image fails and leaves no partial file', async () => {
  const out = join(work, 'never.tar');
  const r = d.berth(['save', '-o', out, 'nothere']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /No such image: nothere/);
  assert.ok(!existsSync(out));
});

test('load takes gzip archives and stdin; quiet prints only the result', async () => {
  const r = await rawRequest(d.socket, 'GET', '/images/app:2/get');
  const gz = gzipSync(r.body);
  const res = await rawRequest(d2.socket, 'POST', '/images/load?quiet=1', gz);
  assert.equal(res.status, 200, res.text());
  const lines = res.text().trim().split('\r\n').map((x) => JSON.parse(x) as Record<string, unknown>);
  assert.deepEqual(lines, [{ stream: 'Loaded image: app:2\n' }]);
  const progress = await rawRequest(d2.socket, 'POST', '/images/load', r.body);
  assert.match(progress.text(), /Loaded image: app:2/);
  const cli = execFileSync(process.execPath, [join(process.env['BERTH_REPO'] ?? '.', 'bin/berth'), '-H', d2.host, 'load'], { input: r.body }).toString();
  assert.match(cli, /Loaded image: app:2/);
  d2.berth(['rmi', 'app:2']);
});

/** Builds an OCI image layout (gzip layers) from a docker-archive. */
function ociLayoutFrom(dockerTar: Buffer, name: string): Buffer {
  const dir = mkdtempSync(join(work, 'oci-'));
  const manifest = JSON.parse(tarMember(dockerTar, 'manifest.json').toString()) as Array<{ Config: string; Layers: string[] }>;
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const digest = sha256(b);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), b);
    return { digest, size: b.length };
  };
  const config = put(tarMember(dockerTar, manifest[0]!.Config));
  const layers = manifest[0]!.Layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gzipSync(tarMember(dockerTar, l))) }));
  const m = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': 'latest' } }],
  }));
  return execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 1 << 30 });
}

test('load reads OCI image layouts with gzip layers, names from annotations', async () => {
  const docker = (await rawRequest(d.socket, 'GET', '/images/app:1/get')).body;
  const oci = ociLayoutFrom(docker, 'docker.io/library/ociapp:7');
  const res = await rawRequest(d2.socket, 'POST', '/images/load?quiet=1', oci);
  assert.equal(res.status, 200, res.text());
  assert.match(res.text(), /Loaded image: ociapp:7/);
  const insp = (await d2.api('GET', '/images/ociapp:7/json')).json() as Record<string, any>;
  assert.equal(insp['Id'], committed);
  const run = d2.berth(['run', '--rm', 'ociapp:7', 'cat', '/app/data']);
  assert.equal(run.stdout, 'saved\n');
  d2.berth(['rmi', 'ociapp:7']);
});

test('a bad archive is refused and leaves nothing: wrong diff id, bad blob digest, no manifest', async () => {
  const before = storeCounts(d2);
  const imagesBefore = ((await d2.api('GET', '/images/json')).json() as unknown[]).length;
  const docker = (await rawRequest(d.socket, 'GET', '/images/app:1/get')).body;
  // Flip one byte inside the top layer's tar (a file's content): its digest no longer matches.
  const dir = mkdtempSync(join(work, 'bad-'));
  execFileSync('tar', ['-C', dir, '-x'], { input: docker });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
  const top = join(dir, manifest[0]!.Layers[1]!);
  const layer = readFileSync(top);
  const at = layer.indexOf(Buffer.from('saved\n'));
  assert.ok(at > 0);
  layer[at] = 'S'.charCodeAt(0);
  writeFileSync(top, layer);
  const bad = execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 1 << 30 });
  const r = await rawRequest(d2.socket, 'POST', '/images/load?quiet=1', bad);
  assert.equal(r.status, 400, r.text());
  assert.match(r.text(), /digest mismatch/);

  const oci = ociLayoutFrom(docker, 'docker.io/library/badoci:1');
  const odir = mkdtempSync(join(work, 'badoci-'));
  execFileSync('tar', ['-C', odir, '-x'], { input: oci });
  const blobs = readdirSync(join(odir, 'blobs', 'sha256'));
  // Corrupt the biggest blob (a gzip layer) without changing its name.
  const biggest = blobs.map((b) => ({ b, size: readFileSync(join(odir, 'blobs', 'sha256', b)).length })).sort((x, y) => y.size - x.size)[0]!.b;
  const p = join(odir, 'blobs', 'sha256', biggest);
  const content = readFileSync(p);
  content[content.length - 5] ^= 0xff;
  writeFileSync(p, content);
  const r2 = await rawRequest(d2.socket, 'POST', '/images/load?quiet=1', execFileSync('tar', ['-C', odir, '-c', '.'], { maxBuffer: 1 << 30 }));
  assert.equal(r2.status, 400, r2.text());
  assert.match(r2.text(), /digest mismatch/);

  const empty = await rawRequest(d2.socket, 'POST', '/images/load?quiet=1', execFileSync('tar', ['-c', '--files-from=/dev/null']));
  assert.equal(empty.status, 400);
  assert.match(empty.text(), /neither manifest.json nor index.json/);
  const junk = await rawRequest(d2.socket, 'POST', '/images/load', Buffer.from('this is not a tar archive at all, not even close'.repeat(20)));
  assert.equal(junk.status, 400);

  assert.deepEqual(storeCounts(d2), before);
  assert.equal(((await d2.api('GET', '/images/json')).json() as unknown[]).length, imagesBefore);
  assert.equal((await d2.api('GET', '/images/badoci:1/json')).status, 404);
});

test('diff and commit work on vfs too, and the commit saves with exact layer tars', async () => {
  await importBusybox(d2, 'busybox:vfs');
  const id = await runToExit(d2, 'busybox:vfs', ['sh', '-c', 'echo v > /vfsfile; rm /bin/ls']);
  const changes = (await d2.api('GET', `/containers/${id}/changes`)).json() as Array<{ Path: string; Kind: number }>;
  assert.deepEqual(changes.filter((c) => c.Path !== '/bin' && c.Path !== '/'), [{ Path: '/bin/ls', Kind: 2 }, { Path: '/vfsfile', Kind: 1 }]);
  const r = await d2.api('POST', `/commit?container=${id}&repo=vfscommit`);
  assert.equal(r.status, 201, r.body);
  const run = d2.berth(['run', '--rm', 'vfscommit', 'cat', '/vfsfile']);
  assert.equal(run.stdout, 'v\n');
  const saved = await rawRequest(d2.socket, 'GET', '/images/vfscommit/get');
  const m = JSON.parse(tarMember(saved.body, 'manifest.json').toString()) as Array<{ Layers: string[] }>;
  const insp = (await d2.api('GET', '/images/vfscommit/json')).json() as { RootFS: { Layers: string[] } };
  assert.deepEqual(m[0]!.Layers.map((l) => sha256(tarMember(saved.body, l))), insp.RootFS.Layers);
  await d2.api('DELETE', `/containers/${id}`);
});

test('save and export refuse to write an archive to a terminal', () => {
  const berth = join(process.env['BERTH_REPO'] ?? '.', 'bin/berth');
  for (const args of [['save', 'busybox'], ['export', 'anything']]) {
    // `script` runs the CLI with its stdout on a pseudo-terminal.
    const r = execFileSync('script', ['-qec', `${process.execPath} ${berth} -H ${d.host} ${args.join(' ')}; echo "exit=$?"`, '/dev/null'], { encoding: 'utf8' });
    assert.match(r, /cowardly refusing to save to a terminal\. Use the -o flag or redirect/);
    assert.match(r, /exit=1/);
  }
});
