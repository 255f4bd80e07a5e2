import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestDaemon, importBusybox, type TestDaemon } from '../helpers/daemon-harness.js';
import { CLIENT_CLIS, DOCKER_PY_SKIP } from '../helpers/client-clis.js';

const execFileP = promisify(execFile);

// cp both ways through berth's CLI, both docker CLIs and docker-py.
const CLIS = CLIENT_CLIS;

let d: TestDaemon;
let work: string;

before(async () => {
  d = await startTestDaemon();
  work = mkdtempSync(join(tmpdir(), 'berth-cp-'));
  await importBusybox(d, 'busybox:latest');
  assert.equal((await d.api('POST', '/containers/create?name=cpr', { Image: 'busybox', Cmd: ['sleep', '600'] })).status, 201);
  assert.equal((await d.api('POST', '/containers/cpr/start')).status, 204);
  assert.equal((await d.api('POST', '/containers/create?name=cps', { Image: 'busybox', Cmd: ['true'] })).status, 201);
});
after(async () => {
  await d?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function run(cli: string, args: string[], input?: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  try {
    if (input !== undefined) {
      const stdout = execFileSync(cli, args, { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: work }, input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
      return { code: 0, stdout, stderr: '' };
    }
    const r = await execFileP(cli, args, { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: work }, timeout: 30_000, encoding: 'buffer' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr.toString() };
  } catch (err) {
    const e = err as { code?: number; status?: number; stdout: Buffer; stderr: Buffer | string };
    return { code: e.status ?? (typeof e.code === 'number' ? e.code : -1), stdout: e.stdout, stderr: String(e.stderr) };
  }
}

for (const cli of CLIS) {
  describe(cli.name, () => {
    const tag = cli.path.endsWith('berth') ? 'b' : cli.path.includes('local') ? 'd28' : 'd20';

    test('cp a file and a tree into a running container and back out', async () => {
      const src = join(work, `src-${tag}`);
      mkdirSync(join(src, 'sub'), { recursive: true });
      writeFileSync(join(src, 'a.txt'), 'alpha\n');
      writeFileSync(join(src, 'sub', 'b.txt'), 'beta\n');
      symlinkSync('a.txt', join(src, 'link'));
      let r = await run(cli.path, ['cp', join(src, 'a.txt'), `cpr:/tmp/renamed-${tag}.txt`]);
      assert.equal(r.code, 0, r.stderr);
      r = await run(cli.path, ['cp', src, `cpr:/root/tree-${tag}`]);
      assert.equal(r.code, 0, r.stderr);
      const back = join(work, `back-${tag}`);
      r = await run(cli.path, ['cp', `cpr:/root/tree-${tag}`, back]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(join(back, 'sub', 'b.txt'), 'utf8'), 'beta\n');
      assert.equal(readlinkSync(join(back, 'link')), 'a.txt');
      const file = join(work, `file-${tag}.txt`);
      r = await run(cli.path, ['cp', `cpr:/tmp/renamed-${tag}.txt`, file]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(file, 'utf8'), 'alpha\n');
      // -L follows a link in the container.
      const followed = join(work, `followed-${tag}`);
      r = await run(cli.path, ['cp', '-L', `cpr:/root/tree-${tag}/link`, followed]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(followed, 'utf8'), 'alpha\n');
      assert.ok(!statSync(followed).isSymbolicLink());
    });

    test('cp to and from stdin/stdout as tar, and on a stopped container', async () => {
      const out = await run(cli.path, ['cp', 'cpr:/etc/passwd', '-']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout.subarray(0, 100).toString('latin1'), /^passwd/);
      const put = await run(cli.path, ['cp', '-', `cps:/tmp`], out.stdout);
      assert.equal(put.code, 0, put.stderr);
      const got = join(work, `stopped-${tag}`);
      const r = await run(cli.path, ['cp', 'cps:/tmp/passwd', got]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(readFileSync(got, 'utf8'), /^root:x:0:0/);
      const missing = await run(cli.path, ['cp', 'cps:/no/such', join(work, 'x')]);
      assert.notEqual(missing.code, 0);
      // A HEAD answer has no body: each CLI words the 404 itself (28, then 20.10).
      assert.match(missing.stderr, /Could not find the file \/no\/such in container cps|No such container:path: cps:\/no\/such/);
    });

    test('cp -a keeps owners; without it files belong to root', async () => {
      const f = join(work, `owned-${tag}`);
      writeFileSync(f, 'x');
      execFileSync('chown', ['1234:4321', f]);
      assert.equal((await run(cli.path, ['cp', '-a', f, 'cpr:/tmp/'])).code, 0);
      const owned = await run(cli.path, ['cp', `cpr:/tmp/owned-${tag}`, '-']);
      assert.equal(parseInt(owned.stdout.subarray(108, 116).toString(), 8), 1234);
      assert.equal(parseInt(owned.stdout.subarray(116, 124).toString(), 8), 4321);
      assert.equal((await run(cli.path, ['cp', f, `cpr:/tmp/plain-${tag}`])).code, 0);
      const st = await run(cli.path, ['cp', `cpr:/tmp/plain-${tag}`, '-']);
      assert.equal(parseInt(st.stdout.subarray(108, 116).toString(), 8), 0);
      assert.equal(parseInt(st.stdout.subarray(116, 124).toString(), 8), 0);
    });
  });
}

const PY = `
import sys, io, tarfile, docker
c = docker.DockerClient(base_url=sys.argv[1])
ctr = c.containers.get('cpr')
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as t:
    data = b'from python\\n'
    info = tarfile.TarInfo('py.txt'); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
assert ctr.put_archive('/tmp', buf.getvalue())
bits, stat = ctr.get_archive('/tmp/py.txt')
assert stat['name'] == 'py.txt' and stat['size'] == 12, stat
raw = b''.join(bits)
with tarfile.open(fileobj=io.BytesIO(raw)) as t:
    assert t.extractfile('py.txt').read() == b'from python\\n'
try:
    ctr.get_archive('/nope')
    raise SystemExit('no error')
except docker.errors.NotFound:
    pass
print('ok')
`;

test('docker-py put_archive and get_archive', { skip: DOCKER_PY_SKIP }, () => {
  const out = execFileSync('python3', ['-c', PY, d.host], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(out.trim(), 'ok');
});
