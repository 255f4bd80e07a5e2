import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLog, parseRfc3339Nano, type LogEntry, type ReadLogOptions } from '../../../src/logs/k8s-file-log.js';

async function tmpLog(t: { after: (fn: () => Promise<void>) => void }, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-k8s-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'ctr.log');
  await writeFile(path, content);
  return path;
}

async function collect(path: string, opts: Partial<ReadLogOptions> = {}): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readLog(path, { follow: false, stdout: true, stderr: true, ...opts })) out.push(e);
  return out;
}

function text(entries: LogEntry[]): string {
  return entries.map((e) => e.data.toString()).join('');
}

const T = (s: number) => `2026-11-24T03:37:${String(s).padStart(2, '0')}.123456789+00:00`;
const SAMPLE = [
  `${T(1)} stdout F one`,
  `${T(2)} stderr F two`,
  `${T(3)} stdout P thr`,
  `${T(3)} stdout P e`,
  `${T(4)} stdout F e!`,
  `${T(5)} stdout F `,
  `${T(6)} stderr F six has spaces  `,
  '',
].join('\n');

test('timestamps are converted to UTC with nine digits', () => {
  assert.equal(parseRfc3339Nano('2026-11-24T05:37:04.123456789+02:00')!.utc, '2026-11-24T03:37:04.123456789Z');
  assert.equal(parseRfc3339Nano('2026-11-24T03:37:04.1-00:30')!.utc, '2026-11-24T04:07:04.100000000Z');
  assert.equal(parseRfc3339Nano('2026-11-24T03:37:04Z')!.utc, '2026-11-24T03:37:04.000000000Z');
  assert.equal(parseRfc3339Nano('nonsense'), undefined);
});

test('full and partial lines, streams', async (t) => {
  const path = await tmpLog(t, SAMPLE);
  const all = await collect(path);
  assert.equal(text(all), 'one\ntwo\nthree!\n\nsix has spaces  \n');
  assert.deepEqual(all.map((e) => e.stream), ['stdout', 'stderr', 'stdout', 'stdout', 'stdout', 'stdout', 'stderr']);
  assert.equal(all[0]!.time, '2026-11-24T03:37:01.123456789Z');
  assert.equal(text(await collect(path, { stderr: false })), 'one\nthree!\n\n');
  assert.equal(text(await collect(path, { stdout: false })), 'two\nsix has spaces  \n');
});

test('tail counts a partial run and its end as one line', async (t) => {
  const path = await tmpLog(t, SAMPLE);
  assert.equal(text(await collect(path, { tail: 0 })), '');
  assert.equal(text(await collect(path, { tail: 1 })), 'six has spaces  \n');
  assert.equal(text(await collect(path, { tail: 3 })), 'three!\n\nsix has spaces  \n');
  assert.equal(text(await collect(path, { tail: 5 })), 'one\ntwo\nthree!\n\nsix has spaces  \n');
  assert.equal(text(await collect(path, { tail: 100 })), 'one\ntwo\nthree!\n\nsix has spaces  \n');
  assert.equal(text(await collect(path, { tail: 2, stderr: false })), 'three!\n\n');
});

test('tail over a big file reads from the end', async (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 20000; i++) lines.push(`${T(i % 60)} stdout F line ${i}`);
  const path = await tmpLog(t, lines.join('\n') + '\n' + `${T(0)} stdout F incompl`);
  const got = await collect(path, { tail: 3 });
  assert.equal(text(got), 'line 19997\nline 19998\nline 19999\n');
});

test('since and until select by time', async (t) => {
  const path = await tmpLog(t, SAMPLE);
  const base = Date.UTC(2026, 10, 24, 3, 37, 0) / 1000;
  assert.equal(text(await collect(path, { since: base + 4.123456789 })), 'e!\n\nsix has spaces  \n');
  assert.equal(text(await collect(path, { since: base + 4.2 })), '\nsix has spaces  \n');
  assert.equal(text(await collect(path, { until: base + 2.5 })), 'one\ntwo\n');
  assert.equal(text(await collect(path, { since: base + 2, until: base + 3.2 })), 'two\nthre');
});

test('follow reads what a writer appends, including a line written in two parts', async (t) => {
  const path = await tmpLog(t, `${T(1)} stdout F first\n`);
  let done = false;
  const seen: string[] = [];
  const reader = (async () => {
    for await (const e of readLog(path, { follow: true, stdout: true, stderr: true, isDone: () => done, pollMs: 50 })) {
      seen.push(e.data.toString());
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  await appendFile(path, `${T(2)} stderr F sec`);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(seen, ['first\n'], 'an unfinished line is not emitted');
  await appendFile(path, `ond\n${T(3)} stdout P par`);
  await appendFile(path, `tial\n${T(3)} stdout F !\n`);
  await new Promise((r) => setTimeout(r, 100));
  done = true;
  await reader;
  assert.deepEqual(seen, ['first\n', 'second\n', 'partial', '!\n']);
});

test('follow with tail starts near the end and stops on abort', async (t) => {
  const path = await tmpLog(t, SAMPLE);
  const ac = new AbortController();
  const seen: string[] = [];
  const reader = (async () => {
    for await (const e of readLog(path, { follow: true, tail: 1, stdout: true, stderr: true, signal: ac.signal })) {
      seen.push(e.data.toString());
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  await appendFile(path, `${T(7)} stdout F seven\n`);
  await new Promise((r) => setTimeout(r, 400));
  ac.abort();
  await reader;
  assert.deepEqual(seen, ['six has spaces  \n', 'seven\n']);
});
