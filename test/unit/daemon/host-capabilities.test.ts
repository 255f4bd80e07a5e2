import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostWarnings, readHostCapabilities } from '../../../src/daemon/host-capabilities.js';

function fakeHost(t: { after(fn: () => void): void }, files: string[], bridgeNf: string | undefined): { root: string; procSys: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-caps-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'cgroup');
  mkdirSync(root);
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), '');
  }
  const procSys = join(dir, 'sys');
  if (bridgeNf !== undefined) {
    mkdirSync(join(procSys, 'net/bridge'), { recursive: true });
    writeFileSync(join(procSys, 'net/bridge/bridge-nf-call-iptables'), `${bridgeNf}\n`);
    writeFileSync(join(procSys, 'net/bridge/bridge-nf-call-ip6tables'), `${bridgeNf}\n`);
  }
  return { root, procSys };
}

const V1_FULL = [
  'memory/memory.limit_in_bytes', 'memory/memory.memsw.limit_in_bytes', 'memory/memory.kmem.limit_in_bytes', 'memory/memory.kmem.tcp.limit_in_bytes',
  'memory/memory.oom_control', 'cpu/cpu.cfs_period_us', 'cpu/cpu.cfs_quota_us', 'cpu/cpu.shares', 'cpuset/cpuset.cpus', 'pids/pids.max',
  'blkio/blkio.throttle.read_bps_device', 'blkio/blkio.throttle.write_bps_device', 'blkio/blkio.throttle.read_iops_device', 'blkio/blkio.throttle.write_iops_device',
];

test('cgroup v1 host with everything (blkio weight gone, as on kernels since 5.0): no warnings', (t) => {
  const h = fakeHost(t, V1_FULL, '1');
  const caps = readHostCapabilities({ cgroupVersion: '1', ...h });
  assert.equal(caps.swapLimit, true);
  assert.equal(caps.blkioWeight, false);
  assert.equal(caps.bridgeNfIptables, true);
  assert.deepEqual(hostWarnings(caps, '1', true), []);
});

test('cgroup v1 host without swap accounting nor br_netfilter: dockerd\'s warnings, in its order', (t) => {
  const h = fakeHost(t, V1_FULL.filter((f) => !f.includes('memsw') && !f.includes('kmem.tcp')), undefined);
  const caps = readHostCapabilities({ cgroupVersion: '1', ...h });
  assert.deepEqual(hostWarnings(caps, '1', false), [
    'WARNING: No swap limit support',
    'WARNING: No kernel memory TCP limit support',
    'WARNING: IPv4 forwarding is disabled',
    'WARNING: bridge-nf-call-iptables is disabled',
    'WARNING: bridge-nf-call-ip6tables is disabled',
  ]);
});

test('cgroup v2: capabilities from the root controllers; nothing said of kernel memory or OOM-kill disabling', (t) => {
  const h = fakeHost(t, [], '1');
  writeFileSync(join(h.root, 'cgroup.controllers'), 'cpuset cpu memory pids\n');
  const caps = readHostCapabilities({ cgroupVersion: '2', ...h });
  assert.equal(caps.memoryLimit, true);
  assert.equal(caps.kernelMemory, false);
  assert.deepEqual(hostWarnings(caps, '2', true), [
    'WARNING: No io.weight support',
    'WARNING: No io.weight (per device) support',
    'WARNING: No io.max (rbps) support',
    'WARNING: No io.max (wbps) support',
    'WARNING: No io.max (riops) support',
    'WARNING: No io.max (wiops) support',
  ]);
});
