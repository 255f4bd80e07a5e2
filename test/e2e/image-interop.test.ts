import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, busyboxRootfsTar, importBusybox, type TestDaemon } from '../helpers/daemon-harness.js';
import { DOCKER20_CLI, DOCKER28_CLI } from '../helpers/client-clis.js';
import { DOCKERD, startPrivateDockerd, type PrivateDockerd } from '../helpers/private-dockerd.js';

// Archives go both ways between berthd and a real dockerd, and the real docker CLIs drive
// save/load/commit/diff/history/image prune against berthd.

const DOCKER28 = DOCKER28_CLI;
const DOCKER20 = DOCKER20_CLI;
const BRIDGE = 'dkrimg0';
const BRIDGE_ADDR = '10.231.2.1/24';

let d: TestDaemon;
let work: string;
let dockerd: PrivateDockerd | undefined;
let dockerHost = '';
let configDir = '';

function run(cli: string, host: string, args: string[], opts: { input?: Buffer } = {}): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cli, args, {
      env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: configDir, DOCKER_BUILDKIT: '0' },
      input: opts.input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 1 << 30,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number | null; stdout: string; stderr: string };
    return { code: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function startDockerd(): Promise<void> {
  try { execFileSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' }); } catch { /* not there */ }
  dockerd = await startPrivateDockerd({ bridge: BRIDGE, bridgeAddr: BRIDGE_ADDR, namespace: 'berthimg', rootPrefix: 'berth-interop-dockerd-' });
  dockerHost = dockerd.host;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-interop-'));
  configDir = join(work, 'docker-config');
  d = await startTestDaemon();
  await importBusybox(d, 'busybox:latest');
});
after(async () => {
  await d?.destroy();
  await dockerd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('archives between berthd and a real dockerd', { skip: DOCKERD ? false : 'dockerd is not installed (make test installs docker.io)' }, () => {
  before(async () => { await startDockerd(); });

  test('docker save from dockerd is loaded by berth and runs', async () => {
    const imp = run(DOCKER28, dockerHost, ['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), 'frombox:dockerd']);
    assert.equal(imp.code, 0, imp.stderr);
    const c = run(DOCKER28, dockerHost, ['run', '--name', 'maker', 'frombox:dockerd', 'sh', '-c', 'echo made-by-dockerd > /made && rm /bin/ls']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(run(DOCKER28, dockerHost, ['commit', 'maker', 'fromdockerd:2']).code, 0);
    const file = join(work, 'from-dockerd.tar');
    const s = run(DOCKER28, dockerHost, ['save', '-o', file, 'fromdockerd:2', 'frombox:dockerd']);
    assert.equal(s.code, 0, s.stderr);
    const l = d.berth(['load', '-i', file]);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /Loaded image: fromdockerd:2/);
    const dockerId = run(DOCKER28, dockerHost, ['image', 'inspect', '-f', '{{.Id}}', 'fromdockerd:2']).stdout.trim();
    const berthInsp = (await d.api('GET', '/images/fromdockerd:2/json')).json() as { Id: string };
    assert.equal(berthInsp.Id, dockerId, 'the same config bytes give the same image id');
    const r = d.berth(['run', '--rm', 'fromdockerd:2', 'sh', '-c', 'cat /made; test -e /bin/ls || echo ls-gone']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'made-by-dockerd\nls-gone\n');
  });

  test("berth's save is loaded by dockerd and runs there", async () => {
    const id = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo made-by-berth > /made; ln -s /made /link; mkdir -p /d/e; rm /bin/cat2 2>/dev/null; true'] })).json() as { Id: string };
    await d.api('POST', `/containers/${id.Id}/start`);
    await d.api('POST', `/containers/${id.Id}/wait`);
    assert.equal(d.berth(['commit', '-c', 'CMD ["sh","-c","cat /link"]', id.Id, 'fromberth:1']).code, 0);
    const file = join(work, 'from-berth.tar');
    const s = d.berth(['save', '-o', file, 'fromberth:1', 'busybox']);
    assert.equal(s.code, 0, s.stderr);
    const l = run(DOCKER28, dockerHost, ['load', '-i', file]);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /Loaded image: fromberth:1/);
    assert.match(l.stdout, /Loaded image: busybox:latest/);
    const dockerId = run(DOCKER28, dockerHost, ['image', 'inspect', '-f', '{{.Id}}', 'fromberth:1']).stdout.trim();
    assert.equal(dockerId, ((await d.api('GET', '/images/fromberth:1/json')).json() as { Id: string }).Id);
    const r = run(DOCKER28, dockerHost, ['run', '--rm', 'fromberth:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'made-by-berth\n');
    // The layers dockerd computed from berth's tars are the same diff ids.
    const layers = run(DOCKER28, dockerHost, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'fromberth:1']).stdout.trim();
    assert.deepEqual(JSON.parse(layers), ((await d.api('GET', '/images/fromberth:1/json')).json() as { RootFS: { Layers: string[] } }).RootFS.Layers);
  });
});

const CLIS = [
  { name: 'docker CLI 28', path: DOCKER28 },
  { name: 'docker CLI 20.10', path: DOCKER20 },
].filter((c) => existsSync(c.path));

for (const cli of CLIS) {
  describe(`${cli.name} drives save/load/commit/diff/history/image prune against berthd`, () => {
    const suffix = cli.path === DOCKER28 ? '28' : '20';

    test('commit, diff, history', () => {
      const name = `maker${suffix}`;
      const c = run(cli.path, d.host, ['run', '--name', name, 'busybox', 'sh', '-c', 'echo hi > /hello; rm /bin/ls']);
      assert.equal(c.code, 0, c.stderr);
      const diff = run(cli.path, d.host, ['diff', name]);
      assert.equal(diff.code, 0, diff.stderr);
      assert.match(diff.stdout, /^A \/hello$/m);
      assert.match(diff.stdout, /^D \/bin\/ls$/m);
      const commit = run(cli.path, d.host, ['commit', '-m', 'via docker', '-a', 'tester', '-c', 'ENV X=1', name, `dockercommit:${suffix}`]);
      assert.equal(commit.code, 0, commit.stderr);
      assert.match(commit.stdout, /^sha256:[0-9a-f]{64}$/m);
      const hist = run(cli.path, d.host, ['history', '--no-trunc', `dockercommit:${suffix}`]);
      assert.equal(hist.code, 0, hist.stderr);
      assert.match(hist.stdout, /sh -c echo hi > \/hello; rm \/bin\/ls/);
      assert.match(hist.stdout, /via docker/);
      const out = run(cli.path, d.host, ['run', '--rm', `dockercommit:${suffix}`, 'sh', '-c', 'cat /hello; echo $X']);
      assert.equal(out.stdout, 'hi\n1\n');
      run(cli.path, d.host, ['rm', name]);
    });

    test('save and load (file and pipe)', () => {
      const file = join(work, `cli${suffix}.tar`);
      const s = run(cli.path, d.host, ['save', '-o', file, `dockercommit:${suffix}`]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(run(cli.path, d.host, ['rmi', `dockercommit:${suffix}`]).code, 0);
      const l = run(cli.path, d.host, ['load', '-i', file]);
      assert.equal(l.code, 0, l.stderr);
      assert.match(l.stdout, new RegExp(`Loaded image: dockercommit:${suffix}`));
      const piped = run(cli.path, d.host, ['save', `dockercommit:${suffix}`]);
      assert.equal(piped.code, 0, piped.stderr);
      const l2 = run(cli.path, d.host, ['load', '-q'], { input: readFileSync(file) });
      assert.equal(l2.code, 0, l2.stderr);
      assert.match(l2.stdout, /Loaded image: /);
      const exp = run(cli.path, d.host, ['create', '--name', `exp${suffix}`, `dockercommit:${suffix}`]);
      assert.equal(exp.code, 0, exp.stderr);
      const tarFile = join(work, `exp${suffix}.tar`);
      assert.equal(run(cli.path, d.host, ['export', '-o', tarFile, `exp${suffix}`]).code, 0);
      assert.ok(execFileSync('tar', ['-tf', tarFile]).toString().split('\n').includes('hello'));
      run(cli.path, d.host, ['rm', `exp${suffix}`]);
    });

    test('image prune', () => {
      const c = run(cli.path, d.host, ['create', 'busybox', 'true']);
      const id = c.stdout.trim();
      assert.equal(run(cli.path, d.host, ['commit', id]).code, 0);
      run(cli.path, d.host, ['rm', id]);
      const p = run(cli.path, d.host, ['image', 'prune', '-f']);
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, /deleted: sha256:/);
      assert.match(p.stdout, /Total reclaimed space: /);
      const none = run(cli.path, d.host, ['images', '-q', '--filter', 'dangling=true']);
      assert.equal(none.stdout.trim(), '');
    });

    test('system df and system df -v', () => {
      const df = run(cli.path, d.host, ['system', 'df']);
      assert.equal(df.code, 0, df.stderr);
      assert.match(df.stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+\d+\s+\d+\s+[\d.]+[kMG]?B/);
      assert.match(df.stdout, /Local Volumes\s+\d+/);
      const v = run(cli.path, d.host, ['system', 'df', '-v']);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /Images space usage:/);
      assert.match(v.stdout, /busybox\s+latest\s+[0-9a-f]{12}/);
      assert.match(v.stdout, /Containers space usage:/);
    });
  });
}
