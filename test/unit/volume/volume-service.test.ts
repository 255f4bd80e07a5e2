import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataDb } from '../../../src/store/metadata-db.js';
import { EventBus, type EngineEvent } from '../../../src/events/event-bus.js';
import { Logger } from '../../../src/common/log.js';
import { VolumeService, ANONYMOUS_LABEL } from '../../../src/volume/volume-service.js';

function setup(t: { after: (fn: () => void) => void }): { vs: VolumeService; events: EngineEvent[]; root: string; reopen: () => Promise<VolumeService> } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-voltest-'));
  const db = openMetadataDb(join(dir, 'berth.db'));
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const root = join(dir, 'volumes');
  const logger = new Logger('error');
  const vs = new VolumeService({ db, root, events: bus, logger });
  t.after(() => { db.close(); rmSync(dir, { recursive: true, force: true }); });
  return {
    vs, events, root,
    reopen: async () => {
      const again = new VolumeService({ db, root, events: bus, logger });
      await again.load();
      return again;
    },
  };
}

test('concurrent creates of one name give one volume and one create event', async (t) => {
  const { vs, events } = setup(t);
  await vs.load();
  const all = await Promise.all(Array.from({ length: 8 }, () => vs.create({ name: 'shared', labels: { a: 'b' } })));
  assert.equal(new Set(all.map((v) => v.createdAt + v.name)).size, 1);
  assert.equal(vs.list().length, 1);
  assert.equal(events.filter((e) => e.Action === 'create').length, 1);
  assert.deepEqual(events[0]!.Actor, { ID: 'shared', Attributes: { driver: 'local' } });
});

test('references block removal; mount, unmount and destroy events', async (t) => {
  const { vs, events } = setup(t);
  await vs.load();
  await vs.create({ name: 'data' });
  vs.addRef('data', 'c1');
  vs.addRef('data', 'c2');
  await assert.rejects(vs.remove('data'), { message: 'remove data: volume is in use - [c1, c2]' });
  await assert.rejects(vs.remove('data', { force: true }), /volume is in use/);
  const path = await vs.mount('data', 'c1', { destination: '/d' });
  assert.equal(path, vs.dataDir('data'));
  await vs.unmount('data', 'c1');
  await vs.unmount('data', 'c1');
  vs.removeRef('data', 'c1');
  vs.removeRef('data', 'c2');
  writeFileSync(join(path, 'f'), 'x');
  await vs.remove('data');
  assert.equal(existsSync(path), false);
  assert.deepEqual(events.map((e) => e.Action), ['create', 'mount', 'unmount', 'destroy']);
  assert.equal(events[1]!.Actor.Attributes['container'], 'c1');
  await assert.rejects(vs.remove('data'), { message: 'get data: no such volume' });
  await vs.remove('data', { force: true });
});

test('list filters, prune of anonymous only by default, usage', async (t) => {
  const { vs } = setup(t);
  await vs.load();
  const anon = await vs.create({ anonymous: true });
  assert.match(anon.name, /^[0-9a-f]{64}$/);
  assert.deepEqual(anon.labels, { [ANONYMOUS_LABEL]: '' });
  await vs.create({ name: 'keep', labels: { tier: 'db' } });
  await vs.create({ name: 'other' });
  vs.addRef('other', 'c1');
  assert.deepEqual(vs.list(new Map([['dangling', ['false']]])).map((v) => v.name), ['other']);
  assert.deepEqual(vs.list(new Map([['dangling', ['true']]])).map((v) => v.name).sort(), [anon.name, 'keep'].sort());
  assert.deepEqual(vs.list(new Map([['label', ['tier=db']]])).map((v) => v.name), ['keep']);
  assert.deepEqual(vs.list(new Map([['name', ['ke']]])).map((v) => v.name), ['keep']);
  assert.equal(vs.list(new Map([['driver', ['local']]])).length, 3);
  assert.throws(() => vs.list(new Map([['bogus', ['x']]])), { message: "invalid filter 'bogus'" });
  assert.throws(() => vs.list(new Map([['dangling', ['maybe']]])), /invalid filter 'dangling=maybe'/);
  writeFileSync(join(vs.dataDir('keep'), 'f'), '12345');
  const usage = await vs.usage();
  assert.deepEqual(usage.find((u) => u.name === 'keep'), { name: 'keep', size: 5, refCount: 0 });
  assert.deepEqual(usage.find((u) => u.name === 'other'), { name: 'other', size: 0, refCount: 1 });
  const p1 = await vs.prune(new Map(), { allByDefault: false });
  assert.deepEqual(p1.deleted, [anon.name]);
  const p2 = await vs.prune(new Map([['label', ['tier=web']], ['all', ['true']]]), { allByDefault: false });
  assert.deepEqual(p2.deleted, []);
  const p3 = await vs.prune(new Map([['all', ['true']]]), { allByDefault: false });
  assert.deepEqual(p3, { deleted: ['keep'], reclaimed: 5 });
  assert.deepEqual(vs.list().map((v) => v.name), ['other']);
});

test('bad names and options create nothing; volumes survive a reload', async (t) => {
  const { vs, root, reopen } = setup(t);
  await vs.load();
  await assert.rejects(vs.create({ name: 'bad/name' }), /includes invalid characters/);
  await assert.rejects(vs.create({ name: 'v1', driverOpts: { type: 'tmpfs' } }), { message: 'create v1: missing required option: "device"' });
  await assert.rejects(vs.create({ name: 'v1', driver: 'nfsplugin' }), /plugin "nfsplugin" not found/);
  assert.equal(vs.list().length, 0);
  assert.equal(existsSync(join(root, 'v1')), false);
  await vs.create({ name: 'kept', labels: { a: 'b' }, driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
  const again = await reopen();
  const v = again.get('kept');
  assert.deepEqual(v.labels, { a: 'b' });
  assert.deepEqual(v.options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
});
