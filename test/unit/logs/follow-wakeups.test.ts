import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLog } from '../../../src/logs/k8s-file-log.js';

const line = (stream: string, text: string): string => `2026-11-24T03:58:22.060587065+00:00 ${stream} F ${text}\n`;

test('lines written while the consumer is busy arrive through change events, not the poll', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logwake-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ctr.log');
  writeFileSync(path, '');
  let done = false;
  const ac = new AbortController();
  // A long poll: only file-change events can deliver the lines in time.
  const it = readLog(path, { follow: true, stdout: true, stderr: true, pollMs: 5000, isDone: () => done, signal: ac.signal });
  const got: string[] = [];
  let t0 = 0;
  const reader = (async () => {
    for await (const e of it) {
      got.push(e.data.toString());
      if (got.length === 1) {
        // While the consumer is busy with the first line, the second one is written.
        appendFileSync(path, line('stderr', 'two'));
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  t0 = Date.now();
  appendFileSync(path, line('stdout', 'one'));
  while (got.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, ['one\n', 'two\n']);
  assert.ok(Date.now() - t0 < 2000, `both lines within ${Date.now() - t0} ms`);
  done = true;
  ac.abort();
  await reader;
});

test('attach and logs -f end as soon as the container exits, not at the next poll (regression)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logwake-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ctr.log');
  writeFileSync(path, line('stdout', 'only'));
  let done = false;
  let wake: (() => void) | undefined;
  let unsubscribed = false;
  const it = readLog(path, {
    follow: true, stdout: true, stderr: true, pollMs: 5000, isDone: () => done,
    onWake: (fn) => { wake = fn; return () => { unsubscribed = true; }; },
  });
  const got: string[] = [];
  const reader = (async () => { for await (const e of it) got.push(e.data.toString()); })();
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  done = true;
  wake!();
  await reader;
  assert.ok(Date.now() - t0 < 1000, `ended after ${Date.now() - t0} ms`);
  assert.deepEqual(got, ['only\n']);
  assert.ok(unsubscribed);
});
