import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let bindDir: string;

before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
  bindDir = mkdtempSync(join(tmpdir(), 'berth-bind-'));
  writeFileSync(join(bindDir, 'hello.txt'), 'from the host\n');
});
after(async () => {
  await d?.destroy();
  rmSync(bindDir, { recursive: true, force: true });
});

/** Runs a container to completion and returns its exit code and combined output. */
async function runToEnd(body: Record<string, unknown>): Promise<{ code: number; out: string; id: string }> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', ...body });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  const w = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body);
  const code = ((await w).json() as { StatusCode: number }).StatusCode;
  const logs = await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  // Strip stdcopy headers.
  const raw = Buffer.from(logs.body, 'latin1');
  let out = '';
  for (let i = 0; i + 8 <= raw.length;) {
    const len = raw.readUInt32BE(i + 4);
    out += raw.subarray(i + 8, i + 8 + len).toString('utf8');
    i += 8 + len;
  }
  await d.api('DELETE', `/containers/${id}`);
  return { code, out, id };
}

test('the API socket is mode 0660', () => {
  assert.equal(statSync(d.socket).mode & 0o777, 0o660);
});

test('Env, WorkingDir, User, Hostname and Domainname reach the process', async () => {
  const r = await runToEnd({
    Cmd: ['sh', '-c', 'echo "$FOO|$(pwd)|$(id -u):$(id -g)|$(hostname)|$HOSTNAME"'],
    Env: ['FOO=bar baz'], WorkingDir: '/work/dir', User: 'nobody', Hostname: 'myhost', Domainname: 'example.test',
  });
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), 'bar baz|/work/dir|65534:65534|myhost|myhost');
});

test('an unknown user fails the start with Docker\'s message', async (t) => {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], User: 'nosuchuser' });
  const id = (c.json() as { Id: string }).Id;
  t.after(async () => { await d.api('DELETE', `/containers/${id}?force=1`); });
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 500);
  assert.match(s.body, /unable to find user nosuchuser: no matching entries in passwd file/);
});

test('Entrypoint with Cmd, and an empty Entrypoint clearing the image one', async () => {
  const r = await runToEnd({ Entrypoint: ['echo', 'entry'], Cmd: ['arg1'] });
  assert.equal(r.out, 'entry arg1\n');
  const r2 = await runToEnd({ Entrypoint: [], Cmd: ['echo', 'plain'] });
  assert.equal(r2.out, 'plain\n');
});

test('ReadonlyRootfs refuses writes; binds show host files; ro binds refuse writes', async () => {
  const ro = await runToEnd({ Cmd: ['touch', '/newfile'], HostConfig: { ReadonlyRootfs: true } });
  assert.notEqual(ro.code, 0);
  assert.match(ro.out, /Read-only file system/);
  const bind = await runToEnd({ Cmd: ['sh', '-c', 'cat /data/hello.txt && echo back > /data/out.txt'], HostConfig: { Binds: [`${bindDir}:/data`] } });
  assert.equal(bind.code, 0, bind.out);
  assert.equal(bind.out, 'from the host\n');
  assert.equal(readFileSync(join(bindDir, 'out.txt'), 'utf8'), 'back\n');
  const roBind = await runToEnd({ Cmd: ['sh', '-c', 'echo x > /data/nope'], HostConfig: { Binds: [`${bindDir}:/data:ro`] } });
  assert.notEqual(roBind.code, 0);
});

test('capabilities: defaults, CapDrop, CapAdd, Privileged', async () => {
  const dflt = await runToEnd({ Cmd: ['sh', '-c', 'grep CapEff /proc/self/status'] });
  assert.match(dflt.out, /CapEff:\s+00000000a80425fb/);
  const dropped = await runToEnd({ Cmd: ['chown', 'nobody', '/tmp'], HostConfig: { CapDrop: ['CHOWN'] } });
  assert.notEqual(dropped.code, 0);
  const added = await runToEnd({ Cmd: ['sh', '-c', 'grep CapEff /proc/self/status'], HostConfig: { CapAdd: ['NET_ADMIN'] } });
  assert.match(added.out, /CapEff:\s+00000000a80435fb/);
  const priv = await runToEnd({ Cmd: ['sh', '-c', 'mount -t tmpfs none /tmp && echo mounted'], HostConfig: { Privileged: true } });
  assert.equal(priv.out.trim(), 'mounted');
  const unpriv = await runToEnd({ Cmd: ['sh', '-c', 'mount -t tmpfs none /tmp && echo mounted'] });
  assert.notEqual(unpriv.code, 0);
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { CapAdd: ['NOT_A_CAP'] } });
  assert.equal(bad.status, 400);
  assert.equal((bad.json() as { message: string }).message, 'invalid CapAdd: unknown capability: "CAP_NOT_A_CAP"');
});

test('Init runs the command under docker-init as PID 1', async () => {
  const r = await runToEnd({ Cmd: ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "'], HostConfig: { Init: true } });
  assert.match(r.out, /^\/sbin\/docker-init -- sh -c/);
});

test('masked and read-only paths, /dev and /etc files are Docker\'s', async () => {
  const script = [
    'echo "timer=$(wc -c < /proc/timer_list)"',
    'echo "firmware=$(ls /sys/firmware | wc -l)"',
    '(echo 1 > /proc/sys/kernel/panic) 2>/dev/null && echo "procsys=rw" || echo "procsys=ro"',
    'echo "dev=$(ls /dev | tr "\\n" " ")"',
    'echo "hostname=$(cat /etc/hostname)"',
    'echo "hosts=$(grep -c localhost /etc/hosts)"',
    'echo "shm=$(mount | grep -c " /dev/shm ")"',
  ].join('; ');
  const r = await runToEnd({ Cmd: ['sh', '-c', script] });
  const kv = Object.fromEntries(r.out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(kv['timer'], '0', '/proc/timer_list masked');
  assert.equal(kv['firmware'], '0', '/sys/firmware masked');
  assert.equal(kv['procsys'], 'ro', '/proc/sys read-only');
  for (const dev of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'mqueue', 'stdin', 'stdout', 'stderr', 'fd', 'ptmx']) {
    assert.ok(kv['dev']!.split(' ').includes(dev), `/dev/${dev} present: ${kv['dev']}`);
  }
  assert.match(kv['hostname']!, /^[0-9a-f]{12}$/);
  assert.ok(Number(kv['hosts']) >= 1);
  assert.equal(kv['shm'], '1');
});

test('StopSignal from the config is what stop sends', async () => {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'trap "echo got-usr1; exit 0" USR1; while true; do sleep 0.1; done'], StopSignal: 'SIGUSR1' });
  const id = (c.json() as { Id: string }).Id;
  await d.api('POST', `/containers/${id}/start`);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  assert.equal((await d.api('POST', `/containers/${id}/stop?t=10`)).status, 204);
  assert.ok(Date.now() - t0 < 5000);
  const insp = (await d.api('GET', `/containers/${id}/json`)).json() as { State: { ExitCode: number } };
  assert.equal(insp.State.ExitCode, 0);
  await d.api('DELETE', `/containers/${id}`);
});

test('logs: tail, timestamps, since', async () => {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done'] });
  const id = (c.json() as { Id: string }).Id;
  const w = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
  await d.api('POST', `/containers/${id}/start`);
  await w;
  const tail = await d.api('GET', `/containers/${id}/logs?stdout=1&tail=2`);
  assert.ok(tail.body.includes('line4\n') && tail.body.includes('line5\n') && !tail.body.includes('line3'), tail.body);
  const ts = await d.api('GET', `/containers/${id}/logs?stdout=1&timestamps=1&tail=1`);
  assert.match(ts.body, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line5\n/);
  const future = await d.api('GET', `/containers/${id}/logs?stdout=1&since=${Math.floor(Date.now() / 1000) + 60}`);
  assert.equal(future.body, '');
  const none = await d.api('GET', `/containers/${id}/logs`);
  assert.equal(none.status, 400);
  await d.api('DELETE', `/containers/${id}`);
});

test('rmi of an image a container uses is a 409 unless forced', async () => {
  await d.api('POST', '/images/busybox/tag?repo=inuse&tag=1');
  const c = await d.api('POST', '/containers/create', { Image: 'inuse:1', Cmd: ['true'] });
  const id = (c.json() as { Id: string }).Id;
  const del = await d.api('DELETE', '/images/inuse:1');
  assert.equal(del.status, 200, 'another tag keeps the image: only the reference goes');
  await d.api('POST', '/images/busybox/tag?repo=solo&tag=1');
  const imgId = ((await d.api('GET', '/images/busybox/json')).json() as { Id: string }).Id;
  const byId = await d.api('DELETE', `/images/${imgId}`);
  assert.equal(byId.status, 409);
  assert.match(byId.body, /must be forced|is being used/);
  await d.api('DELETE', `/containers/${id}`);
  await d.api('DELETE', '/images/solo:1');
});

test('list filters: label, name, id, ancestor, exited, limit', async () => {
  const mk = async (name: string, labels: Record<string, string>, cmd: string[]): Promise<string> => {
    const c = await d.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: cmd, Labels: labels });
    return (c.json() as { Id: string }).Id;
  };
  const a = await mk('flt-a', { tier: 'web' }, ['true']);
  const b = await mk('flt-b', { tier: 'db' }, ['sh', '-c', 'exit 2']);
  for (const id of [a, b]) {
    const w = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
    await d.api('POST', `/containers/${id}/start`);
    await w;
  }
  const q = async (filters: unknown, extra = ''): Promise<string[]> => {
    const r = await d.api('GET', `/containers/json?all=1${extra}&filters=${encodeURIComponent(JSON.stringify(filters))}`);
    assert.equal(r.status, 200, r.body);
    return (r.json() as Array<{ Id: string }>).map((c) => c.Id);
  };
  assert.deepEqual(await q({ label: { 'tier=web': true } }), [a]);
  assert.deepEqual(await q({ label: ['tier'] }), [b, a]);
  assert.deepEqual(await q({ name: { 'flt-b': true } }), [b]);
  assert.deepEqual(await q({ id: [a.slice(0, 10)] }), [a]);
  assert.deepEqual(await q({ exited: ['2'] }), [b]);
  assert.deepEqual((await q({ ancestor: ['busybox'] })).sort(), [a, b].sort());
  assert.equal((await q({}, '&limit=1')).length, 1);
  const bad = await d.api('GET', `/containers/json?filters=${encodeURIComponent('{"nope":["x"]}')}`);
  assert.equal(bad.status, 400);
  await d.api('DELETE', `/containers/${a}`);
  await d.api('DELETE', `/containers/${b}`);
});
