import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, familiarString, normalizeName, parseReference, withDefaultTag } from '../../../src/common/reference.js';

test('references normalise as Docker\'s', () => {
  const table: Array<[string, string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['me/app', 'docker.io/me/app:latest', 'me/app:latest'],
    ['docker.io/library/alpine:3', 'docker.io/library/alpine:3', 'alpine:3'],
    ['index.docker.io/library/alpine', 'docker.io/library/alpine:latest', 'alpine:latest'],
    ['localhost:5000/foo/bar:x', 'localhost:5000/foo/bar:x', 'localhost:5000/foo/bar:x'],
    ['localhost/foo', 'localhost/foo:latest', 'localhost/foo:latest'],
    ['registry.example.com/a/b/c', 'registry.example.com/a/b/c:latest', 'registry.example.com/a/b/c:latest'],
    [`busybox@sha256:${'a'.repeat(64)}`, `docker.io/library/busybox@sha256:${'a'.repeat(64)}`, `busybox@sha256:${'a'.repeat(64)}`],
    ['a_b-c__d/x.y', 'docker.io/a_b-c__d/x.y:latest', 'a_b-c__d/x.y:latest'],
  ];
  for (const [input, canonical, familiar] of table) {
    assert.equal(normalizeName(input), canonical, input);
    assert.equal(familiarString(withDefaultTag(parseReference(input))), familiar, input);
    assert.equal(formatReference(withDefaultTag(parseReference(canonical))), canonical);
  }
});

test('invalid references are refused with Docker\'s words', () => {
  for (const bad of ['', 'UPPER', 'a:b:c', 'foo/', '-lead', 'foo@sha256:short', 'foo:bad tag', 'a..b', 'x/-y']) {
    assert.throws(() => parseReference(bad), /invalid reference format/, bad);
  }
  assert.throws(() => parseReference('Busybox'), /must be lowercase/);
});
