import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventMatches } from '../../../src/api/routes/event-routes.js';
import type { EngineEvent } from '../../../src/events/index.js';

const ev = (Type: EngineEvent['Type'], Action: string, ID: string, Attributes: Record<string, string>): EngineEvent =>
  ({ Type, Action, Actor: { ID, Attributes }, scope: 'local', time: 0, timeNano: 0 });

test('event filters: OR within a key, AND across keys', () => {
  const e = ev('container', 'exec_create: sh -c true', 'abc123', { name: 'web', image: 'busybox', team: 'blue' });
  const f = (o: Record<string, string[]>): boolean => eventMatches(e, new Map(Object.entries(o)));
  assert.ok(f({}));
  assert.ok(f({ event: ['exec_create'] }));
  assert.ok(f({ event: ['start', 'exec_create'] }));
  assert.ok(!f({ event: ['start'] }));
  assert.ok(f({ container: ['web'] }));
  assert.ok(f({ container: ['abc'] }));
  assert.ok(!f({ container: ['db'] }));
  assert.ok(f({ image: ['busybox'] }));
  assert.ok(f({ label: ['team'] }));
  assert.ok(f({ label: ['team=blue'] }));
  assert.ok(!f({ label: ['team=red'] }));
  assert.ok(!f({ type: ['image'] }));
  assert.ok(!f({ container: ['web'], type: ['image'] }));
  const img = ev('image', 'tag', 'sha256:0123456789abcdef', { name: 'busybox:latest' });
  assert.ok(eventMatches(img, new Map([['image', ['busybox']]])));
});
