import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, copyFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, berthFull, type TestRegistry } from '../../helpers/registry-harness.js';
import { makeTestPki, writeHtpasswd, startTokenServer, type TestPki, type TokenServer } from '../../helpers/registry-auth.js';

let dir: string;
let pki: TestPki;
let tlsReg: TestRegistry;
let tokenReg: TestRegistry;
let tokens: TokenServer;
let d: TestDaemon;
let dockerConfig: string;
const users = { alice: 's3cret-pw' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-regauth-'));
  pki = makeTestPki(join(dir, 'pki'));
  writeHtpasswd(join(dir, 'htpasswd'), users);
  tlsReg = await startRegistry({ tls: { cert: pki.serverCert, key: pki.serverKey }, auth: { htpasswd: { path: join(dir, 'htpasswd') } }, hostname: 'localhost' });
  tokens = await startTokenServer(pki, users);
  tokenReg = await startRegistry({ auth: { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: pki.caCert } } });
  // berthd trusts the test CA through its certs.d directory, as Docker through /etc/docker/certs.d.
  const certs = join(dir, 'certs.d');
  mkdirSync(join(certs, tlsReg.host), { recursive: true });
  copyFileSync(pki.caCert, join(certs, tlsReg.host, 'ca.crt'));
  d = await startTestDaemon(['--registry-certs-dir', certs]);
  await importBusybox(d);
  dockerConfig = join(dir, 'docker-config');
});
after(async () => {
  await d?.destroy();
  await tlsReg?.stop();
  await tokenReg?.stop();
  await tokens?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: dockerConfig });

test('TLS + htpasswd: no credentials, a wrong password, then login, push and pull', async () => {
  const repo = `${tlsReg.host}/secure/bb`;
  assert.equal((await d.api('POST', `/images/busybox:latest/tag?repo=${encodeURIComponent(repo)}&tag=1`)).status, 201);
  const anon = berthFull(d, ['push', `${repo}:1`], { env: env() });
  assert.equal(anon.code, 1);
  assert.match(anon.stderr, /no basic auth credentials/);

  const wrong = berthFull(d, ['login', '-u', 'alice', '--password-stdin', tlsReg.host], { env: env(), input: 'nope\n' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, new RegExp(`Error response from daemon: login attempt to https://${tlsReg.host}/v2/ failed with status: 401 Unauthorized`));
  assert.equal(existsSync(join(dockerConfig, 'config.json')), false, 'a failed login stores nothing');

  const ok = berthFull(d, ['login', '-u', 'alice', '--password-stdin', tlsReg.host], { env: env(), input: `${users.alice}\n` });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Login Succeeded/);
  const cfg = JSON.parse(readFileSync(join(dockerConfig, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(cfg.auths[tlsReg.host]!.auth, 'base64').toString(), `alice:${users.alice}`);

  const push = berthFull(d, ['push', `${repo}:1`], { env: env() });
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /1: digest: sha256:[0-9a-f]{64} size: \d+/);
  assert.equal((await d.api('DELETE', `/images/${repo}:1`)).status, 200);
  const pull = berthFull(d, ['pull', `${repo}:1`], { env: env() });
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, new RegExp(`Status: Downloaded newer image for ${repo}:1`));

  const out = berthFull(d, ['logout', tlsReg.host], { env: env() });
  assert.match(out.stdout, new RegExp(`Removing login credentials for ${tlsReg.host}`));
  const after = JSON.parse(readFileSync(join(dockerConfig, 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
  assert.equal(after.auths[tlsReg.host], undefined);
});

test('POST /auth answers Docker\'s shapes', async () => {
  const good = await d.api('POST', '/auth', { username: 'alice', password: users.alice, serveraddress: tlsReg.host });
  assert.equal(good.status, 200);
  assert.deepEqual(good.json(), { Status: 'Login Succeeded', IdentityToken: '' });
  const bad = await d.api('POST', '/auth', { username: 'alice', password: 'x', serveraddress: `https://${tlsReg.host}` });
  assert.equal(bad.status, 401);
});

test('a daemon without the CA refuses the registry\'s certificate', async () => {
  const other = await startTestDaemon();
  try {
    const r = await other.api('POST', '/auth', { username: 'alice', password: users.alice, serveraddress: tlsReg.host });
    assert.equal(r.status, 503);
    assert.match(r.body, /certificate/);
  } finally {
    await other.destroy();
  }
});

test('token auth: bearer flow with push and mount scopes; anonymous pull is denied', async () => {
  const repo = `${tokenReg.host}/team/bb`;
  assert.equal((await d.api('POST', `/images/busybox:latest/tag?repo=${encodeURIComponent(repo)}&tag=t`)).status, 201);
  const auth = Buffer.from(JSON.stringify({ username: 'alice', password: users.alice, serveraddress: tokenReg.host })).toString('base64url');
  const login = await d.api('POST', '/auth', { username: 'alice', password: users.alice, serveraddress: tokenReg.host });
  assert.equal(login.status, 200, login.body);
  const wrong = await d.api('POST', '/auth', { username: 'alice', password: 'bad', serveraddress: tokenReg.host });
  assert.equal(wrong.status, 401);
  assert.match(wrong.body, /unauthorized|incorrect username or password/);

  const push = await rawStream(d, 'POST', `/images/${repo}/push?tag=t`, auth);
  assert.equal(push.status, 200);
  assert.match(push.body, /"status":"t: digest: sha256:[0-9a-f]{64} size: \d+"/, push.body);
  assert.ok(tokens.requests.some((r) => r.authorized && r.scopes.includes('repository:team/bb:pull,push')), JSON.stringify(tokens.requests));

  // A second repository: the blob is mounted from team/bb, with a pull scope on it in the token.
  const repo2 = `${tokenReg.host}/team/copy`;
  assert.equal((await d.api('POST', `/images/busybox:latest/tag?repo=${encodeURIComponent(repo2)}&tag=t`)).status, 201);
  const push2 = await rawStream(d, 'POST', `/images/${repo2}/push?tag=t`, auth);
  assert.match(push2.body, /Mounted from team\/bb/, push2.body);
  assert.ok(tokens.requests.some((r) => r.scopes.includes('repository:team/bb:pull') && r.scopes.includes('repository:team/copy:pull,push')));

  assert.equal((await d.api('DELETE', `/images/${repo}:t`)).status, 200);
  const anon = await d.api('POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=t`);
  assert.equal(anon.status, 404);
  assert.match(anon.body, /pull access denied for .*team\/bb, repository does not exist or may require 'docker login'/);
  const pull = await rawStream(d, 'POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=t`, auth);
  assert.equal(pull.status, 200);
  assert.match(pull.body, /Status: Downloaded newer image for/);
});

async function rawStream(td: TestDaemon, method: string, path: string, registryAuth: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: td.socket, method, path, headers: { 'X-Registry-Auth': registryAuth } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}
