import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { startTestDaemon, busyboxRootfsTar, type TestDaemon } from '../helpers/daemon-harness.js';
import { CLIENT_CLIS, clientRunner, makeDockerConfigDir } from '../helpers/client-clis.js';

// The network verbs and `run --network ... -p ...` through the real docker CLIs and berth's own.
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

const docker = clientRunner(() => ({ ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: configDir }));

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/hostname', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

for (const cli of CLIS) {
  describe(cli.name, () => {
    const img = `busybox:net-${cli.tag}`;
    const net = `net-${cli.tag}`;
    const run = async (args: string[]): Promise<string> => {
      const r = await docker(cli.path, args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };

    test('network create, ls with filters and -q, inspect with --format', async () => {
      await run(['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), img]);
      const id = await run(['network', 'create', '--label', `owner=${cli.tag}`, net]);
      assert.match(id, /^[0-9a-f]{64}$/);
      const ls = await run(['network', 'ls']);
      assert.match(ls, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/m);
      for (const n of ['bridge', 'host', 'none', net]) assert.match(ls, new RegExp(`\\s${n}\\s`));
      assert.equal(await run(['network', 'ls', '-q', '--filter', `label=owner=${cli.tag}`]), id.slice(0, 12));
      assert.equal(await run(['network', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{index .Labels "owner"}}', net]), `${net} bridge local ${cli.tag}`);
      const dup = await docker(cli.path, ['network', 'create', net]);
      assert.notEqual(dup.code, 0);
      assert.match(dup.stderr, /already exists/);
      const missing = await docker(cli.path, ['network', 'inspect', 'no-such-net']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /network no-such-net not found|No such network: no-such-net/);
    });

    test('run --network NET --network-alias -p: reachable by alias and through the published port', async () => {
      const id = await run(['run', '-d', '--name', `web-${cli.tag}`, '--network', net, '--network-alias', 'site', '-p', '127.0.0.1::80', img, 'httpd', '-f', '-p', '80', '-h', '/etc']);
      const port = await run(['port', id, '80/tcp']);
      assert.match(port, /^127\.0\.0\.1:\d+$/);
      const hostPort = Number(port.split(':')[1]);
      let body = '';
      for (let i = 0; i < 30 && !body; i++) {
        body = await httpGet(hostPort).catch(async () => { await new Promise((r) => setTimeout(r, 100)); return ''; });
      }
      assert.equal(body.trim(), id.slice(0, 12));
      assert.equal(await run(['run', '--rm', '--network', net, img, 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://site/hostname && exit 0; sleep 0.5; done; exit 1']), id.slice(0, 12));
      const ps = await run(['ps', '--filter', `name=web-${cli.tag}`, '--format', '{{.Ports}}']);
      assert.equal(ps, `127.0.0.1:${hostPort}->80/tcp`);
      const ip = await run(['inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, id]);
      assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
      const members = await run(['network', 'inspect', '--format', '{{range $k, $v := .Containers}}{{$v.Name}}{{end}}', net]);
      assert.equal(members, `web-${cli.tag}`);
    });

    test('connect, disconnect, rm refused while in use, prune', async () => {
      const other = `other-${cli.tag}`;
      await run(['network', 'create', other]);
      await run(['network', 'connect', '--alias', 'second', other, `web-${cli.tag}`]);
      const nets = await run(['inspect', '--format', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', `web-${cli.tag}`]);
      assert.deepEqual(nets.split(' ').sort(), [net, other].sort());
      assert.equal(await run(['run', '--rm', '--network', other, img, 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://second/hostname && exit 0; sleep 0.5; done; exit 1']).then((s) => s.length), 12);
      const rm = await docker(cli.path, ['network', 'rm', other]);
      assert.notEqual(rm.code, 0);
      assert.match(rm.stderr, /has active endpoints/);
      await run(['network', 'disconnect', other, `web-${cli.tag}`]);
      await run(['rm', '-f', `web-${cli.tag}`]);
      const pruned = await run(['network', 'prune', '-f']);
      assert.match(pruned, new RegExp(`^${other}$`, 'm'));
      assert.match(pruned, new RegExp(`^${net}$`, 'm'));
      const left = await run(['network', 'ls', '--format', '{{.Name}}']);
      assert.deepEqual(left.split('\n').sort(), ['bridge', 'host', 'none']);
      const predefined = await docker(cli.path, ['network', 'rm', 'bridge']);
      assert.notEqual(predefined.code, 0);
      assert.match(predefined.stderr, /pre-defined network and cannot be removed/);
    });
  });
}
