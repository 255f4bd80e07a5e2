import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

function hijack(path: string): Promise<{ sock: Duplex; status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
    req.on('upgrade', (res, sock) => resolve({ sock, status: res.statusCode ?? 0, headers: res.headers }));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

function collect(sock: Duplex): { text: () => string; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((r) => { sock.on('end', () => r()); sock.on('close', () => r()); });
  return { text: () => Buffer.concat(chunks).toString('latin1'), ended };
}

async function create(body: Record<string, unknown>): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', ...body });
  assert.equal(c.status, 201, c.body);
  return (c.json() as { Id: string }).Id;
}

test('attach before start gets all output, stdcopy framed, and ends at exit', async () => {
  const id = await create({ Cmd: ['sh', '-c', 'echo one; echo two >&2'] });
  const { sock, status, headers } = await hijack(`/v1.44/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
  assert.equal(status, 101);
  assert.equal(headers['content-type'], 'application/vnd.docker.multiplexed-stream');
  const out = collect(sock);
  sock.end();
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  await out.ended;
  const raw = Buffer.from(out.text(), 'latin1');
  const frames: Array<[number, string]> = [];
  for (let i = 0; i + 8 <= raw.length;) {
    const len = raw.readUInt32BE(i + 4);
    frames.push([raw[i]!, raw.subarray(i + 8, i + 8 + len).toString()]);
    i += 8 + len;
  }
  assert.deepEqual(frames.sort(), [[1, 'one\n'], [2, 'two\n']]);
  await d.api('DELETE', `/containers/${id}`);
});

test('stdin reaches the container; detach keys end the attach and leave it running', async () => {
  const id = await create({ Cmd: ['cat'], OpenStdin: true });
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  const { sock } = await hijack(`/containers/${id}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,b`);
  const out = collect(sock);
  sock.write('hello\n');
  const t0 = Date.now();
  while (!out.text().includes('hello\n') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(out.text().includes('hello\n'), 'echo came back through the attach');
  sock.write(Buffer.from([1, 98]));
  await out.ended;
  const insp = (await d.api('GET', `/containers/${id}/json`)).json() as { State: { Running: boolean } };
  assert.equal(insp.State.Running, true, 'still running after detach');
  // Attach again: the container's stdin is still open.
  const again = await hijack(`/containers/${id}/attach?stream=1&stdin=1&stdout=1`);
  const out2 = collect(again.sock);
  again.sock.write('again\n');
  const t1 = Date.now();
  while (!out2.text().includes('again\n') && Date.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(out2.text().includes('again\n'));
  again.sock.destroy();
  await d.api('DELETE', `/containers/${id}?force=1`);
});

test('attach with a TTY is raw and resize reaches the terminal', async () => {
  const id = await create({ Cmd: ['sh', '-c', 'sleep 0.5; stty size'], Tty: true, OpenStdin: true });
  const { sock, headers } = await hijack(`/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
  assert.equal(headers['content-type'], 'application/vnd.docker.raw-stream');
  const out = collect(sock);
  await d.api('POST', `/containers/${id}/start`);
  assert.equal((await d.api('POST', `/containers/${id}/resize?h=33&w=111`)).status, 200);
  await out.ended;
  assert.match(out.text(), /^33 111\r?\n$/);
  await d.api('DELETE', `/containers/${id}`);
});

test('attach to a missing container is a 404 before any upgrade', async () => {
  const r = await d.api('POST', '/containers/nope/attach?stream=1&stdout=1');
  assert.equal(r.status, 404);
  assert.match(r.body, /No such container: nope/);
});
