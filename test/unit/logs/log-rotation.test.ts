import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLog, readLogFiles, rotateLog, type LogEntry } from '../../../src/logs/index.js';

const line = (n: number): string => `2026-11-24T06:00:${String(n % 60).padStart(2, '0')}.000000001Z stdout F line-${n}\n`;

async function collect(it: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e.data.toString().trim());
  return out;
}

test('a follower keeps every line when the log rotates, even right before the end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'container.log');
  writeFileSync(path, line(1) + line(2));
  let done = false;
  let wake: () => void = () => undefined;
  const reading = collect(readLog(path, { follow: true, stdout: true, stderr: true, pollMs: 20, isDone: () => done, onWake: (w) => { wake = w; return () => undefined; } }));
  await new Promise((r) => setTimeout(r, 60));
  renameSync(path, `${path}.1`);
  appendFileSync(`${path}.1`, line(3)); // the writer has not reopened yet
  writeFileSync(path, line(4) + line(5));
  done = true;
  wake();
  assert.deepEqual(await reading, ['line-1', 'line-2', 'line-3', 'line-4', 'line-5']);
});

test('rotateLog shifts, compresses and keeps max-file files; readLogFiles reads them in order, tail across files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'container.log');
  let n = 0;
  const fill = (): void => { writeFileSync(path, ''); for (let i = 0; i < 3; i++) appendFileSync(path, line(++n)); };
  fill();
  for (let r = 0; r < 3; r++) {
    await rotateLog(path, { maxSize: 1, maxFile: 3, compress: true }, async () => { writeFileSync(path, ''); });
    for (let i = 0; i < 3; i++) appendFileSync(path, line(++n));
  }
  assert.ok(existsSync(`${path}.1.gz`) && existsSync(`${path}.2.gz`) && !existsSync(`${path}.3.gz`) && !existsSync(`${path}.3`));
  const all = await collect(readLogFiles(path, { follow: false, stdout: true, stderr: true }));
  assert.deepEqual(all, ['line-4', 'line-5', 'line-6', 'line-7', 'line-8', 'line-9', 'line-10', 'line-11', 'line-12']);
  const tail = await collect(readLogFiles(path, { follow: false, stdout: true, stderr: true, tail: 5 }));
  assert.deepEqual(tail, ['line-8', 'line-9', 'line-10', 'line-11', 'line-12']);
});

test('a failed reopen (the writer is gone) puts the current file back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'container.log');
  writeFileSync(path, line(1));
  await assert.rejects(rotateLog(path, { maxSize: 1, maxFile: 2, compress: false }, async () => { throw new Error('ENXIO'); }));
  assert.ok(existsSync(path));
  assert.deepEqual(await collect(readLogFiles(path, { follow: false, stdout: true, stderr: true })), ['line-1']);
});
