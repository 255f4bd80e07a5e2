import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../helpers/daemon-harness.js';
import { CLIENT_CLIS, DOCKER_PY_SKIP, clientRunner, makeDockerConfigDir, type CliResult } from '../helpers/client-clis.js';

// exec through berth's CLI, both docker CLIs and docker-py, against one container.
const CLIS = CLIENT_CLIS;

let d: TestDaemon;
let configDir: string;

before(async () => {
  d = await startTestDaemon();
  configDir = makeDockerConfigDir();
  await importBusybox(d, 'busybox:latest');
  const c = await d.api('POST', '/containers/create?name=ex', { Image: 'busybox', Cmd: ['sleep', '600'], Env: ['C=ctr'] });
  assert.equal(c.status, 201, c.body);
  assert.equal((await d.api('POST', '/containers/ex/start')).status, 204);
  const s = await d.api('POST', '/containers/create?name=ex-stopped', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(s.status, 201, s.body);
});
after(async () => {
  await d?.destroy();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: configDir };
}

const runCli = clientRunner(env, 30_000);
const run = (cli: string, args: string[], input?: string): Promise<CliResult> => runCli(cli, args, { input });

for (const cli of CLIS) {
  describe(cli.name, () => {
    test('exec prints output, returns the exit code; -e, --env-file, -w, -u apply', async () => {
      const r = await run(cli.path, ['exec', 'ex', 'sh', '-c', 'echo hi; echo oops >&2; exit 5']);
      assert.equal(r.code, 5);
      assert.equal(r.stdout, 'hi\n');
      assert.equal(r.stderr, 'oops\n');
      const envFile = join(configDir, 'exec.env');
      writeFileSync(envFile, '# comment\nF=file\n');
      const o = await run(cli.path, ['exec', '-e', 'X=1', '--env-file', envFile, '-w', '/tmp', '-u', '99:98', 'ex', 'sh', '-c', 'echo $C $X $F $(pwd) $(id -u) $(id -g)']);
      assert.equal(o.code, 0, o.stderr);
      assert.equal(o.stdout, 'ctr 1 file /tmp 99 98\n');
    });

    test('exec -i feeds stdin; exec -d runs in the background', async () => {
      const r = await run(cli.path, ['exec', '-i', 'ex', 'sh', '-c', 'tr a-z A-Z'], 'piped text\n');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'PIPED TEXT\n');
      const marker = `/tmp/bg-${Date.now()}`;
      const dd = await run(cli.path, ['exec', '-d', 'ex', 'sh', '-c', `sleep 0.2; touch ${marker}`]);
      assert.equal(dd.code, 0, dd.stderr);
      assert.equal(dd.stdout, '');
      let found = 1;
      for (let i = 0; i < 30 && found !== 0; i++) {
        await new Promise((res) => setTimeout(res, 100));
        found = (await run(cli.path, ['exec', 'ex', 'test', '-e', marker])).code;
      }
      assert.equal(found, 0);
    });

    test('exec into a stopped container fails with Docker\'s message', async () => {
      const r = await run(cli.path, ['exec', 'ex-stopped', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Container [0-9a-f]{64} is not running/);
    });

    test('exec -it under tmux: a shell with a terminal of the window size, exit code comes back', async () => {
      const session = `berth-exec-${process.pid}-${Date.now()}`;
      const out = join(d.root, `${session}.exit`);
      const cmd = `DOCKER_HOST=${d.host} DOCKER_CONFIG=${configDir} ${cli.path} exec -it ex sh; echo $? > ${out}`;
      execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', cmd]);
      try {
        const screen = (): string => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
        const waitFor = async (re: RegExp): Promise<void> => {
          const t0 = Date.now();
          while (!re.test(screen())) {
            if (Date.now() - t0 > 15_000) throw new Error(`timed out waiting for ${re}; screen:\n${screen()}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        await waitFor(/[#$]\s*$/m);
        execFileSync('tmux', ['send-keys', '-t', session, 'echo typed-$((6*7)) $C', 'Enter']);
        await waitFor(/typed-42 ctr/);
        execFileSync('tmux', ['send-keys', '-t', session, 'stty size', 'Enter']);
        await waitFor(/^30 100\s*$/m);
        execFileSync('tmux', ['send-keys', '-t', session, 'exit 9', 'Enter']);
        const t0 = Date.now();
        while (!existsSync(out) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 100));
        assert.equal(readFileSync(out, 'utf8').trim(), '9');
      } finally {
        try { execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' }); } catch { /* ended */ }
      }
    });
  });
}

const PY = `
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
ctr = c.containers.get('ex')
r = ctr.exec_run(['sh', '-c', 'echo py-out; echo py-err >&2; exit 3'])
assert r.exit_code == 3, r
assert b'py-out' in r.output and b'py-err' in r.output, r.output
r = ctr.exec_run(['sh', '-c', 'echo $A'], environment={'A': 'envd'}, workdir='/tmp', demux=True)
assert r.exit_code == 0 and r.output == (b'envd\\n', None), r
r = ctr.exec_run('id -u', user='4321')
assert r.output == b'4321\\n', r
r = ctr.exec_run('tty', tty=True)
assert r.output.startswith(b'/dev/pts/'), r
print('ok')
`;

test('docker-py exec_run: output, exit code, environment, demux, user, tty', { skip: DOCKER_PY_SKIP }, () => {
  const out = execFileSync('python3', ['-c', PY, d.host], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(out.trim(), 'ok');
});
