import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Query } from '../../../src/api/query.js';

test('booleans follow moby: false only for "", 0, no, false, none', () => {
  const q = new Query(new URLSearchParams('a=1&b=True&c=False&d=0&e=&f=none&g=yes&h=NO'));
  assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => q.bool(k)), [true, true, false, false, false, false, true, false]);
  assert.equal(q.bool('missing'), false);
  assert.equal(q.bool('missing', true), true);
});

test('filters come in both shapes, and may be empty', () => {
  const modern = new Query(new URLSearchParams({ filters: '{"label":{"a=b":true,"c":true},"status":{"exited":true}}' }));
  assert.deepEqual([...modern.filters()], [['label', ['a=b', 'c']], ['status', ['exited']]]);
  const legacy = new Query(new URLSearchParams({ filters: '{"label": ["x"], "status": ["created", "exited"]}' }));
  assert.deepEqual([...legacy.filters()], [['label', ['x']], ['status', ['created', 'exited']]]);
  assert.equal(new Query(new URLSearchParams('filters=')).filters().size, 0);
  assert.throws(() => new Query(new URLSearchParams({ filters: '{bad' })).filters(), /invalid filter/);
});

test('integers are validated', () => {
  const q = new Query(new URLSearchParams('t=5&bad=x'));
  assert.equal(q.int('t'), 5);
  assert.equal(q.int('none'), undefined);
  assert.throws(() => q.int('bad'), /invalid value for bad/);
});
