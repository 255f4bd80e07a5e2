import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { startTestDaemon, importBusybox, type TestDaemon } from '../helpers/daemon-harness.js';
import { CLIENT_CLIS, clientRunner, makeDockerConfigDir } from '../helpers/client-clis.js';

// top, pause/unpause, update and events through berth's CLI and both docker CLIs.
const CLIS = CLIENT_CLIS;

let d: TestDaemon;
let cfg: string;
before(async () => {
  d = await startTestDaemon();
  cfg = makeDockerConfigDir();
  await importBusybox(d, 'busybox:latest');
});
after(async () => {
  await d?.destroy();
  if (cfg) rmSync(cfg, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({ ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: cfg });

const run = clientRunner(env, 30_000);

for (const cli of CLIS) {
  describe(cli.name, () => {
    const name = `ops-${cli.path.endsWith('berth') ? 'b' : cli.path.includes('local') ? 'd28' : 'd20'}`;

    test('events streams while other commands run; top, pause/unpause and update work', async () => {
      const ev = spawn(cli.path, ['events', '--filter', `container=${name}`, '--format', '{{.Action}}'], { env: env() });
      let evOut = '';
      ev.stdout.on('data', (c: Buffer) => { evOut += c.toString(); });
      try {
        await new Promise((r) => setTimeout(r, 300));
        assert.equal((await run(cli.path, ['run', '-d', '--name', name, 'busybox', 'sleep', '600'])).code, 0);
        const top = await run(cli.path, ['top', name]);
        assert.equal(top.code, 0, top.stderr);
        assert.match(top.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
        assert.match(top.stdout, /sleep 600/);
        assert.equal((await run(cli.path, ['pause', name])).stdout.trim(), name);
        const st = await run(cli.path, ['inspect', '-f', '{{.State.Status}}', name]);
        assert.equal(st.stdout.trim(), 'paused');
        const ex = await run(cli.path, ['exec', name, 'true']);
        assert.notEqual(ex.code, 0);
        assert.match(ex.stderr, /is paused, unpause the container before exec/);
        assert.equal((await run(cli.path, ['unpause', name])).stdout.trim(), name);
        const up = await run(cli.path, ['update', '--memory', '96m', '--cpus', '0.5', '--pids-limit', '40', '--restart', 'on-failure:2', name]);
        assert.equal(up.code, 0, up.stderr);
        const hc = await run(cli.path, ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}', name]);
        assert.equal(hc.stdout.trim(), `${96 * 1024 * 1024} 500000000 40 on-failure`);
        assert.equal((await run(cli.path, ['rm', '-f', name])).code, 0);
        const t0 = Date.now();
        while (!/destroy/.test(evOut) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
        const actions = evOut.trim().split('\n');
        for (const a of ['create', 'start', 'pause', 'unpause', 'update', 'kill', 'die', 'destroy']) assert.ok(actions.includes(a), `${a} in ${actions.join(',')}`);
        assert.ok(actions.indexOf('pause') < actions.indexOf('unpause'));
      } finally {
        ev.kill();
      }
    });

    test('stats --no-stream: the table for running containers, --format, -a includes stopped ones', async () => {
      const sname = `${name}-stats`;
      assert.equal((await run(cli.path, ['run', '-d', '--name', sname, '--memory', '32m', 'busybox', 'sleep', '600'])).code, 0);
      const t = await run(cli.path, ['stats', '--no-stream', sname]);
      assert.equal(t.code, 0, t.stderr);
      const lines = t.stdout.trim().split('\n');
      assert.match(lines[0]!, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
      assert.match(lines[1]!, new RegExp(`^[0-9a-f]{12}\\s+${sname}\\s+\\d+\\.\\d\\d%\\s+\\S+ / 32MiB\\s+\\d+\\.\\d\\d%\\s+.*\\s1$`));
      const f = await run(cli.path, ['stats', '--no-stream', '--format', '{{.Name}}:{{.PIDs}}', sname]);
      assert.equal(f.stdout.trim(), `${sname}:1`);
      await run(cli.path, ['rm', '-f', sname]);
    });

    test('run --device, --group-add <name>, --ipc host, --cgroup-parent; ps shows Restarting during a restart back-off', async () => {
      const hostIpc = (await import('node:fs')).readlinkSync('/proc/self/ns/ipc');
      const parent = `berthe2e-${name}-${process.pid}`;
      try {
        const r = await run(cli.path, ['run', '--rm', '--device', '/dev/kmsg:/dev/k:r', '--group-add', 'users', '--ipc', 'host', '--cgroup-parent', parent,
          'busybox', 'sh', '-c', 'ls -l /dev/k; id -G; readlink /proc/self/ns/ipc; cat /proc/self/cgroup | grep -c ' + parent]);
        assert.equal(r.code, 0, r.stderr);
        const [ls, gids, ipc, inParent] = r.stdout.trim().split('\n');
        assert.match(ls!, /^c.* 1,\s+11 /);
        assert.ok(gids!.split(' ').includes('100'), gids);
        assert.equal(ipc, hostIpc);
        assert.ok(Number(inParent) > 0, r.stdout);
      } finally {
        for (const ctl of (await import('node:fs')).readdirSync('/sys/fs/cgroup')) {
          try { (await import('node:fs')).rmdirSync(`/sys/fs/cgroup/${ctl}/${parent}`); } catch { /* not there */ }
        }
      }
      const id = (await run(cli.path, ['run', '-d', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 3'])).stdout.trim();
      try {
        // Wait for a back-off long enough (3.2 s after the fifth restart) that rm lands inside it:
        // the count is read first, so the status read after it belongs to that back-off or a later one.
        // A status read at the very end of a back-off may be followed by the restart itself
        // before rm arrives; then rm meets a running container, and the next back-off is tried.
        let rm = { code: 0, stdout: '', stderr: '' };
        for (let attempt = 0; attempt < 3; attempt++) {
          let seen = '';
          for (let i = 0; i < 200 && !seen.startsWith('Restarting (3)'); i++) {
            const count = Number((await run(cli.path, ['inspect', '--format', '{{.RestartCount}}', id])).stdout.trim());
            seen = count >= 5 ? (await run(cli.path, ['ps', '--filter', `id=${id}`, '--format', '{{.Status}}'])).stdout.trim() : '';
            if (!seen.startsWith('Restarting (3)')) await new Promise((res) => setTimeout(res, 50));
          }
          assert.match(seen, /^Restarting \(3\) /);
          rm = await run(cli.path, ['rm', id]);
          assert.notEqual(rm.code, 0);
          if (!/You cannot remove a running container/.test(rm.stderr)) break;
        }
        assert.match(rm.stderr, /You cannot remove a restarting container/);
      } finally {
        await run(cli.path, ['rm', '-f', id]);
      }
    });

    test('run --health-cmd: ps shows (healthy), inspect has State.Health; --memory limit OOM-kills', async () => {
      const h = `${name}-h`;
      const r = await run(cli.path, ['run', '-d', '--name', h, '--health-cmd', 'true', '--health-interval', '100ms', '--health-retries', '1', 'busybox', 'sleep', '600']);
      assert.equal(r.code, 0, r.stderr);
      let ps = '';
      for (let i = 0; i < 100 && !/\(healthy\)/.test(ps); i++) {
        await new Promise((res) => setTimeout(res, 50));
        ps = (await run(cli.path, ['ps', '--filter', `name=${h}`, '--format', '{{.Status}}'])).stdout;
      }
      assert.match(ps, /^Up .* \(healthy\)/);
      assert.equal((await run(cli.path, ['inspect', '-f', '{{.State.Health.Status}}', h])).stdout.trim(), 'healthy');
      await run(cli.path, ['rm', '-f', h]);
      const o = `${name}-oom`;
      const oom = await run(cli.path, ['run', '--name', o, '--memory', '8m', 'busybox', 'tail', '/dev/zero']);
      assert.equal(oom.code, 137);
      assert.equal((await run(cli.path, ['inspect', '-f', '{{.State.OOMKilled}}', o])).stdout.trim(), 'true');
      await run(cli.path, ['rm', '-f', o]);
    });
  });
}
