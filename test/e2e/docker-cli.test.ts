import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, busyboxRootfsTar, type TestDaemon } from '../helpers/daemon-harness.js';
import { CLIENT_CLIS, clientRunner, makeDockerConfigDir } from '../helpers/client-clis.js';

// The same user journeys through the real docker CLIs and through berth's own CLI.
const CLIS = CLIENT_CLIS;

let d: TestDaemon;
let configDir: string;

before(async () => {
  d = await startTestDaemon();
  configDir = makeDockerConfigDir();
});
after(async () => {
  await d?.destroy();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: configDir, DOCKER_BUILDKIT: '0' };
}

const docker = clientRunner(env);

for (const cli of CLIS) {
  describe(cli.name, () => {
    const tag = `busybox:${cli.path.endsWith('berth') ? 'berth' : cli.path.includes('local') ? 'cli28' : 'cli20'}`;

    test('import a busybox rootfs', async () => {
      const r = await docker(cli.path, ['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), tag]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
      const images = await docker(cli.path, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.ok(images.stdout.split('\n').includes(tag), images.stdout);
    });

    test('run --rm echo prints and leaves nothing', async () => {
      const r = await docker(cli.path, ['run', '--rm', tag, 'echo', 'hello from berth']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'hello from berth\n');
      const ps = await docker(cli.path, ['ps', '-aq']);
      assert.equal(ps.stdout.trim(), '');
    });

    test('run exit codes: the container\'s own, 127 for a missing command, 126 for one that cannot run', async () => {
      const r = await docker(cli.path, ['run', '--rm', tag, 'sh', '-c', 'exit 3']);
      assert.equal(r.code, 3);
      const missing = await docker(cli.path, ['run', '--rm', tag, 'nosuchcommand']);
      assert.equal(missing.code, 127, missing.stderr);
      assert.match(missing.stderr, /executable file not found in \$PATH/);
      const dir = await docker(cli.path, ['run', '--rm', tag, '/etc']);
      assert.equal(dir.code, 126, dir.stderr);
      const ps = await docker(cli.path, ['ps', '-aq']);
      assert.equal(ps.stdout.trim(), '', 'failed --rm runs leave no container');
    });

    test('piped stdin reaches the container', async () => {
      const r = await docker(cli.path, ['run', '--rm', '-i', tag, 'cat'], { input: 'piped line\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'piped line\n');
    });

    test('run -d, logs -f, stop', async () => {
      const run = await docker(cli.path, ['run', '-d', '--name', `ticker-${tag.split(':')[1]}`, tag, 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done']);
      assert.equal(run.code, 0, run.stderr);
      const id = run.stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      const follower = spawn(cli.path, ['logs', '-f', id], { env: env() });
      let seen = '';
      follower.stdout.on('data', (b: Buffer) => { seen += b.toString(); });
      const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
      const t0 = Date.now();
      while (!/tick 5\n/.test(seen) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
      assert.match(seen, /tick 0\ntick 1\n/);
      const pid = await docker(cli.path, ['inspect', '-f', '{{.State.Pid}}', id]);
      assert.match(pid.stdout.trim(), /^[1-9]\d*$/);
      const stop = await docker(cli.path, ['stop', '-t', '1', id]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(await exited, 0, 'logs -f ends when the container stops');
      const ps = await docker(cli.path, ['ps', '-a', '--format', '{{.ID}} {{.Status}}']);
      assert.match(ps.stdout, new RegExp(`${id.slice(0, 12)} Exited \\(\\d+\\)`));
      const renamed = await docker(cli.path, ['rename', id, `renamed-${tag.split(':')[1]}`]);
      assert.equal(renamed.code, 0, renamed.stderr);
      const name = await docker(cli.path, ['inspect', '-f', '{{.Name}}', id]);
      assert.equal(name.stdout.trim(), `/renamed-${tag.split(':')[1]}`);
      const rm = await docker(cli.path, ['rm', '-f', id]);
      assert.equal(rm.code, 0, rm.stderr);
    });

    test('run -it under tmux: typing echoes, exit code comes back', async () => {
      const session = `berth-e2e-${process.pid}-${Date.now()}`;
      const out = join(d.root, `${session}.exit`);
      const cmd = `DOCKER_HOST=${d.host} DOCKER_CONFIG=${configDir} ${cli.path} run -it --rm ${tag} sh; echo $? > ${out}`;
      execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd]);
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
        execFileSync('tmux', ['send-keys', '-t', session, 'echo typed-$((6*7))', 'Enter']);
        await waitFor(/typed-42/);
        // The terminal size reaches the container (tmux window is 120x40).
        execFileSync('tmux', ['send-keys', '-t', session, 'stty size', 'Enter']);
        await waitFor(/^40 120\s*$/m);
        // Ctrl-C interrupts the foreground command inside the container, not the client.
        execFileSync('tmux', ['send-keys', '-t', session, 'sleep 30', 'Enter']);
        await new Promise((r) => setTimeout(r, 300));
        execFileSync('tmux', ['send-keys', '-t', session, 'C-c']);
        execFileSync('tmux', ['send-keys', '-t', session, 'echo after-$((1+1))-int', 'Enter']);
        await waitFor(/after-2-int/);
        execFileSync('tmux', ['send-keys', '-t', session, 'exit 7', 'Enter']);
        const t0 = Date.now();
        while (!existsSync(out) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 100));
        assert.equal(readFileSync(out, 'utf8').trim(), '7');
      } finally {
        try { execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' }); } catch { /* ended */ }
      }
    });

    test('error messages: unknown container, duplicate name', async () => {
      const r = await docker(cli.path, ['inspect', 'no-such-container-x']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /No such object: no-such-container-x|No such container/);
      const a = await docker(cli.path, ['create', '--name', `dup-${tag.split(':')[1]}`, tag, 'true']);
      assert.equal(a.code, 0, a.stderr);
      const b = await docker(cli.path, ['create', '--name', `dup-${tag.split(':')[1]}`, tag, 'true']);
      assert.notEqual(b.code, 0);
      assert.match(b.stderr, /is already in use by container/);
      await docker(cli.path, ['rm', '-f', `dup-${tag.split(':')[1]}`]);
    });
  });
}
