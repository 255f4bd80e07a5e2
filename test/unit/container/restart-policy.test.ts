import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextDelay, parsePsOutput, resourcesOf, shouldRestart, validateUpdate } from '../../../src/container/index.js';
import type { HostConfig } from '../../../src/container/index.js';

test('restart decisions follow Docker per policy', () => {
  const base = { exitCode: 1, restartCount: 0, manuallyStopped: false, maxRetries: 0 };
  const table: Array<[Partial<typeof base> & { policy: string }, boolean]> = [
    [{ policy: 'no' }, false],
    [{ policy: '' }, false],
    [{ policy: 'always' }, true],
    [{ policy: 'always', exitCode: 0 }, true],
    [{ policy: 'always', manuallyStopped: true }, false],
    [{ policy: 'unless-stopped', exitCode: 0 }, true],
    [{ policy: 'unless-stopped', manuallyStopped: true }, false],
    [{ policy: 'on-failure', exitCode: 0 }, false],
    [{ policy: 'on-failure', exitCode: 2 }, true],
    [{ policy: 'on-failure', maxRetries: 3, restartCount: 2 }, true],
    [{ policy: 'on-failure', maxRetries: 3, restartCount: 3 }, false],
  ];
  for (const [over, want] of table) assert.equal(shouldRestart({ ...base, ...over }), want, JSON.stringify(over));
});

test('back-off doubles from 100 ms, caps at a minute, resets after 10 s of running', () => {
  assert.equal(nextDelay(0, 0), 100);
  assert.equal(nextDelay(100, 50), 200);
  assert.equal(nextDelay(400, 9_999), 800);
  assert.equal(nextDelay(800, 10_000), 100);
  assert.equal(nextDelay(50_000, 0), 60_000);
});

test('ps output keeps the container pids and the command with its spaces', () => {
  const out = 'UID   PID  PPID  C STIME TTY   TIME     CMD\nroot  1    0     0 10:00 ?     00:00:01 /sbin/init splash\nroot  42   1     0 10:01 ?     00:00:00 sleep 600 now\n';
  assert.deepEqual(parsePsOutput(out, [42]), {
    Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    Processes: [['root', '42', '1', '0', '10:01', '?', '00:00:00', 'sleep 600 now']],
  });
  assert.throws(() => parsePsOutput('A B\n1 2\n', [1]), /Couldn't find PID field/);
});

test('update resources and validation', () => {
  assert.deepEqual(resourcesOf({ Memory: 64 << 20, NanoCpus: 1_500_000_000, PidsLimit: -1, CpuShares: 512 }), {
    memory: { limit: 64 << 20, swap: -1 }, cpu: { shares: 512, period: 100000, quota: 150000 }, pids: { limit: -1 },
  });
  const hc = { AutoRemove: true } as unknown as HostConfig;
  assert.throws(() => validateUpdate({ Memory: 1000 }, hc), /Minimum memory limit allowed is 6MB/);
  assert.throws(() => validateUpdate({ NanoCpus: 1e9, CpuQuota: 50000 }, hc), /Conflicting options/);
  assert.throws(() => validateUpdate({ Memory: 64 << 20, MemorySwap: 32 << 20 }, hc), /memoryswap limit should be larger/);
  assert.throws(() => validateUpdate({ RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } }, hc), /AutoRemove is enabled/);
  assert.doesNotThrow(() => validateUpdate({ Memory: 64 << 20 }, hc));
});

test('health: probe commands and Docker\'s state rules', async () => {
  const { applyProbe, probeCommand } = await import('../../../src/container/index.js');
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'curl -f x'] }), ['/bin/sh', '-c', 'curl -f x']);
  assert.deepEqual(probeCommand({ Test: ['CMD', 'true'] }), ['true']);
  assert.equal(probeCommand({ Test: ['NONE'] }), undefined);
  assert.equal(probeCommand(undefined), undefined);
  const r = (exitCode: number) => ({ start: new Date(0), end: new Date(1), exitCode, output: '' });
  let h = { Status: 'starting' as const, FailingStreak: 0, Log: [] };
  let s = applyProbe(h, r(1), { retries: 2, inStartPeriod: true });
  assert.equal(s.Status, 'starting');
  assert.equal(s.FailingStreak, 0);
  s = applyProbe(s, r(1), { retries: 2, inStartPeriod: false });
  assert.deepEqual([s.Status, s.FailingStreak], ['starting', 1]);
  s = applyProbe(s, r(1), { retries: 2, inStartPeriod: false });
  assert.deepEqual([s.Status, s.FailingStreak], ['unhealthy', 2]);
  s = applyProbe(s, r(0), { retries: 2, inStartPeriod: false });
  assert.deepEqual([s.Status, s.FailingStreak], ['healthy', 0]);
  for (let i = 0; i < 7; i++) s = applyProbe(s, r(0), { retries: 2, inStartPeriod: false });
  assert.equal(s.Log.length, 5);
  void h;
});

test('a healthcheck from the request takes unset fields from the image', async () => {
  const { mergeHealthcheck } = await import('../../../src/container/index.js');
  assert.deepEqual(mergeHealthcheck({ Interval: 5e9 }, { Test: ['CMD', 'true'], Interval: 30e9, Retries: 2 }), { Test: ['CMD', 'true'], Interval: 5e9, Retries: 2 });
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, { Test: ['CMD', 'true'] }), { Test: ['NONE'] });
  assert.deepEqual(mergeHealthcheck(undefined, { Test: ['CMD', 'x'] }), { Test: ['CMD', 'x'] });
});
