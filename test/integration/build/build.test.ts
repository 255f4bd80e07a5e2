import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
const dirs: string[] = [];

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
});
after(async () => {
  for (const x of dirs) rmSync(x, { recursive: true, force: true });
  await d?.destroy();
});

function context(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-buildctx-'));
  dirs.push(root);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    if (c.startsWith('->')) symlinkSync(c.slice(2), join(root, p));
    else writeFileSync(join(root, p), c);
  }
  return root;
}

interface Msg { stream?: string; aux?: { ID: string }; error?: string; errorDetail?: { message: string; code?: number } }

async function build(dir: string, query = ''): Promise<{ status: number; msgs: Msg[]; text: string; id?: string; error?: Msg['errorDetail'] }> {
  const tar = execFileSync('tar', ['-c', '-C', dir, '.'], { maxBuffer: 64 << 20 });
  const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path: `/v1.44/build?${query}`, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(tar);
  });
  if (r.status !== 200) return { status: r.status, msgs: [], text: r.body, error: { message: (JSON.parse(r.body) as { message: string }).message } };
  const msgs = r.body.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Msg);
  const text = msgs.map((m) => m.stream ?? '').join('');
  const out: { status: number; msgs: Msg[]; text: string; id?: string; error?: Msg['errorDetail'] } = { status: r.status, msgs, text };
  const aux = msgs.find((m) => m.aux);
  if (aux) out.id = aux.aux!.ID;
  const err = msgs.find((m) => m.errorDetail);
  if (err) out.error = err.errorDetail!;
  return out;
}

async function runImage(image: string, cmd?: string[]): Promise<string> {
  const args = ['run', '--rm', image, ...(cmd ?? [])];
  const r = d.berth(args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function inspect(image: string): Promise<{ Id: string; Config: Record<string, unknown>; RootFS: { Layers: string[] } }> {
  const r = await d.api('GET', `/images/${image}/json`);
  assert.equal(r.status, 200, r.body);
  return r.json() as { Id: string; Config: Record<string, unknown>; RootFS: { Layers: string[] } };
}

async function containerCount(): Promise<number> {
  return ((await d.api('GET', '/containers/json?all=1')).json() as unknown[]).length;
}

test('multi-stage: compile with busybox tools, copy the result into a FROM scratch image, run it', async () => {
  const dir = context({
    'Dockerfile': [
      'ARG BASE=busybox',
      'FROM $BASE AS build',
      'WORKDIR /src',
      'COPY greet.txt .',
      'RUN mkdir -p /out && tr a-z A-Z < greet.txt > /out/greeting && cp /bin/busybox /out/busybox',
      'FROM scratch',
      'COPY --from=build /out/ /',
      'CMD ["/busybox", "cat", "/greeting"]',
    ].join('\n'),
    'greet.txt': 'hello builder\n',
  });
  const r = await build(dir, 't=berth-ms:1&t=berth-ms:latest');
  assert.equal(r.error, undefined, r.text);
  assert.match(r.text, /^Step 1\/7 : FROM \$BASE AS build\n ---> [0-9a-f]{12}\n/);
  assert.match(r.text, /Step 4\/7 : RUN mkdir/);
  assert.match(r.text, / ---> Running in [0-9a-f]{12}\n/);
  assert.match(r.text, /Removing intermediate container [0-9a-f]{12}\n/);
  assert.match(r.text, /Step 5\/7 : FROM scratch\n ---> \n/);
  assert.match(r.text, /Successfully built [0-9a-f]{12}\nSuccessfully tagged berth-ms:1\nSuccessfully tagged berth-ms:latest\n$/);
  assert.match(r.id!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await runImage('berth-ms:1'), 'HELLO BUILDER\n');
  const info = await inspect('berth-ms:1');
  assert.equal(info.Id, r.id);
  assert.equal(info.RootFS.Layers.length, 1);
  assert.equal(await containerCount(), 0, 'no build containers left behind');
  // Intermediate images are not left behind as dangling images.
  const all = (await d.api('GET', '/images/json')).json() as Array<{ RepoTags: string[] | null }>;
  assert.ok(all.every((i) => i.RepoTags && i.RepoTags.length > 0 && !i.RepoTags.includes('<none>:<none>')), JSON.stringify(all));
  const hist = (await d.api('GET', '/images/berth-ms:1/history')).json() as Array<{ CreatedBy: string }>;
  assert.match(hist[0]!.CreatedBy, /^\/bin\/sh -c #\(nop\)  CMD \["\/busybox" "cat" "\/greeting"\]$/);
  assert.match(hist[1]!.CreatedBy, /^\/bin\/sh -c #\(nop\) COPY --from=build dir:[0-9a-f]{64} in \/ $/);
});

test('rebuilds hit the cache; a changed file invalidates from its COPY on', async () => {
  const files = {
    'Dockerfile': 'FROM busybox\nENV A=1\nRUN echo one > /one\nCOPY f.txt /f.txt\nRUN cat /f.txt /one > /both\n',
    'f.txt': 'v1\n',
  };
  const dir = context(files);
  const first = await build(dir, 't=berth-cache');
  assert.equal(first.error, undefined, first.text);
  assert.doesNotMatch(first.text, /Using cache/);
  const second = await build(dir, 't=berth-cache');
  assert.equal(second.id, first.id);
  assert.equal((second.text.match(/ ---> Using cache\n/g) ?? []).length, 4);
  assert.doesNotMatch(second.text, /Running in/);
  writeFileSync(join(dir, 'f.txt'), 'v2\n');
  const third = await build(dir, 't=berth-cache');
  assert.notEqual(third.id, first.id);
  assert.equal((third.text.match(/ ---> Using cache\n/g) ?? []).length, 2);
  assert.equal(await runImage('berth-cache', ['cat', '/both']), 'v2\none\n');
  const nocache = await build(dir, 't=berth-cache&nocache=1');
  assert.doesNotMatch(nocache.text, /Using cache/);
  // The cache survives a daemon restart.
  await d.stop();
  await d.restart();
  const again = await build(dir, 't=berth-cache');
  assert.equal((again.text.match(/ ---> Using cache\n/g) ?? []).length, 4);
});

test('--target builds the target and only the stages it needs', async () => {
  const dir = context({
    'Dockerfile': [
      'FROM busybox AS base', 'RUN echo base > /base',
      'FROM busybox AS broken', 'RUN exit 7',
      'FROM base AS app', 'RUN cat /base > /app',
      'FROM busybox', 'RUN exit 9',
    ].join('\n'),
  });
  const r = await build(dir, 'target=app&t=berth-target');
  assert.equal(r.error, undefined, r.text);
  assert.match(r.text, /Step 4\/4 : RUN cat \/base > \/app/);
  assert.doesNotMatch(r.text, /exit 7|exit 9/);
  assert.equal(await runImage('berth-target', ['cat', '/app']), 'base\n');
  const bad = await build(dir, 'target=nope');
  assert.match(bad.error!.message, /failed to reach build target nope in Dockerfile/);
});

test('ONBUILD triggers run in the child build', async () => {
  const parent = context({ 'Dockerfile': 'FROM busybox\nONBUILD COPY hello.txt /from-child.txt\nONBUILD RUN echo triggered > /trig\n' });
  const p = await build(parent, 't=berth-onbuild-parent');
  assert.equal(p.error, undefined, p.text);
  assert.deepEqual((await inspect('berth-onbuild-parent')).Config['OnBuild'], ['COPY hello.txt /from-child.txt', 'RUN echo triggered > /trig']);
  const child = context({ 'Dockerfile': 'FROM berth-onbuild-parent\nCMD ["cat", "/trig", "/from-child.txt"]\n', 'hello.txt': 'hi child\n' });
  const c = await build(child, 't=berth-onbuild-child');
  assert.equal(c.error, undefined, c.text);
  assert.match(c.text, /# Executing 2 build triggers\n/);
  assert.equal(await runImage('berth-onbuild-child'), 'triggered\nhi child\n');
  assert.equal((await inspect('berth-onbuild-child')).Config['OnBuild'], null);
});

test('COPY semantics: files, directories, globs, heredocs, --chown, --chmod, .dockerignore', async () => {
  const dir = context({
    'Dockerfile': [
      'FROM busybox',
      'WORKDIR /w',
      'COPY a.txt /file-as-path',
      'COPY a.txt b.txt /multi/',
      'COPY *.md /docs/',
      'COPY dir /copied',
      'COPY dir /copied-into/dir',
      'COPY --chown=1:2 --chmod=600 a.txt rel/',
      'COPY --chown=nobody:nogroup a.txt /owned',
      'COPY . /ctx/',
      'COPY <<EOF /here.txt',
      'made by heredoc',
      'EOF',
      'ADD arch.tar.gz /unpacked/',
      'RUN ls /docs /copied /copied-into/dir /unpacked > /listing && stat -c "%u:%g %a" /w/rel/a.txt /owned >> /listing && ls -a /ctx >> /listing && cat /here.txt >> /listing',
    ].join('\n'),
    '.dockerignore': 'secret*\n*.log\nsub\n!sub/keep\n',
    'a.txt': 'a', 'b.txt': 'b', 'x.md': 'x', 'y.md': 'y', 'dir/inner/f': 'f', 'dir/g': 'g',
    'secret.key': 'no', 'debug.log': 'no', 'sub/drop': 'no', 'sub/keep': 'yes',
  });
  mkdirSync(join(dir, 'arch'));
  writeFileSync(join(dir, 'arch', 'packed.txt'), 'packed');
  execFileSync('tar', ['-czf', join(dir, 'arch.tar.gz'), '-C', join(dir, 'arch'), 'packed.txt']);
  rmSync(join(dir, 'arch'), { recursive: true });
  const r = await build(dir, 't=berth-copy');
  assert.equal(r.error, undefined, r.text);
  const listing = await runImage('berth-copy', ['cat', '/listing']);
  assert.equal(listing, [
    '/copied:', 'g', 'inner', '',
    '/copied-into/dir:', 'g', 'inner', '',
    '/docs:', 'x.md', 'y.md', '',
    '/unpacked:', 'packed.txt',
    '1:2 600', '65534:65534 644',
    '.', '..', '.dockerignore', 'Dockerfile', 'a.txt', 'arch.tar.gz', 'b.txt', 'dir', 'sub', 'x.md', 'y.md',
    'made by heredoc', '',
  ].join('\n'));
  assert.equal(await runImage('berth-copy', ['cat', '/file-as-path', '/multi/b.txt', '/ctx/sub/keep']), 'abyes');
});

test('image config matches the Dockerfile', async () => {
  const dir = context({
    'Dockerfile': [
      'FROM --platform=$BUILDPLATFORM busybox',
      'ARG VERSION=1.0',
      'ARG TARGETARCH',
      'RUN test -n "$TARGETARCH"',
      'ENV APP_VERSION=$VERSION PATH=/app/bin:$PATH',
      'LABEL org.example.version="${VERSION}" maintainer="me"',
      'EXPOSE 8080 53/udp',
      'VOLUME /data',
      'WORKDIR /app',
      'WORKDIR sub',
      'USER nobody',
      'STOPSIGNAL SIGQUIT',
      'HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1',
      'SHELL ["/bin/sh", "-ec"]',
      'ONBUILD RUN echo child',
      'ENTRYPOINT ["/bin/echo"]',
      'CMD ["hello"]',
    ].join('\n'),
  });
  const r = await build(dir, `t=berth-config&buildargs=${encodeURIComponent(JSON.stringify({ VERSION: '2.0', UNUSED: 'x' }))}&labels=${encodeURIComponent(JSON.stringify({ extra: 'yes' }))}`);
  assert.equal(r.error, undefined, r.text);
  assert.match(r.text, /\[Warning\] One or more build-args \[UNUSED\] were not consumed\n/);
  const c = (await inspect('berth-config')).Config;
  assert.deepEqual(c['Env'], ['PATH=/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'APP_VERSION=2.0']);
  assert.deepEqual(c['Labels'], { 'org.example.version': '2.0', maintainer: 'me', extra: 'yes' });
  assert.deepEqual(c['ExposedPorts'], { '8080/tcp': {}, '53/udp': {} });
  assert.deepEqual(c['Volumes'], { '/data': {} });
  assert.equal(c['WorkingDir'], '/app/sub');
  assert.equal(c['User'], 'nobody');
  assert.equal(c['StopSignal'], 'SIGQUIT');
  assert.deepEqual(c['Healthcheck'], { Test: ['CMD-SHELL', 'wget -q localhost || exit 1'], Interval: 5e9, Retries: 2 });
  assert.deepEqual(c['Shell'], ['/bin/sh', '-ec']);
  assert.deepEqual(c['OnBuild'], ['RUN echo child']);
  assert.deepEqual(c['Entrypoint'], ['/bin/echo']);
  assert.deepEqual(c['Cmd'], ['hello']);
  assert.equal(await runImage('berth-config'), 'hello\n');
});

test('errors: file:line syntax errors, failing RUN with its code, sources outside the context', async () => {
  const syntax = await build(context({ 'Dockerfile': 'FROM busybox\n# c\nRUNN x\n' }));
  assert.equal(syntax.status, 400, 'a syntax error is found before the stream starts');
  assert.equal(syntax.error!.message, 'Dockerfile:3: unknown instruction: RUNN');
  const before = await containerCount();
  const failing = await build(context({ 'Dockerfile': 'FROM busybox\nRUN echo about to fail && exit 3\n' }));
  assert.match(failing.text, /about to fail\n/);
  assert.equal(failing.error!.message, "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3");
  assert.equal(failing.error!.code, 3);
  assert.equal(await containerCount(), before, 'the failed step leaves no container');
  const outside = await build(context({ 'Dockerfile': 'FROM busybox\nCOPY ../etc/passwd /x\n' }));
  assert.match(outside.error!.message, /COPY failed: forbidden path outside the build context: \.\.\/etc\/passwd/);
  const link = await build(context({ 'Dockerfile': 'FROM busybox\nCOPY out /x\n', 'out': '->../../../../../etc' }));
  assert.match(link.error!.message, /forbidden path outside the build context/);
  const missing = await build(context({ 'Dockerfile': 'FROM busybox\nCOPY nope /x\n' }));
  assert.match(missing.error!.message, /COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist/);
  // A missing base is pulled: from a registry that is not there, the pull's error ends the build.
  const noImage = await build(context({ 'Dockerfile': 'FROM 127.0.0.1:1/nosuchimage:1\n' }));
  assert.match(noImage.error!.message, /Get "https?:\/\/127\.0\.0\.1:1\/v2\/": .*ECONNREFUSED/);
  const buildkit = await build(context({ 'Dockerfile': 'FROM busybox\n' }), 'version=2');
  assert.equal(buildkit.status, 400);
  assert.match(buildkit.error!.message, /buildkit not supported by daemon/);
  const badTag = await build(context({ 'Dockerfile': 'FROM busybox\n' }), 't=Bad%20Tag');
  assert.equal(badTag.status, 400);
  const platform = await build(context({ 'Dockerfile': 'FROM busybox\n' }), 'platform=linux/s390x');
  assert.equal(platform.status, 400);
  assert.match(platform.text, /not supported/);
  const secret = await build(context({ 'Dockerfile': 'FROM busybox\nRUN --mount=type=secret,id=x cat /run/secrets/x\n' }));
  assert.match(secret.error!.message, /RUN --mount=type=secret is not supported/);
  const exclude = await build(context({ 'Dockerfile': 'FROM busybox\nCOPY --exclude=*.md . /x\n' }));
  assert.match(exclude.error!.message, /COPY --exclude is not supported/);
  const cacheMount = await build(context({ 'dockerfile': 'FROM busybox\nRUN --mount=type=cache,target=/c echo cached-mount-ok\n' }));
  assert.equal(cacheMount.error, undefined, cacheMount.text);
  assert.match(cacheMount.text, /cached-mount-ok/);
  const url = await build(context({ 'Dockerfile': 'FROM busybox\nADD http://127.0.0.1:9/nothing /x\n' }));
  assert.match(url.error!.message, /ADD failed: failed to download http:\/\/127.0.0.1:9\/nothing/);
});

test('ADD from a URL: downloaded with mode 0600 and its Last-Modified time; --checksum verified', async () => {
  const { createServer } = await import('node:http');
  const { createHash } = await import('node:crypto');
  const body = 'remote content\n';
  const server = createServer((req, res) => {
    if (req.url === '/files/remote.txt') {
      res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const sum = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const ok = await build(context({ 'Dockerfile': `FROM busybox\nADD --checksum=${sum} http://127.0.0.1:${port}/files/remote.txt /dl/\nRUN stat -c "%a %Y" /dl/remote.txt > /stat\n` }), 't=berth-add-url');
    assert.equal(ok.error, undefined, ok.text);
    assert.equal(await runImage('berth-add-url', ['cat', '/dl/remote.txt', '/stat']), `${body}600 1445412480\n`);
    const bad = await build(context({ 'Dockerfile': `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/files/remote.txt /x\n` }));
    assert.match(bad.error!.message, /ADD failed: digest mismatch/);
    const missing = await build(context({ 'Dockerfile': `FROM busybox\nADD http://127.0.0.1:${port}/nope /x\n` }));
    assert.match(missing.error!.message, /failed to download http:\/\/127\.0\.0\.1:\d+\/nope: unexpected status 404/);
  } finally {
    server.close();
  }
});

test('RUN after VOLUME: writes under the volume are not committed, and no volume is left behind', async () => {
  const before = ((await d.api('GET', '/volumes')).json() as { Volumes: unknown[] | null }).Volumes?.length ?? 0;
  const r = await build(context({ 'Dockerfile': 'FROM busybox\nRUN mkdir /data && echo kept > /data/before\nVOLUME /data\nRUN echo lost > /data/after && echo outside > /outside\n' }), 't=berth-volume');
  assert.equal(r.error, undefined, r.text);
  assert.equal(await runImage('berth-volume', ['sh', '-c', 'ls /data; cat /outside']), 'before\noutside\n');
  const after = ((await d.api('GET', '/volumes')).json() as { Volumes: unknown[] | null }).Volumes?.length ?? 0;
  assert.equal(after, before);
});

test('RUN heredocs: a script with a shebang runs as a file and leaves nothing behind; others go to the shell', async () => {
  const r = await build(context({
    'Dockerfile': 'FROM busybox\nRUN <<EOF\n#!/bin/sh -e\necho "script ran as $0" > /script-out\nEOF\nRUN <<EOF\necho plain > /plain-out\nEOF\nRUN cat <<A > /cat-out\nfrom cat\nA\n',
  }), 't=berth-heredoc');
  assert.equal(r.error, undefined, r.text);
  const out = await runImage('berth-heredoc', ['sh', '-c', 'cat /script-out /plain-out /cat-out; ls -a / | grep -c berth-heredoc || true']);
  assert.match(out, /^script ran as \/\.berth-heredoc-[0-9a-f]{12}\nplain\nfrom cat\n0\n$/);
});

test('a daemon crash mid-build leaves no step container and no scratch data after the restart', async () => {
  const pending = build(context({ 'Dockerfile': 'FROM busybox\nRUN echo started && sleep 30\n' })).catch(() => undefined);
  let running = false;
  for (let i = 0; i < 100 && !running; i++) {
    const list = (await d.api('GET', '/containers/json')).json() as Array<{ Labels: Record<string, string> }>;
    running = list.some((c) => c.Labels['com.berth.build.step'] === 'true');
    if (!running) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(running, 'the RUN step is running');
  await d.crash();
  await pending;
  const t0 = Date.now();
  await d.restart();
  assert.ok(Date.now() - t0 < 10_000, 'start-up does not wait for the leftovers');
  let left = -1;
  for (let i = 0; i < 300 && left !== 0; i++) {
    const after = (await d.api('GET', '/containers/json?all=1')).json() as Array<{ Labels: Record<string, string> }>;
    left = after.filter((c) => c.Labels['com.berth.build.step'] === 'true').length;
    if (left) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(left, 0, 'the step container of the interrupted build is removed');
  const { readdirSync } = await import('node:fs');
  assert.deepEqual(readdirSync(join(d.dataRoot, 'build', 'tmp')), []);
  assert.deepEqual(readdirSync(join(d.dataRoot, 'build', 'scratch-layers')), []);
});
