import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, importBusybox, REPO } from '../../helpers/daemon-harness.js';

const BERTHD = join(REPO, 'bin/berthd');

function tempFile(t: { after(fn: () => void): void }, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'daemon.json');
  writeFileSync(p, JSON.stringify(content));
  return p;
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('berthd --validate: "configuration OK", or the error and exit 1', (t) => {
  const good = tempFile(t, { 'log-level': 'warn', bridge: 'br0' });
  const ok = spawnSync(process.execPath, [BERTHD, '--validate', '--config-file', good], { encoding: 'utf8' });
  assert.equal(ok.status, 0);
  assert.equal(ok.stderr, 'configuration OK\n');
  const bad = tempFile(t, { 'unknown-option': 1 });
  const ko = spawnSync(process.execPath, [BERTHD, '--validate', '--config-file', bad], { encoding: 'utf8' });
  assert.equal(ko.status, 1);
  assert.equal(ko.stderr, `unable to configure the Docker daemon with file ${bad}: the following directives don't match any configuration option: unknown-option\n`);
  const badLog = tempFile(t, { 'log-driver': 'json-file', 'log-opts': { 'max-sise': '1m' } });
  const kl = spawnSync(process.execPath, [BERTHD, '--validate', '--config-file', badLog], { encoding: 'utf8' });
  assert.equal(kl.status, 1);
  assert.equal(kl.stderr, `unable to configure the Docker daemon with file ${badLog}: failed to set log opts: unknown log opt 'max-sise' for json-file log driver\n`);
  const conflict = spawnSync(process.execPath, [BERTHD, '--config-file', good, '--log-level', 'debug', '--data-root', '/nonexistent/x'], { encoding: 'utf8' });
  assert.equal(conflict.status, 1);
  assert.match(conflict.stderr, /specified both as a flag and in the configuration file: log-level: \(from flag: debug, from file: warn\)/);
});

test('SIGHUP reloads debug, labels and live-restore; a bad file leaves them alone', async (t) => {
  const file = tempFile(t, { labels: ['tier=one'] });
  const d = await startTestDaemon(['--config-file', file]);
  t.after(() => d.destroy());
  const info = async (): Promise<Record<string, unknown>> => (await d.api('GET', '/info')).json() as Record<string, unknown>;
  let i = await info();
  assert.deepEqual(i['Labels'], ['tier=one']);
  assert.equal(i['LiveRestoreEnabled'], true);
  assert.equal(i['Debug'], false);

  writeFileSync(file, JSON.stringify({ labels: ['tier=two'], debug: true, 'live-restore': false }));
  d.proc.kill('SIGHUP');
  await until(async () => (await info())['Debug'] === true);
  i = await info();
  assert.deepEqual(i['Labels'], ['tier=two']);
  assert.equal(i['LiveRestoreEnabled'], false);
  assert.match(d.log(), /Reloaded configuration: .*live-restore.{0,3}:false/);

  writeFileSync(file, JSON.stringify({ debug: false, bogus: true }));
  d.proc.kill('SIGHUP');
  await until(async () => /Error reloading configuration: .*bogus/.test(d.log()));
  assert.equal((await info())['Debug'], true);
  assert.equal(d.proc.exitCode, null, 'a bad reload does not stop the daemon');
});

test('live-restore false: stopping berthd stops the running containers', async (t) => {
  const file = tempFile(t, { 'live-restore': false });
  const d = await startTestDaemon(['--config-file', file]);
  t.after(() => d.destroy());
  await importBusybox(d);
  const run = d.berth(['run', '-d', '--stop-timeout', '1', 'busybox', 'sleep', '300']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await d.stop();
  await d.restart();
  const st = (await d.api('GET', `/containers/${id}/json`)).json() as { State: { Running: boolean; Status: string } };
  assert.equal(st.State.Running, false, d.log());
  assert.equal(st.State.Status, 'exited');
  void execFileSync;
});
