import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { startTestDaemon, importBusybox, busyboxRootfsTar, type TestDaemon } from '../../helpers/daemon-harness.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry-harness.js';
import { runFaultTrial, seededRandom, summarize, postBytes, getBytes, tarOf, checkDaemon, type FaultOperation, type TrialResult } from '../../helpers/fault-harness.js';

// kill -9 of berthd at a random point of each operation, then restart, check, retry.
// BERTH_FAULT_SEED replays a run; BERTH_FAULT_TRIALS scales the number of trials per operation.
const SEED = Number(process.env['BERTH_FAULT_SEED'] ?? 20261124);
const PER_OP = Number(process.env['BERTH_FAULT_TRIALS'] ?? 5);

let d: TestDaemon;
let reg: TestRegistry;
const results: TrialResult[] = [];
before(async () => {
  d = await startTestDaemon();
  await importBusybox(d);
  assert.equal((await d.api('POST', '/networks/create', { Name: 'ft-net' })).status, 201);
  reg = await startRegistry();
  // What the pull trials pull: one unique image per trial, pushed up front.
  if (ops.some((o) => o.name === 'pull')) {
    for (let n = 0; n < PER_OP; n++) {
      await build(`${reg.host}/ft/pull:${n}`, buildContext(n, 'pull'));
      const pushed = d.berth(['push', `${reg.host}/ft/pull:${n}`]);
      assert.equal(pushed.code, 0, pushed.stderr + pushed.stdout);
    }
  }
});
after(async () => {
  if (results.length) process.stdout.write(`# fault trials (seed ${SEED}):\n${summarize(results).replace(/^/gm, '# ')}\n`);
  await d?.destroy();
  await reg?.stop();
});

/** POST to a registry route (anonymous: no X-Registry-Auth); the progress stream must carry no error. */
function registryCall(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => (res.statusCode === 200 && !/"errorDetail"/.test(body) ? resolve() : reject(new Error(`${path}: ${res.statusCode} ${body.slice(-300)}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function expectStatus(p: Promise<{ status: number; body: string }>, ok: number[], what: string): Promise<{ status: number; body: string }> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: ${r.status} ${r.body}`);
  return r;
}

async function createContainer(name: string, cmd = ['sleep', '300']): Promise<string> {
  const r = await expectStatus(d.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: cmd }), [201], 'create');
  return (JSON.parse(r.body) as { Id: string }).Id;
}

async function removeContainer(name: string): Promise<void> {
  await expectStatus(d.api('DELETE', `/containers/${name}?force=1&v=1`), [204, 404], 'remove');
}

function buildContext(trial: number, op: string): Buffer {
  return tarOf({ Dockerfile: 'FROM busybox\nCOPY f /f\nRUN cat /f > /g\n', f: `${op} ${trial} ${SEED}\n` });
}

async function build(tag: string, ctx: Buffer): Promise<void> {
  const r = await postBytes(d, `/build?t=${encodeURIComponent(tag)}&rm=1&forcerm=1`, ctx);
  if (r.status !== 200 || /"errorDetail"/.test(r.body)) throw new Error(`build: ${r.status} ${r.body}`);
}

const allOps: FaultOperation<any>[] = [
  {
    name: 'container create', typicalMs: 8,
    setup: async (_d, n) => `ft-create-${n}`,
    run: async (_d, name: string) => { await createContainer(name); },
    retry: async (_d, name: string) => {
      const r = await d.api('GET', `/containers/${name}/json`);
      if (r.status === 404) await createContainer(name);
      else assert.equal(r.status, 200, r.body);
      assert.equal((await d.api('GET', `/containers/${name}/json`)).status, 200);
    },
    cleanup: async (_d, name: string) => removeContainer(name),
  },
  {
    name: 'container start', typicalMs: 70,
    setup: async (_d, n) => { const name = `ft-start-${n}`; await createContainer(name); return name; },
    run: async (_d, name: string) => { await expectStatus(d.api('POST', `/containers/${name}/start`), [204], 'start'); },
    retry: async (_d, name: string) => {
      await expectStatus(d.api('POST', `/containers/${name}/start`), [204, 304], 'start again');
      const s = (await d.api('GET', `/containers/${name}/json`)).json() as { State: { Running: boolean } };
      assert.equal(s.State.Running, true);
    },
    cleanup: async (_d, name: string) => removeContainer(name),
  },
  {
    name: 'container rm -f', typicalMs: 40,
    setup: async (_d, n) => {
      const name = `ft-rm-${n}`;
      await createContainer(name);
      await expectStatus(d.api('POST', `/containers/${name}/start`), [204], 'start');
      return name;
    },
    run: async (_d, name: string) => { await expectStatus(d.api('DELETE', `/containers/${name}?force=1`), [204], 'rm'); },
    retry: async (_d, name: string) => {
      await removeContainer(name);
      assert.equal((await d.api('GET', `/containers/${name}/json`)).status, 404);
    },
  },
  {
    name: 'volume create', typicalMs: 6,
    setup: async (_d, n) => `ft-vol-${n}`,
    run: async (_d, name: string) => { await expectStatus(d.api('POST', '/volumes/create', { Name: name }), [201], 'volume create'); },
    retry: async (_d, name: string) => {
      await expectStatus(d.api('POST', '/volumes/create', { Name: name }), [201], 'volume create again');
      assert.equal((await d.api('GET', `/volumes/${name}`)).status, 200);
    },
    cleanup: async (_d, name: string) => { await expectStatus(d.api('DELETE', `/volumes/${name}`), [204], 'volume rm'); },
  },
  {
    name: 'image import', typicalMs: 160,
    setup: async (_d, n) => `ft-import:${n}`,
    run: async (_d, ref: string) => { await importBusybox(d, ref); },
    retry: async (_d, ref: string) => {
      await importBusybox(d, ref);
      assert.equal((await d.api('GET', `/images/${ref}/json`)).status, 200);
    },
    cleanup: async (_d, ref: string) => { await expectStatus(d.api('DELETE', `/images/${ref}`), [200], 'rmi'); },
  },
  {
    name: 'build', typicalMs: 900,
    setup: async (_d, n) => ({ tag: `ft-build:${n}`, ctx: buildContext(n, 'build') }),
    run: async (_d, c: { tag: string; ctx: Buffer }) => build(c.tag, c.ctx),
    retry: async (_d, c: { tag: string; ctx: Buffer }) => {
      await build(c.tag, c.ctx);
      assert.equal((await d.api('GET', `/images/${c.tag}/json`)).status, 200);
    },
    cleanup: async (_d, c: { tag: string }) => { await expectStatus(d.api('DELETE', `/images/${c.tag}`), [200], 'rmi'); },
  },
  {
    name: 'image rm', typicalMs: 60,
    setup: async (_d, n) => { const tag = `ft-rmi:${n}`; await build(tag, buildContext(n, 'rmi')); return tag; },
    run: async (_d, tag: string) => { await expectStatus(d.api('DELETE', `/images/${tag}`), [200], 'rmi'); },
    retry: async (_d, tag: string) => {
      await expectStatus(d.api('DELETE', `/images/${tag}`), [200, 404], 'rmi again');
      assert.equal((await d.api('GET', `/images/${tag}/json`)).status, 404);
    },
  },
  {
    name: 'commit', typicalMs: 300,
    setup: async (_d, n) => {
      const name = `ft-commit-${n}`;
      const id = await createContainer(name, ['sh', '-c', `echo ${n} > /f`]);
      await expectStatus(d.api('POST', `/containers/${id}/start`), [204], 'start');
      await d.api('POST', `/containers/${id}/wait`);
      return { name, ref: `ft-commit:${n}` };
    },
    run: async (_d, c: { name: string; ref: string }) => {
      await expectStatus(d.api('POST', `/commit?container=${c.name}&repo=ft-commit&tag=${c.ref.split(':')[1]}`), [201], 'commit');
    },
    retry: async (_d, c: { name: string; ref: string }) => {
      await expectStatus(d.api('POST', `/commit?container=${c.name}&repo=ft-commit&tag=${c.ref.split(':')[1]}`), [201], 'commit again');
      assert.equal((await d.api('GET', `/images/${c.ref}/json`)).status, 200);
    },
    cleanup: async (_d, c: { name: string; ref: string }) => {
      await removeContainer(c.name);
      await expectStatus(d.api('DELETE', `/images/${c.ref}`), [200], 'rmi');
    },
  },
  {
    name: 'image load', typicalMs: 300,
    setup: async (_d, n) => {
      const ref = `ft-load:${n}`;
      await build(ref, buildContext(n, 'load'));
      const saved = await getBytes(d, `/images/${ref}/get`);
      assert.equal(saved.status, 200);
      await expectStatus(d.api('DELETE', `/images/${ref}`), [200], 'rmi before load');
      await d.api('POST', '/build/prune');
      return { ref, tar: saved.body };
    },
    run: async (_d, c: { ref: string; tar: Buffer }) => {
      const r = await postBytes(d, '/images/load?quiet=1', c.tar);
      if (r.status !== 200 || /"errorDetail"/.test(r.body)) throw new Error(`load: ${r.status} ${r.body}`);
    },
    retry: async (_d, c: { ref: string; tar: Buffer }) => {
      const r = await postBytes(d, '/images/load?quiet=1', c.tar);
      if (r.status !== 200 || /"errorDetail"/.test(r.body)) throw new Error(`load again: ${r.status} ${r.body}`);
      assert.equal((await d.api('GET', `/images/${c.ref}/json`)).status, 200);
    },
    cleanup: async (_d, c: { ref: string }) => { await expectStatus(d.api('DELETE', `/images/${c.ref}`), [200], 'rmi'); },
  },
  {
    name: 'network connect', typicalMs: 200,
    setup: async (_d, n) => {
      const name = `ft-nc-${n}`;
      await createContainer(name);
      await expectStatus(d.api('POST', `/containers/${name}/start`), [204], 'start');
      return name;
    },
    run: async (_d, name: string) => { await expectStatus(d.api('POST', '/networks/ft-net/connect', { Container: name }), [200], 'connect'); },
    retry: async (_d, name: string) => {
      const i = (await d.api('GET', `/containers/${name}/json`)).json() as { NetworkSettings: { Networks: Record<string, unknown> } };
      if (!i.NetworkSettings.Networks['ft-net']) await expectStatus(d.api('POST', '/networks/ft-net/connect', { Container: name }), [200], 'connect again');
      const j = (await d.api('GET', `/containers/${name}/json`)).json() as { State: { Running: boolean }; NetworkSettings: { Networks: Record<string, { IPAddress: string }> } };
      assert.ok(j.NetworkSettings.Networks['ft-net']?.IPAddress, 'connected with an address');
      assert.equal(j.State.Running, true);
    },
    cleanup: async (_d, name: string) => removeContainer(name),
  },
  {
    name: 'push', typicalMs: 400,
    setup: async (_d, n) => {
      const ref = `${reg.host}/ft/push:${n}`;
      await build(ref, buildContext(n, 'push'));
      return ref;
    },
    run: async (_d, ref: string) => registryCall(`/images/${ref.split(':').slice(0, -1).join(':')}/push?tag=${ref.split(':').pop()}`),
    retry: async (_d, ref: string) => {
      await registryCall(`/images/${ref.split(':').slice(0, -1).join(':')}/push?tag=${ref.split(':').pop()}`);
      const tags = JSON.parse((await reg.get('/v2/ft/push/tags/list')).body) as { tags: string[] };
      assert.ok(tags.tags.includes(ref.split(':').pop()!));
    },
    cleanup: async (_d, ref: string) => { await expectStatus(d.api('DELETE', `/images/${ref}`), [200], 'rmi'); },
  },
  {
    name: 'pull', typicalMs: 400,
    // The images were pushed before the first kill (see before()); each trial drops its local copy.
    setup: async (_d, n) => {
      const ref = `${reg.host}/ft/pull:${n}`;
      await expectStatus(d.api('DELETE', `/images/${ref}`), [200], 'rmi before pull');
      await d.api('POST', '/build/prune');
      return ref;
    },
    run: async (_d, ref: string) => registryCall(`/images/create?fromImage=${encodeURIComponent(ref.split(':').slice(0, -1).join(':'))}&tag=${ref.split(':').pop()}`),
    retry: async (_d, ref: string) => {
      await registryCall(`/images/create?fromImage=${encodeURIComponent(ref.split(':').slice(0, -1).join(':'))}&tag=${ref.split(':').pop()}`);
      assert.equal((await d.api('GET', `/images/${ref}/json`)).status, 200);
    },
    cleanup: async (_d, ref: string) => { await expectStatus(d.api('DELETE', `/images/${ref}`), [200], 'rmi'); },
  },
];

// BERTH_FAULT_OPS=name,name picks operations (all by default).
const chosen = process.env['BERTH_FAULT_OPS']?.split(',').map((x) => x.trim());
const ops = allOps.filter((o) => !chosen || chosen.includes(o.name));

test(`kill -9 during operations: ${ops.length} operations x ${PER_OP} trials, each followed by a clean check and a successful retry`, { timeout: Math.max(240_000, PER_OP * 30_000) }, async () => {
  const rand = seededRandom(SEED);
  for (let n = 0; n < PER_OP; n++) {
    for (const op of ops) results.push(await runFaultTrial(d, op, rand, n));
  }
  const bad = results.filter((r) => r.problems.length || r.leaks.length || r.retryError);
  assert.deepEqual(bad.map((r) => ({ op: r.op, trial: r.trial, delayMs: r.delayMs, problems: r.problems, leaks: r.leaks, retryError: r.retryError })), []);
  assert.equal(results.length, ops.length * PER_OP);
  assert.ok(results.some((r) => !r.finishedBeforeKill), 'some kills landed while an operation was in flight');
  // Only busybox (and what the build cache keeps) remains after every trial cleaned up.
  const final = await checkDaemon(d);
  assert.equal(final.Clean, true, JSON.stringify(final.Problems));
  assert.ok(readFileSync(busyboxRootfsTar()).length > 0);
});
