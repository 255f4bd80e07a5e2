import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

let d: TestDaemon;
let cid: string;
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '600'], Env: ['FROMCTR=1'], WorkingDir: '/srv' });
  assert.equal(c.status, 201, c.body);
  cid = (c.json() as { Id: string }).Id;
  assert.equal((await d.api('POST', `/containers/${cid}/start`)).status, 204);
});
after(async () => { await d?.destroy(); });

function hijack(path: string, body: unknown): Promise<{ sock: Duplex; status: number; headers: Record<string, unknown> }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path, headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } });
    req.on('upgrade', (res, sock) => resolve({ sock, status: res.statusCode ?? 0, headers: res.headers }));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end(data);
  });
}

function collect(sock: Duplex): { raw: () => Buffer; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((r) => { sock.on('end', () => r()); sock.on('close', () => r()); });
  return { raw: () => Buffer.concat(chunks), ended };
}

function frames(raw: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let i = 0; i + 8 <= raw.length;) {
    const len = raw.readUInt32BE(i + 4);
    out.push([raw[i]!, raw.subarray(i + 8, i + 8 + len).toString()]);
    i += 8 + len;
  }
  return out;
}

function joined(raw: Buffer, stream: number): string {
  return frames(raw).filter(([s]) => s === stream).map(([, t]) => t).join('');
}

async function execCreate(body: Record<string, unknown>, id = cid): Promise<string> {
  const r = await d.api('POST', `/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, ...body });
  assert.equal(r.status, 201, r.body);
  return (r.json() as { Id: string }).Id;
}

async function execRun(body: Record<string, unknown>, start: Record<string, unknown> = {}): Promise<{ id: string; raw: Buffer; inspect: Record<string, unknown> }> {
  const id = await execCreate(body);
  const { sock, status } = await hijack(`/v1.44/exec/${id}/start`, { Detach: false, Tty: Boolean(body['Tty']), ...start });
  assert.equal(status, 101);
  const out = collect(sock);
  if (!body['AttachStdin']) sock.end();
  await out.ended;
  const inspect = (await d.api('GET', `/exec/${id}/json`)).json() as Record<string, unknown>;
  return { id, raw: out.raw(), inspect };
}

test('exec runs a command with stdcopy framing and records its exit code', async () => {
  const { raw, inspect } = await execRun({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
  assert.equal(joined(raw, 1), 'out\n');
  assert.equal(joined(raw, 2), 'err\n');
  assert.equal(inspect['ExitCode'], 3);
  assert.equal(inspect['Running'], false);
  assert.equal(inspect['ContainerID'], cid);
  assert.deepEqual(inspect['ProcessConfig'], { tty: false, entrypoint: 'sh', arguments: ['-c', 'echo out; echo err >&2; exit 3'], privileged: false, user: '' });
  assert.ok((inspect['Pid'] as number) > 0);
});

test('exec env, working dir and user follow Docker: container env plus exec env, exec -w, -u', async () => {
  const { raw } = await execRun({ Cmd: ['sh', '-c', 'echo $FROMCTR $X; pwd; id -u; id -g'], Env: ['X=2'], WorkingDir: '/tmp', User: '1234:55' });
  assert.equal(joined(raw, 1), '1 2\n/tmp\n1234\n55\n');
  const def = await execRun({ Cmd: ['sh', '-c', 'pwd; echo $HOSTNAME'] });
  assert.equal(joined(def.raw, 1), `/srv\n${cid.slice(0, 12)}\n`);
});

test('exec stdin reaches the process and its end closes stdin', async () => {
  const id = await execCreate({ Cmd: ['sh', '-c', 'cat; echo done'], AttachStdin: true });
  const { sock } = await hijack(`/exec/${id}/start`, { Detach: false, Tty: false });
  const out = collect(sock);
  sock.write('hello\n');
  setTimeout(() => sock.end(), 200);
  await out.ended;
  assert.equal(joined(out.raw(), 1), 'hello\ndone\n');
  assert.equal(((await d.api('GET', `/exec/${id}/json`)).json() as { ExitCode: number }).ExitCode, 0);
});

test('exec with a TTY sends raw output from a terminal', async () => {
  const { raw, inspect } = await execRun({ Cmd: ['sh', '-c', 'tty; stty size'], Tty: true, ConsoleSize: [33, 77] });
  const text = raw.toString();
  assert.match(text, /^\/dev\/pts\/\d+\r\n33 77\r\n$/);
  assert.equal(inspect['ExitCode'], 0);
});

test('exec --privileged gets every capability the host allows (seccomp stays, as with Docker); a plain exec gets the default set', async () => {
  const plain = await execRun({ Cmd: ['sh', '-c', 'grep CapEff /proc/self/status'] });
  const priv = await execRun({ Cmd: ['sh', '-c', 'grep -E "CapInh|CapEff|Seccomp:" /proc/self/status'], Privileged: true });
  assert.match(joined(plain.raw, 1), /CapEff:\s+00000000a80425fb/);
  const bnd = /CapBnd:\s+([0-9a-f]+)/.exec(await import('node:fs').then((f) => f.readFileSync('/proc/self/status', 'utf8')))![1];
  assert.equal(joined(priv.raw, 1).trim(), `CapInh:\t${bnd}\nCapEff:\t${bnd}\nSeccomp:\t2`);
});

test('detached exec runs in the background; inspect shows it running, then its exit code', async () => {
  const id = await execCreate({ Cmd: ['sh', '-c', 'sleep 0.5; exit 7'], AttachStdout: false, AttachStderr: false });
  const r = await d.api('POST', `/exec/${id}/start`, { Detach: true, Tty: false });
  assert.equal(r.status, 200);
  let ins = (await d.api('GET', `/exec/${id}/json`)).json() as Record<string, unknown>;
  assert.equal(ins['Running'], true);
  assert.equal(ins['ExitCode'], null);
  const c = (await d.api('GET', `/containers/${cid}/json`)).json() as { ExecIDs: string[] | null };
  assert.deepEqual(c.ExecIDs, [id]);
  for (let i = 0; i < 50 && ins['Running']; i++) {
    await new Promise((res) => setTimeout(res, 100));
    ins = (await d.api('GET', `/exec/${id}/json`)).json() as Record<string, unknown>;
  }
  assert.equal(ins['Running'], false);
  assert.equal(ins['ExitCode'], 7);
  const again = await d.api('POST', `/exec/${id}/start`, { Detach: true });
  assert.equal(again.status, 409);
});

test('exec of a missing command reports the runtime error in the stream and exit code 127', async () => {
  const { raw, inspect } = await execRun({ Cmd: ['nope-not-here'] });
  assert.match(joined(raw, 1), /OCI runtime exec failed: .*executable file not found/);
  assert.equal(inspect['ExitCode'], 127);
});

test('exec errors: missing container, stopped container, empty command, missing exec', async () => {
  assert.equal((await d.api('POST', '/containers/nope/exec', { Cmd: ['true'] })).status, 404);
  const r = await d.api('POST', `/containers/${cid}/exec`, { Cmd: [] });
  assert.equal(r.status, 400);
  assert.match(r.body, /No exec command specified/);
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
  const stopped = (c.json() as { Id: string }).Id;
  const e = await d.api('POST', `/containers/${stopped}/exec`, { Cmd: ['true'] });
  assert.equal(e.status, 409);
  assert.equal((e.json() as { message: string }).message, `Container ${stopped} is not running`);
  const nx = await d.api('GET', '/exec/0123/json');
  assert.equal(nx.status, 404);
  assert.equal((nx.json() as { message: string }).message, 'No such exec instance: 0123');
  assert.equal((await d.api('POST', '/exec/0123/start', { Detach: true })).status, 404);
  await d.api('DELETE', `/containers/${stopped}`);
});

test('exec instances are forgotten when their container is removed', async () => {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '60'] });
  const other = (c.json() as { Id: string }).Id;
  await d.api('POST', `/containers/${other}/start`);
  const id = await execCreate({ Cmd: ['true'] }, other);
  assert.equal((await d.api('GET', `/exec/${id}/json`)).status, 200);
  assert.equal((await d.api('DELETE', `/containers/${other}?force=1`)).status, 204);
  assert.equal((await d.api('GET', `/exec/${id}/json`)).status, 404);
});
