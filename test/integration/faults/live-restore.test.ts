import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';
import { request } from 'node:http';
import { checkDaemon, outsideLeaks } from '../../helpers/fault-harness.js';

function httpGet(port: number, path = '/hostname'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function retry<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try { return await fn(); } catch (err) { if (Date.now() > until) throw err; await new Promise((r) => setTimeout(r, 100)); }
  }
}

// 20 running containers (a volume each, a counter every 50 ms on stdout) and 3 with published ports survive a kill -9 of
// berthd: re-adopted, their logs without a gap, the exits that happened meanwhile recorded with
// their real codes, restart policies applied to them.
const COUNT = 20;
let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

async function run(name: string, body: Record<string, unknown>): Promise<string> {
  const c = await d.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', ...body });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body);
  return id;
}

/** The counter values in the container's stdout, from the json-file log through the API. */
async function counters(id: string): Promise<number[]> {
  const r = await d.api('GET', `/containers/${id}/logs?stdout=1`);
  assert.equal(r.status, 200);
  // stdcopy frames: 8-byte header then the payload; the payload lines are the numbers.
  const buf = Buffer.from(r.body, 'latin1');
  const out: number[] = [];
  let text = '';
  for (let off = 0; off + 8 <= buf.length;) {
    const len = buf.readUInt32BE(off + 4);
    text += buf.subarray(off + 8, off + 8 + len).toString('utf8');
    off += 8 + len;
  }
  for (const line of text.split('\n')) if (/^\d+$/.test(line)) out.push(Number(line));
  return out;
}

test(`kill -9 with ${COUNT} running containers: all re-adopted, logs without a gap, exits and restart policies honoured`, { timeout: 120_000 }, async () => {
  const ids: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    ids.push(await run(`live-${i}`, {
      Cmd: ['sh', '-c', 'i=0; while true; do echo $i; echo $i > /data/last; i=$((i+1)); sleep 0.05; done'],
      HostConfig: { Binds: [`live-vol-${i}:/data`] },
    }));
  }
  // Published ports: three web servers reachable through their host ports before and after.
  const webs: Array<{ id: string; port: number }> = [];
  for (let i = 0; i < 3; i++) {
    const id = await run(`live-web-${i}`, {
      Cmd: ['httpd', '-f', '-p', '80', '-h', '/etc'], ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    const ins = (await d.api('GET', `/containers/${id}/json`)).json() as { NetworkSettings: { Ports: Record<string, Array<{ HostPort: string }>> } };
    const port = Number(ins.NetworkSettings.Ports['80/tcp']![0]!.HostPort);
    assert.match(await retry(() => httpGet(port)), new RegExp(id.slice(0, 12)));
    webs.push({ id, port });
  }
  const quitter = await run('live-quitter', { Cmd: ['sh', '-c', 'sleep 1.5; exit 7'] });
  const restarter = await run('live-restarter', { Cmd: ['sh', '-c', 'sleep 1.5; exit 3'], HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 } } });
  const always = await run('live-always', { Cmd: ['sh', '-c', 'sleep 1.5; exit 0'], HostConfig: { RestartPolicy: { Name: 'always' } } });
  await new Promise((r) => setTimeout(r, 500));
  const before = await Promise.all(ids.map(counters));

  await d.crash();
  await new Promise((r) => setTimeout(r, 3000));
  await d.restart();

  const list = (await d.api('GET', '/containers/json')).json() as Array<{ Id: string; State: string }>;
  for (const id of ids) assert.ok(list.some((c) => c.Id === id && c.State === 'running'), `container ${id.slice(0, 12)} re-adopted and running`);

  for (const w of webs) {
    assert.match(await retry(() => httpGet(w.port)), new RegExp(w.id.slice(0, 12)), 'the published port still reaches the container');
  }
  const q = (await d.api('GET', `/containers/${quitter}/json`)).json() as { State: { Status: string; ExitCode: number } };
  assert.equal(q.State.Status, 'exited');
  assert.equal(q.State.ExitCode, 7, 'the exit that happened while berthd was down keeps its real code');

  // on-failure and always: the daemon brings them back once it is up again.
  for (const id of [restarter, always]) {
    let st = { State: { Running: false }, RestartCount: 0 };
    for (let i = 0; i < 40 && !(st.State.Running || st.RestartCount > 0); i++) {
      st = (await d.api('GET', `/containers/${id}/json`)).json() as typeof st;
      if (!(st.State.Running || st.RestartCount > 0)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(st.State.Running || st.RestartCount > 0, `restart policy acted on ${id.slice(0, 12)}: ${JSON.stringify(st.State)}`);
  }

  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < COUNT; i++) {
    const nums = await counters(ids[i]!);
    assert.ok(nums.length > before[i]!.length + 60, `container ${i}: the log grew across the downtime (${before[i]!.length} -> ${nums.length})`);
    const gaps = nums.filter((n, k) => n !== k);
    assert.deepEqual(gaps.slice(0, 3), [], `container ${i}: every number present, in order`);
  }
  const check = await checkDaemon(d);
  assert.deepEqual(check.Problems, []);
  assert.deepEqual(await outsideLeaks(d), []);
});
