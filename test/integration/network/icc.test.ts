import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

// A daemon with --icc=false: containers on its default bridge cannot reach each other, the host
// still reaches them through published ports, and user networks keep their own setting.
let d: TestDaemon;
before(async () => {
  d = await startTestDaemon(['--icc=false']);
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

function ok(args: string[]): string {
  const r = d.berth(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function ipOn(id: string, network: string): string {
  return ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, id]);
}

/** Can `from` fetch the page `to` serves on port 80 (busybox httpd)? */
function reaches(from: string, ip: string): boolean {
  // busybox's wget -T crashes, so the time limit comes from timeout.
  const r = d.berth(['exec', from, 'timeout', '3', 'wget', '-q', '-O', '-', `http://${ip}/`]);
  return r.code === 0 && r.stdout.includes('icc-page');
}

function server(args: string[]): string {
  return ok(['run', '-d', ...args, 'busybox', 'sh', '-c', 'mkdir -p /w && echo icc-page > /w/index.html && httpd -f -p 80 -h /w']);
}

test('--icc=false: no traffic between containers of the default bridge; published ports still answer', async () => {
  const opt = JSON.parse(ok(['network', 'inspect', 'bridge'])) as Array<{ Options: Record<string, string> }>;
  assert.equal(opt[0]!.Options['com.docker.network.bridge.enable_icc'], 'false');
  const srv = server(['-p', '127.0.0.1::80']);
  const client = ok(['run', '-d', 'busybox', 'sleep', '120']);
  try {
    const port = ok(['port', srv, '80']).split(':').pop()!;
    let page = '';
    for (let i = 0; i < 40 && !page.includes('icc-page'); i++) {
      page = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => '');
      if (!page.includes('icc-page')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(page, /icc-page/, 'the host reaches the published port');
    assert.equal(reaches(client, ipOn(srv, 'bridge')), false, 'a neighbour on the default bridge is cut off');
  } finally {
    d.berth(['rm', '-f', srv, client]);
  }
});

test('user networks: traffic flows unless created with -o com.docker.network.bridge.enable_icc=false', () => {
  ok(['network', 'create', 'icc-open']);
  ok(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', 'icc-closed']);
  const ids: string[] = [];
  try {
    const openSrv = server(['--network', 'icc-open']);
    const openCli = ok(['run', '-d', '--network', 'icc-open', 'busybox', 'sleep', '120']);
    const closedSrv = server(['--network', 'icc-closed']);
    const closedCli = ok(['run', '-d', '--network', 'icc-closed', 'busybox', 'sleep', '120']);
    ids.push(openSrv, openCli, closedSrv, closedCli);
    let open = false;
    for (let i = 0; i < 20 && !open; i++) open = reaches(openCli, ipOn(openSrv, 'icc-open'));
    assert.ok(open, 'containers of an ordinary user network reach each other');
    assert.equal(reaches(closedCli, ipOn(closedSrv, 'icc-closed')), false, 'enable_icc=false cuts them off');
  } finally {
    if (ids.length) d.berth(['rm', '-f', ...ids]);
    d.berth(['network', 'rm', 'icc-open', 'icc-closed']);
  }
  const rules = execFileSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' });
  assert.doesNotMatch(rules, /-A BERTH-ISOLATION-1 -i (br-[0-9a-f]{12}) -o \1 -j DROP/, 'the network\'s rule went with it');
});

test('--icc=false with --iptables=false is refused in Docker\'s words', async () => {
  const { spawnSync } = await import('node:child_process');
  const { REPO } = await import('../../helpers/daemon-harness.js');
  const r = spawnSync(process.execPath, [`${REPO}/bin/berthd`, '--icc=false', '--iptables=false', '--validate'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /You specified --iptables=false with --icc=false\. ICC=false uses iptables to function\. Please set --icc or --iptables to true\./);
});
