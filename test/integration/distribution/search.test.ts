import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { startTestDaemon, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, berthAsync, type TestRegistry } from '../../helpers/registry-harness.js';

let d: TestDaemon;
let reg: TestRegistry;
let fake: Server;
let fakeHost: string;
const queries: string[] = [];

before(async () => {
  // (The CLI runs asynchronously: the fake registry lives in this process.)
  // A registry that offers the v1 search API (docker-registry does not).
  fake = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/v2/') { res.writeHead(200).end('{}'); return; }
    if (u.pathname === '/v1/search') {
      queries.push(u.search);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({
        num_results: 3, query: u.searchParams.get('q'),
        results: [
          { name: 'busybox', description: 'Busybox base image with a description that is long enough to be truncated by the table', star_count: 3200, is_official: true, is_automated: false },
          { name: 'me/busybox-extra', description: 'extra', star_count: 12, is_official: false, is_automated: true },
          { name: 'you/bb', description: '', star_count: 0, is_official: false, is_automated: false },
        ],
      }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
  fakeHost = `127.0.0.1:${(fake.address() as { port: number }).port}`;
  reg = await startRegistry();
  d = await startTestDaemon();
});
after(async () => {
  await d?.destroy();
  await reg?.stop();
  await new Promise<void>((r) => { fake.closeAllConnections(); fake.close(() => r()); });
});

test('search renders Docker\'s table, truncates descriptions, filters and limits', async () => {
  const out = await berthAsync(d, ['search', `${fakeHost}/busybox`]);
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$/);
  assert.match(lines[1]!, /^busybox\s+Busybox base image with a description that i…\s+3200\s+\[OK\]$/);
  assert.equal(lines.length, 4);
  assert.match(queries.at(-1)!, /q=busybox/);
  const stars = await berthAsync(d, ['search', '--filter', 'stars=10', '--format', '{{.Name}}:{{.StarCount}}', `${fakeHost}/busybox`]);
  assert.deepEqual(stars.stdout.trim().split('\n'), ['busybox:3200', 'me/busybox-extra:12']);
  const official = await berthAsync(d, ['search', '--filter', 'is-official=true', '--no-trunc', `${fakeHost}/busybox`]);
  assert.match(official.stdout, /long enough to be truncated by the table/);
  assert.equal(official.stdout.trim().split('\n').length, 2);
  const limited = await d.api('GET', `/images/search?term=${encodeURIComponent(`${fakeHost}/busybox`)}&limit=2`);
  assert.equal(limited.status, 200);
  assert.equal((limited.json() as unknown[]).length, 2);
  assert.match(queries.at(-1)!, /n=2/);
  const bad = await d.api('GET', `/images/search?term=x&filters=${encodeURIComponent('{"nope":["1"]}')}`);
  assert.equal(bad.status, 400);
});

test('a registry without a search API gives a clear error', async () => {
  const out = await berthAsync(d, ['search', `${reg.host}/anything`]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, new RegExp(`registry ${reg.host.replace(/\./g, '\\.')} does not offer a search API`));
});
