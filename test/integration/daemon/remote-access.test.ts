import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, copyFileSync, mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, REPO, type TestDaemon } from '../../helpers/daemon-harness.js';

const BERTH = join(REPO, 'bin/berth');
const BERTHD = join(REPO, 'bin/berthd');
const DOCKER = '/usr/local/bin/docker';
let dir: string;
let d: TestDaemon;
let port: number;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A key and a certificate signed by `ca` (or self-signed when ca is undefined). */
function issue(name: string, subject: string, ca: string | undefined, ext: string): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-subj', subject, '-out', `${name}.csr`]);
  const extFile = join(dir, `${name}.ext`);
  execFileSync('sh', ['-c', `printf '%s\\n' "${ext}" > ${extFile}`]);
  if (ca) openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial', '-days', '2', '-extfile', extFile, '-out', `${name}.pem`]);
  else openssl(['x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}-key.pem`, '-days', '2', '-extfile', extFile, '-out', `${name}.pem`]);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

function cli(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const argv = bin === BERTH ? [process.execPath, BERTH] : [bin];
  const r = spawnSync(argv[0]!, [...argv.slice(1), ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'], HOME: dir, ...env }, timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-tls-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-subj', '/CN=berth test CA', '-days', '2', '-out', 'ca.pem']);
  issue('server', '/CN=127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  issue('client', '/CN=client', 'ca', 'extendedKeyUsage=clientAuth');
  issue('rogue', '/CN=rogue', undefined, 'extendedKeyUsage=clientAuth');
  mkdirSync(join(dir, 'certs'));
  copyFileSync(join(dir, 'ca.pem'), join(dir, 'certs/ca.pem'));
  copyFileSync(join(dir, 'client.pem'), join(dir, 'certs/cert.pem'));
  copyFileSync(join(dir, 'client-key.pem'), join(dir, 'certs/key.pem'));
  port = await freePort();
  d = await startTestDaemon(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', join(dir, 'ca.pem'),
    '--tlscert', join(dir, 'server.pem'), '--tlskey', join(dir, 'server-key.pem')]);
});
after(async () => {
  await d?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('berth connects over TLS with a client certificate from the CA (flags, then DOCKER_* env)', () => {
  const host = `tcp://127.0.0.1:${port}`;
  const byFlags = cli(BERTH, ['-H', host, '--tlsverify', '--tlscacert', join(dir, 'ca.pem'), '--tlscert', join(dir, 'client.pem'), '--tlskey', join(dir, 'client-key.pem'), 'version', '--format', '{{.Server.Version}}']);
  assert.equal(byFlags.code, 0, byFlags.stderr);
  assert.match(byFlags.stdout, /^\d+\.\d+\.\d+/);
  const byEnv = cli(BERTH, ['info', '--format', '{{.LiveRestoreEnabled}}'], { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(dir, 'certs') });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.equal(byEnv.stdout.trim(), 'true');
});

test('the docker CLI connects with TLS too', () => {
  const r = cli(DOCKER, ['--tlsverify', '--tlscacert', join(dir, 'ca.pem'), '--tlscert', join(dir, 'client.pem'), '--tlskey', join(dir, 'client-key.pem'), '-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.APIVersion}}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1.44');
});

test('docker-py connects with TLS', () => {
  const script = [
    'import docker, sys',
    'from docker.tls import TLSConfig',
    `tls = TLSConfig(client_cert=(sys.argv[2], sys.argv[3]), ca_cert=sys.argv[1], verify=True)`,
    `c = docker.DockerClient(base_url='https://127.0.0.1:' + sys.argv[4], tls=tls)`,
    'print(c.ping(), c.version()["ApiVersion"])',
  ].join('\n');
  // requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override the client's CA: keep them out.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'REQUESTS_CA_BUNDLE' && k !== 'CURL_CA_BUNDLE'));
  const r = spawnSync('python3', ['-c', script, join(dir, 'ca.pem'), join(dir, 'client.pem'), join(dir, 'client-key.pem'), String(port)], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'True 1.44');
});

test('clients without a certificate from the CA, or without TLS, are refused', async () => {
  const host = `tcp://127.0.0.1:${port}`;
  const noCert = cli(BERTH, ['-H', host, '--tlsverify', '--tlscacert', join(dir, 'ca.pem'), 'version']);
  assert.notEqual(noCert.code, 0);
  assert.match(noCert.stderr, /error during connect|certificate|socket hang up|ECONNRESET/i);
  const rogue = cli(BERTH, ['-H', host, '--tlsverify', '--tlscacert', join(dir, 'ca.pem'), '--tlscert', join(dir, 'rogue.pem'), '--tlskey', join(dir, 'rogue-key.pem'), 'ps']);
  assert.notEqual(rogue.code, 0);
  const dockerNoCert = cli(DOCKER, ['--tlsverify', '--tlscacert', join(dir, 'ca.pem'), '-H', host, 'version', '--format', '{{.Server.Version}}']);
  assert.equal(dockerNoCert.stdout.trim(), '');
  const plain = await new Promise<string>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/_ping' }, (res) => resolve(String(res.statusCode)));
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end();
  });
  assert.notEqual(plain, '200');
});

test('the unix socket stays 0660', () => {
  assert.equal(statSync(d.socket).mode & 0o777, 0o660);
});

test('plain TCP needs an explicit --tls=false and then logs Docker\'s warning', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-plain-'));
  try {
    const p = await freePort();
    const refused = spawnSync(process.execPath, [BERTHD, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '-H', `unix://${join(root, 's.sock')}`, '-H', `tcp://127.0.0.1:${p}`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /refusing to listen on tcp:\/\/127\.0\.0\.1:\d+ without TLS/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const p = await freePort();
  const d2 = await startTestDaemon(['-H', `tcp://127.0.0.1:${p}`, '--tls=false']);
  try {
    assert.match(d2.log(), /level=warn msg="Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network\." host="tcp:\/\/127\.0\.0\.1:\d+"/);
    const r = cli(BERTH, ['-H', `tcp://127.0.0.1:${p}`, 'info', '--format', '{{.ServerVersion}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
  } finally {
    await d2.destroy();
  }
});
