import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startTestDaemon } from '../../helpers/daemon-harness.js';

const DOCKER20 = [process.env['DOCKER20_CLI'], '/var/cache/berth-test/docker.io/usr/bin/docker', '/usr/bin/docker'].find((p) => p && existsSync(p));

function procFlag(p: string): boolean {
  try { return readFileSync(p, 'utf8').trim() === '1'; } catch { return false; }
}

test('info reports the host\'s cgroup and bridge-netfilter capabilities, and only the warnings dockerd gives for them', async (t) => {
  const d = await startTestDaemon();
  t.after(() => d.destroy());
  const info = (await d.api('GET', '/info')).json() as Record<string, unknown> & { Warnings: string[] };
  const v1 = !existsSync('/sys/fs/cgroup/cgroup.controllers');
  if (v1) {
    assert.equal(info['SwapLimit'], existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'));
    assert.equal(info['KernelMemoryTCP'], existsSync('/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes'));
  }
  assert.equal(info['BridgeNfIptables'], procFlag('/proc/sys/net/bridge/bridge-nf-call-iptables'));
  assert.equal(info['Warnings'].includes('WARNING: No swap limit support'), !info['SwapLimit']);
  assert.equal(info['Warnings'].includes('WARNING: bridge-nf-call-iptables is disabled'), !info['BridgeNfIptables']);
  // docker 20.10 prints the server's warnings, or, when there are none, its own from these flags:
  // either way what it prints must be what the host warrants.
  if (DOCKER20) {
    const r = spawnSync(DOCKER20, ['-H', `unix://${d.socket}`, 'info'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const printed = r.stderr.split('\n').filter((l) => l.startsWith('WARNING:'));
    assert.deepEqual(printed, info['Warnings'].filter((w) => w.startsWith('WARNING:')));
  }
});
