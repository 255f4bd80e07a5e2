import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { EngineClient } from '../../../src/client/engine-client.js';
import { parseHostAddress } from '../../../src/client/host-address.js';
import { daemonStatusOf } from '../../../src/client/status-errors.js';
import { NotFoundError, ConflictError } from '../../../src/common/errors.js';

interface FakeEngine {
  socketPath: string;
  requests: string[];
  close(): Promise<void>;
}

/** A loopback fake engine on a unix socket. */
async function startFakeEngine(t: { after(fn: () => Promise<void> | void): void }, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FakeEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-client-'));
  const socketPath = join(dir, 'engine.sock');
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/_ping') {
      res.writeHead(200, { 'Api-Version': '1.44', Ostype: 'linux', 'Docker-Experimental': 'false' });
      res.end(req.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    handler(req, res);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('upgrade', (req, socket: Socket, head) => {
    requests.push(`UPGRADE ${req.method} ${req.url}`);
    sockets.add(socket);
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    if (head.length) socket.write(head);
    socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  t.after(close);
  return { socketPath, requests, close };
}

test('host addresses', () => {
  assert.deepEqual(parseHostAddress('unix:///run/x.sock'), { kind: 'unix', socketPath: '/run/x.sock', url: 'unix:///run/x.sock' });
  assert.deepEqual(parseHostAddress('tcp://127.0.0.1:2376'), { kind: 'tcp', host: '127.0.0.1', port: 2376, url: 'tcp://127.0.0.1:2376' });
  assert.equal(parseHostAddress(undefined).url, 'unix:///run/berth/berth.sock');
});

test('negotiates with HEAD /_ping and uses the versioned prefix', async (t) => {
  const engine = await startFakeEngine(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ Version: '1', ApiVersion: '1.44', Os: 'linux', Arch: 'amd64' }));
  });
  const client = new EngineClient({ host: `unix://${engine.socketPath}` });
  t.after(() => client.close());
  const v = await client.version();
  assert.equal(v.ApiVersion, '1.44');
  assert.equal(client.apiVersion, '1.44');
  assert.deepEqual(engine.requests, ['HEAD /_ping', 'GET /v1.44/version']);
  assert.equal(client.lastPing?.osType, 'linux');
});

test('a 404 JSON error maps to NotFoundError with the message', async (t) => {
  const engine = await startFakeEngine(t, (_req, res) => {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"message":"No such container: nope"}\n');
  });
  const client = new EngineClient({ host: `unix://${engine.socketPath}` });
  t.after(() => client.close());
  await assert.rejects(client.inspectContainer('nope'), (err: unknown) => {
    assert.ok(err instanceof NotFoundError);
    assert.equal(err.message, 'No such container: nope');
    assert.equal(daemonStatusOf(err), 404);
    return true;
  });
});

test('409 maps to ConflictError; non-JSON bodies are used verbatim', async (t) => {
  const engine = await startFakeEngine(t, (_req, res) => {
    res.writeHead(409, { 'Content-Type': 'text/plain' });
    res.end('in use\n');
  });
  const client = new EngineClient({ host: `unix://${engine.socketPath}` });
  t.after(() => client.close());
  await assert.rejects(client.removeContainer('x', { force: true }), (err: unknown) => err instanceof ConflictError && err.message === 'in use');
  assert.equal(engine.requests[1], 'DELETE /v1.44/containers/x?force=1');
});

test('filters and booleans are encoded like the Go client', async (t) => {
  const engine = await startFakeEngine(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('[]');
  });
  const client = new EngineClient({ host: `unix://${engine.socketPath}` });
  t.after(() => client.close());
  await client.listContainers({ all: true, size: true, filters: new Map([['label', ['a=b']]]) });
  assert.equal(engine.requests[1], `GET /v1.44/containers/json?all=1&filters=${encodeURIComponent('{"label":{"a=b":true}}')}&size=1`);
});

test('hijacked attach: 101 then a raw duplex round trip with half-close', async (t) => {
  const engine = await startFakeEngine(t, (_req, res) => { res.writeHead(500); res.end(); });
  const client = new EngineClient({ host: `unix://${engine.socketPath}` });
  t.after(() => client.close());
  const { socket, contentType } = await client.attachContainer('c1', { stdin: true, stdout: true, stderr: true });
  assert.equal(contentType, 'application/vnd.docker.raw-stream');
  assert.equal(engine.requests[1], 'UPGRADE POST /v1.44/containers/c1/attach?stderr=1&stdin=1&stdout=1&stream=1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.write('hello');
  socket.end();
  await new Promise<void>((resolve) => socket.on('end', () => resolve()));
  assert.equal(Buffer.concat(chunks).toString(), 'echo:hello');
  socket.destroy();
});

test('wait resolves ready on headers, result on body', async (t) => {
  let finish: (() => void) | undefined;
  const engine = await startFakeEngine(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    finish = () => res.end('{"StatusCode":3}');
  });
  const client = new EngineClient({ host: `unix://${engine.socketPath}` });
  t.after(() => client.close());
  const wait = client.waitContainer('c1', { condition: 'next-exit' });
  await wait.ready;
  assert.ok(finish);
  finish?.();
  assert.deepEqual(await wait.result, { StatusCode: 3 });
  assert.equal(engine.requests[1], 'POST /v1.44/containers/c1/wait?condition=next-exit');
});

test('connection refused gives docker\'s message', async () => {
  const client = new EngineClient({ host: 'unix:///nonexistent/berth.sock' });
  await assert.rejects(client.ping(), { message: 'Cannot connect to the Docker daemon at unix:///nonexistent/berth.sock. Is the docker daemon running?' });
  client.close();
});
