import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryAuthFor, removeCredentials, serverKey, storeCredentials, DOCKER_HUB_SERVER } from '../../../src/cli/docker-config.js';

test('server keys are docker\'s: Docker Hub\'s v1 URL, else host[:port]', () => {
  assert.equal(serverKey(undefined), DOCKER_HUB_SERVER);
  assert.equal(serverKey('docker.io'), DOCKER_HUB_SERVER);
  assert.equal(serverKey('https://index.docker.io/v1/'), DOCKER_HUB_SERVER);
  assert.equal(serverKey('localhost:5000'), 'localhost:5000');
  assert.equal(serverKey('https://reg.example:5443/v2/'), 'reg.example:5443');
});

test('login stores auths.<host>.auth (0600), keeps other keys; logout removes it; X-Registry-Auth follows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dockercfg-'));
  try {
    const env = { DOCKER_CONFIG: dir };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: '', psFormat: 'x', auths: { 'other:1': { auth: 'eDp5' } } }));
    storeCredentials(env, 'localhost:5000', 'me', 'p:w');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { psFormat: string; auths: Record<string, { auth: string }> };
    assert.equal(cfg.psFormat, 'x');
    assert.equal(Buffer.from(cfg.auths['localhost:5000']!.auth, 'base64').toString(), 'me:p:w');
    assert.ok(cfg.auths['other:1']);
    assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
    const header = registryAuthFor(env, 'localhost:5000/x/y:1');
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { username: 'me', password: 'p:w', serveraddress: 'localhost:5000' });
    assert.equal(registryAuthFor(env, 'busybox'), 'e30=');
    assert.equal(removeCredentials(env, 'localhost:5000'), true);
    assert.equal(removeCredentials(env, 'localhost:5000'), false);
    assert.equal(registryAuthFor(env, 'localhost:5000/x'), 'e30=');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
