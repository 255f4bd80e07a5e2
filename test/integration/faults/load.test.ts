import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, existsSync } from 'node:fs';
import { startTestDaemon, importBusybox, apiRequest, type TestDaemon } from '../../helpers/daemon-harness.js';
import { checkDaemon, conmonPids, seededRandom } from '../../helpers/fault-harness.js';

// 100 concurrent API clients creating, starting, inspecting and removing containers for a bounded
// time. BERTH_LOAD_SECONDS and BERTH_LOAD_CLIENTS scale it.
const SECONDS = Number(process.env['BERTH_LOAD_SECONDS'] ?? 30);
const CLIENTS = Number(process.env['BERTH_LOAD_CLIENTS'] ?? 100);

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
/** The daemon's descriptors by kind (socket, pipe, anon_inode, file path), for a failure message. */
function fdKinds(pid: number): string {
  const kinds = new Map<string, number>();
  for (const f of readdirSync(`/proc/${pid}/fd`)) {
    let t = '?';
    try { t = readlinkSync(`/proc/${pid}/fd/${f}`).replace(/\[\d+\]$/, '').replace(/\/[0-9a-f]{64}.*/, '/<id>'); } catch { /* closed */ }
    kinds.set(t, (kinds.get(t) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${k} x${n}`).join(', ');
}
const mountsUnder = (root: string): string[] => readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(root));

test(`load: ${CLIENTS} concurrent clients for ${SECONDS} s create, start, inspect and remove containers`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const pid = d.proc.pid!;
  // Warm up once so lazily loaded code is not counted as growth.
  const w = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] })).json() as { Id: string };
  await d.api('POST', `/containers/${w.Id}/start`);
  await d.api('DELETE', `/containers/${w.Id}?force=1`);
  await new Promise((r) => setTimeout(r, 500));
  const start = { fds: fds(pid), rss: rssKiB(pid), mounts: mountsUnder(d.root).length, conmons: conmonPids(d.execRoot).length };

  const ids = new Set<string>();
  const seen = new Set<string>();
  const unexpected: string[] = [];
  const counts = { requests: 0, cycles: 0, expected4xx: 0 };
  let until = 0;
  const note = (what: string, status: number, ok: number[], allowed: number[], body: string): boolean => {
    counts.requests++;
    if (ok.includes(status)) return true;
    if (allowed.includes(status)) { counts.expected4xx++; return false; }
    if (unexpected.length < 20) unexpected.push(`${what}: ${status} ${body.slice(0, 200)}`);
    return false;
  };
  const client = async (n: number): Promise<void> => {
    const rand = seededRandom(n + 1);
    while (Date.now() < until) {
      const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: rand() < 0.5 ? ['true'] : ['sleep', '5'] });
      if (!note('create', c.status, [201], [], c.body)) continue;
      const id = (c.json() as { Id: string }).Id;
      ids.add(id);
      seen.add(id);
      const s = await d.api('POST', `/containers/${id}/start`);
      note('start', s.status, [204], [], s.body);
      const i = await d.api('GET', `/containers/${id}/json`);
      note('inspect', i.status, [200], [], i.body);
      // Someone else's container: it may be gone already (404) or busy (409).
      const others = [...ids];
      const other = others[Math.floor(rand() * others.length)]!;
      const o = await d.api('GET', `/containers/${other}/json`);
      note('inspect other', o.status, [200], [404], o.body);
      if (rand() < 0.2) {
        const k = await d.api('POST', `/containers/${other}/kill`);
        note('kill other', k.status, [204], [404, 409], k.body);
      }
      const r = await d.api('DELETE', `/containers/${id}?force=1`);
      note('remove', r.status, [204], [], r.body);
      ids.delete(id);
      counts.cycles++;
    }
  };
  // Two rounds of half the time each: the heap grows in the first (V8 keeps what it took), and
  // must not keep growing in the second.
  const t0 = Date.now();
  until = Date.now() + (SECONDS / 2) * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  await new Promise((r) => setTimeout(r, 2000));
  const rssAfterFirst = rssKiB(pid);
  until = Date.now() + (SECONDS / 2) * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n + CLIENTS)));
  const elapsed = (Date.now() - t0) / 1000;

  // Whatever a failed remove left, remove now, then let the daemon settle.
  for (const id of ids) await d.api('DELETE', `/containers/${id}?force=1`);
  // Idle keep-alive connections close after the server's 5 s keep-alive timeout.
  await new Promise((r) => setTimeout(r, 6000));
  const end = { fds: fds(pid), rss: rssKiB(pid), mounts: mountsUnder(d.root).length, conmons: conmonPids(d.execRoot).length };
  const left = (await d.api('GET', '/containers/json?all=1')).json() as unknown[];
  const cgroups = ['pids', 'memory'].flatMap((ctl) => [...seen].filter((id) => existsSync(`/sys/fs/cgroup/${ctl}/berth/${id}`)));
  const netns = [...seen].filter((id) => existsSync(`/run/netns/berth-${id}`));
  process.stdout.write(`# load: ${CLIENTS} clients, ${elapsed.toFixed(1)} s, ${counts.cycles} create/start/inspect/rm cycles (${(counts.cycles / elapsed).toFixed(1)}/s), `
    + `${counts.requests} requests, ${counts.expected4xx} expected 404/409, ${unexpected.length} unexpected; `
    + `fds ${start.fds} -> ${end.fds}, RSS ${(start.rss / 1024).toFixed(0)} -> ${(rssAfterFirst / 1024).toFixed(0)} (first half) -> ${(end.rss / 1024).toFixed(0)} MiB, mounts ${start.mounts} -> ${end.mounts}, conmon ${start.conmons} -> ${end.conmons}, netns left ${[...seen].filter((id) => existsSync(`/run/netns/berth-${id}`)).length}\n`);
  assert.deepEqual(unexpected, []);
  assert.ok(counts.cycles >= CLIENTS, `every client completed cycles (${counts.cycles})`);
  assert.deepEqual(left, []);
  assert.ok(end.fds <= start.fds + 5, `fds ${start.fds} -> ${end.fds}: ${fdKinds(pid)}`);
  assert.equal(end.mounts, start.mounts);
  assert.equal(end.conmons, 0);
  assert.deepEqual(cgroups, []);
  assert.deepEqual(netns, [], 'no network namespace left');
  assert.ok(end.rss < rssAfterFirst + 32 * 1024, `RSS does not keep growing: ${rssAfterFirst} KiB after the first half, ${end.rss} KiB after the second`);
  assert.ok(end.rss < start.rss + 128 * 1024, `RSS ${start.rss} KiB -> ${end.rss} KiB`);
  const check = await checkDaemon(d);
  assert.deepEqual(check.Problems, []);
  assert.ok(apiRequest);
});
