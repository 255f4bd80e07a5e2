import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

async function start(cmd: string[], hostConfig: Record<string, unknown>): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd, HostConfig: hostConfig });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body);
  return id;
}

const cg = (ctl: string, id: string, file: string): string => readFileSync(`/sys/fs/cgroup/${ctl}/berth/${id}/${file}`, 'utf8').trim();

test('memory, cpu, cpuset, pids and ulimit settings reach the cgroup and the process; inspect shows them', async () => {
  const id = await start(['sleep', '60'], {
    Memory: 32 << 20, MemoryReservation: 16 << 20, NanoCpus: 500_000_000, CpuShares: 256, CpusetCpus: '0', PidsLimit: 30,
    Ulimits: [{ Name: 'nofile', Soft: 512, Hard: 1024 }],
  });
  assert.equal(cg('memory', id, 'memory.limit_in_bytes'), String(32 << 20));
  assert.equal(cg('memory', id, 'memory.soft_limit_in_bytes'), String(16 << 20));
  assert.equal(cg('memory', id, 'memory.memsw.limit_in_bytes'), String(64 << 20));
  assert.equal(cg('cpu', id, 'cpu.cfs_quota_us'), '50000');
  assert.equal(cg('cpu', id, 'cpu.cfs_period_us'), '100000');
  assert.equal(cg('cpu', id, 'cpu.shares'), '256');
  assert.equal(cg('cpuset', id, 'cpuset.cpus'), '0');
  assert.equal(cg('pids', id, 'pids.max'), '30');
  const ins = (await d.api('GET', `/containers/${id}/json`)).json() as { State: { Pid: number }; HostConfig: Record<string, unknown> };
  const limits = readFileSync(`/proc/${ins.State.Pid}/limits`, 'utf8');
  assert.match(limits, /Max open files\s+512\s+1024\s+files/);
  assert.equal(ins.HostConfig['Memory'], 32 << 20);
  assert.equal(ins.HostConfig['NanoCpus'], 500_000_000);
  assert.equal(ins.HostConfig['PidsLimit'], 30);
  assert.deepEqual(ins.HostConfig['Ulimits'], [{ Name: 'nofile', Soft: 512, Hard: 1024 }]);
  await d.api('DELETE', `/containers/${id}?force=1`);
});

test('a memory hog is OOM-killed at its limit: OOMKilled, exit code 137', async () => {
  const id = await start(['tail', '/dev/zero'], { Memory: 8 << 20 });
  const w = await d.api('POST', `/containers/${id}/wait`);
  assert.equal((w.json() as { StatusCode: number }).StatusCode, 137);
  const st = ((await d.api('GET', `/containers/${id}/json`)).json() as { State: { OOMKilled: boolean; ExitCode: number } }).State;
  assert.equal(st.ExitCode, 137);
  assert.equal(st.OOMKilled, true);
  const ev = (await d.api('GET', `/events?since=0&until=${(Date.now() / 1000).toFixed(3)}&filters=${encodeURIComponent(JSON.stringify({ container: [id] }))}`)).body;
  const actions = ev.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { Action: string }).Action);
  assert.ok(actions.indexOf('oom') >= 0 && actions.indexOf('oom') < actions.indexOf('die'), actions.join(','));
});

test('a fork bomb is held by the pids limit', async () => {
  const id = await start(['sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 3 & i=$((i+1)); done; echo spawned; ls /proc | grep -c "^[0-9]"'], { PidsLimit: 12 });
  await d.api('POST', `/containers/${id}/wait`);
  const logs = (await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body;
  assert.match(logs, /can't fork|Resource temporarily unavailable/);
  await d.api('DELETE', `/containers/${id}?force=1`);
});
