import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetachKeyScanner, parseDetachKeys } from '../../../src/api/detach-keys.js';

test('detach key specs parse as Docker\'s', () => {
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-a'), [1]);
  assert.deepEqual(parseDetachKeys('ctrl-@,ctrl-[,ctrl-_'), [0, 27, 31]);
  assert.deepEqual(parseDetachKeys('a,b'), [97, 98]);
  assert.throws(() => parseDetachKeys('ctrl-'), /Invalid detach keys/);
  assert.throws(() => parseDetachKeys('shift-a'), /Invalid detach keys/);
});

test('the scanner forwards everything but the sequence, across chunk boundaries', () => {
  const s = new DetachKeyScanner([16, 17]);
  assert.deepEqual(s.push(Buffer.from('ab')), { forward: Buffer.from('ab'), detached: false });
  assert.deepEqual(s.push(Buffer.from([99, 16])), { forward: Buffer.from([99]), detached: false });
  assert.deepEqual(s.push(Buffer.from([17, 100])), { forward: Buffer.alloc(0), detached: true });
});

test('a partial sequence followed by other bytes is released', () => {
  const s = new DetachKeyScanner([16, 17]);
  assert.deepEqual(s.push(Buffer.from([16, 65])), { forward: Buffer.from([16, 65]), detached: false });
  assert.deepEqual(s.push(Buffer.from([16, 16, 17])), { forward: Buffer.from([16]), detached: true });
});
