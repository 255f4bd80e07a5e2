import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let id: string;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
  const c = await d.api('POST', '/containers/create?name=st', { Image: 'busybox', Cmd: ['sh', '-c', 'while :; do :; done'], HostConfig: { Memory: 64 << 20, PidsLimit: 50, NanoCpus: 500_000_000 } });
  id = (c.json() as { Id: string }).Id;
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
});
after(async () => { await d?.destroy(); });

interface Sample {
  name: string; id: string; read: string; preread: string;
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage: number; limit: number; stats: Record<string, number> };
  pids_stats: { current: number; limit: number };
  networks?: Record<string, unknown>;
}

test('one sample (stream=0) has cpu, precpu, memory with the limit, pids; CPU stays near the --cpus quota', async () => {
  await new Promise((r) => setTimeout(r, 500));
  const r = await d.api('GET', `/containers/${id}/stats?stream=0`);
  assert.equal(r.status, 200);
  const s = JSON.parse(r.body) as Sample;
  assert.equal(s.name, '/st');
  assert.equal(s.id, id);
  assert.ok(s.cpu_stats.cpu_usage.total_usage > s.precpu_stats.cpu_usage.total_usage);
  assert.ok(s.cpu_stats.system_cpu_usage > (s.precpu_stats.system_cpu_usage ?? 0));
  assert.equal(s.memory_stats.limit, 64 << 20);
  assert.ok(s.memory_stats.usage > 0);
  assert.ok('cache' in s.memory_stats.stats || 'file' in s.memory_stats.stats);
  assert.equal(s.pids_stats.current, 1);
  assert.equal(s.pids_stats.limit, 50);
  assert.ok(s.networks !== undefined);
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = s.cpu_stats.system_cpu_usage - (s.precpu_stats.system_cpu_usage ?? 0);
  const pct = (cpuDelta / sysDelta) * s.cpu_stats.online_cpus * 100;
  assert.ok(pct > 50 * 0.85 && pct < 50 * 1.15, `--cpus 0.5 busy loop at ${pct.toFixed(1)}%`);
  const one = JSON.parse((await d.api('GET', `/containers/${id}/stats?stream=0&one-shot=1`)).body) as Sample;
  assert.equal(one.precpu_stats.cpu_usage.total_usage, 0);
  assert.equal(one.preread, '0001-01-01T00:00:00Z');
});

test('stream=1 sends one sample per second until the client goes away; a stopped container gets one empty sample', async () => {
  const samples = await new Promise<Sample[]>((resolve, reject) => {
    const got: Sample[] = [];
    const req = request({ socketPath: d.socket, path: `/containers/${id}/stats` }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) if (l) got.push(JSON.parse(l) as Sample);
        if (got.length >= 2) { req.destroy(); resolve(got); }
      });
    });
    req.on('error', (e) => { if (got.length < 2) reject(e); });
    req.end();
  });
  assert.equal(samples.length, 2);
  assert.equal(samples[1]!.preread, samples[0]!.read);
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
  const stopped = (c.json() as { Id: string }).Id;
  const r = await d.api('GET', `/containers/${stopped}/stats`);
  const lines = r.body.split('\n').filter(Boolean);
  assert.equal(lines.length, 1);
  assert.equal((JSON.parse(lines[0]!) as Sample).read, '0001-01-01T00:00:00Z');
  assert.equal((await d.api('GET', '/containers/nope/stats?stream=0')).status, 404);
});
