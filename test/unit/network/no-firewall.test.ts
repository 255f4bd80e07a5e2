import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noFirewallPath } from '../../../src/network/no-firewall.js';

test('the iptables stand-ins answer --version as netavark parses it and change nothing, silently, for any other call', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-nofw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = await noFirewallPath(join(dir, 'bin'), '/usr/bin:/bin');
  assert.equal(path, `${join(dir, 'bin')}:/usr/bin:/bin`);
  for (const tool of ['iptables', 'ip6tables']) {
    const v = spawnSync(tool, ['--version'], { encoding: 'utf8', env: { PATH: path } });
    assert.equal(v.status, 0);
    assert.match(v.stdout, /v(\d+)\.(\d+)\.(\d+)/, 'the version netavark\'s iptables crate reads');
    const add = spawnSync(tool, ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.9.0.0/24', '-j', 'MASQUERADE', '--wait'], { encoding: 'utf8', env: { PATH: path } });
    assert.equal(add.status, 0);
    assert.equal(add.stdout + add.stderr, '');
    const list = spawnSync(tool, ['-t', 'nat', '-S', '--wait'], { encoding: 'utf8', env: { PATH: path } });
    assert.equal(list.status, 0);
    assert.equal(list.stdout, '', 'no rules listed: netavark creates (in vain) what it looks for');
  }
});
