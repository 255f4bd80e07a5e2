import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { UserlandProxies } from '../../../src/network/userland-proxy.js';

// The proxy program against loopback echo servers standing in for a container's address.

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function tcpEcho(): Promise<Server> {
  const s = createServer({ allowHalfOpen: true }, (c) => c.pipe(c));
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { got += d; });
    c.on('end', () => { resolve(got); c.destroy(); });
    c.on('error', reject);
    c.end(text);
  });
}

function udpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('no UDP answer')); }, 3000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m.toString()); });
    s.send(text, port, '127.0.0.1');
  });
}

test('the userland proxy forwards TCP (with half-close) and UDP, refuses a taken port in Docker\'s words, and frees its ports on stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-proxy-'));
  const proxies = new UserlandProxies({ dir });
  const echo = await tcpEcho();
  const udp = createSocket('udp4');
  udp.on('message', (m, r) => udp.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const idA = 'a'.repeat(64);
  const idB = 'b'.repeat(64);
  t.after(async () => {
    await proxies.stop(idA);
    await proxies.stop(idB);
    echo.close();
    udp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tcpPort = await freePort();
  const udpPort = await freePort();
  await proxies.start(idA, [
    { proto: 'tcp', hostIp: '127.0.0.1', hostPort: tcpPort, containerIp: '127.0.0.1', containerPort: (echo.address() as AddressInfo).port },
    { proto: 'udp', hostIp: '127.0.0.1', hostPort: udpPort, containerIp: '127.0.0.1', containerPort: (udp.address() as AddressInfo).port },
  ]);
  assert.ok(await proxies.running(idA));
  assert.ok(existsSync(join(dir, `${idA}.json`)));
  assert.equal(await tcpRoundTrip(tcpPort, 'hello over tcp'), 'hello over tcp');
  assert.equal(await udpRoundTrip(udpPort, 'hi'), 'echo:hi');

  // Another container asking for the same host port: Docker's userland proxy error, nothing left.
  await assert.rejects(
    proxies.start(idB, [{ proto: 'tcp', hostIp: '127.0.0.1', hostPort: tcpPort, containerIp: '127.0.0.1', containerPort: 1 }]),
    (err: Error) => {
      assert.equal(err.name, 'ConflictError');
      assert.equal(err.message, `driver failed programming external connectivity on endpoint: Error starting userland proxy: listen tcp4 127.0.0.1:${tcpPort}: bind: address already in use`);
      return true;
    },
  );
  assert.equal(await proxies.running(idB), false);
  assert.ok(!existsSync(join(dir, `${idB}.json`)));

  await proxies.stop(idA);
  assert.equal(await proxies.running(idA), false);
  assert.ok(!existsSync(join(dir, `${idA}.json`)));
  const again = createServer();
  await new Promise<void>((resolve, reject) => { again.once('error', reject); again.listen(tcpPort, '127.0.0.1', () => resolve()); });
  again.close();
});

test('SCTP ports cannot go through the userland proxy', () => {
  assert.throws(() => UserlandProxies.mappings([{ containerPort: 9, protocol: 'sctp', hostIp: '', hostPort: 9 }], '10.0.0.2'), /SCTP ports need the firewall/);
  assert.deepEqual(UserlandProxies.mappings([{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 }], '10.0.0.2'),
    [{ proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerIp: '10.0.0.2', containerPort: 80 }]);
});
