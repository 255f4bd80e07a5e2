import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDaemonArgs } from '../../../src/daemon/daemon-options.js';
import { loadDaemonOptions } from '../../../src/daemon/daemon-config.js';

test('--dns, --dns-search, --dns-opt are repeatable; a bad --dns is refused', () => {
  const o = parseDaemonArgs(['--dns', '10.0.0.1', '--dns=10.0.0.2', '--dns-search', 'a.example', '--dns-opt', 'ndots:2']);
  assert.deepEqual(o.dns, ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(o.dnsSearch, ['a.example']);
  assert.deepEqual(o.dnsOptions, ['ndots:2']);
  assert.throws(() => parseDaemonArgs(['--dns', 'nope']), /nope is not an ip address/);
});

test('daemon.json dns, dns-search, dns-opts reach the same options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-'));
  try {
    const f = join(dir, 'daemon.json');
    writeFileSync(f, JSON.stringify({ dns: ['10.1.1.1'], 'dns-search': ['b.example'], 'dns-opts': ['timeout:2'] }));
    const o = loadDaemonOptions(['--config-file', f]);
    assert.deepEqual(o.dns, ['10.1.1.1']);
    assert.deepEqual(o.dnsSearch, ['b.example']);
    assert.deepEqual(o.dnsOptions, ['timeout:2']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--icc and --iptables from the flag or daemon.json; icc=false without iptables is refused in Docker\'s words', () => {
  assert.equal(parseDaemonArgs(['--iptables=false']).iptables, false);
  assert.equal(parseDaemonArgs([]).iptables, true);
  assert.equal(parseDaemonArgs([]).icc, true);
  assert.equal(parseDaemonArgs(['--icc=false']).icc, false);
  assert.throws(() => parseDaemonArgs(['--icc=false', '--iptables=false']), /You specified --iptables=false with --icc=false\. ICC=false uses iptables to function\./);
  assert.equal(parseDaemonArgs(['--iptables=true', '--icc']).iptables, true);
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-'));
  try {
    const f = join(dir, 'daemon.json');
    writeFileSync(f, JSON.stringify({ icc: false }));
    assert.equal(loadDaemonOptions(['--config-file', f]).icc, false);
    writeFileSync(f, JSON.stringify({ iptables: false }));
    assert.equal(loadDaemonOptions(['--config-file', f]).iptables, false);
    writeFileSync(f, JSON.stringify({ iptables: false, icc: false }));
    assert.throws(() => loadDaemonOptions(['--config-file', f]), /ICC=false uses iptables to function/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--ipv6 and --fixed-cidr-v6 (flag or daemon.json ipv6, fixed-cidr-v6)', () => {
  const o = parseDaemonArgs(['--ipv6', '--fixed-cidr-v6', 'fd00:1::/64']);
  assert.equal(o.ipv6, true);
  assert.equal(o.fixedCidrV6, 'fd00:1::/64');
  assert.equal(parseDaemonArgs([]).ipv6, false);
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-'));
  try {
    const f = join(dir, 'daemon.json');
    writeFileSync(f, JSON.stringify({ ipv6: true, 'fixed-cidr-v6': 'fd00:2::/64' }));
    const j = loadDaemonOptions(['--config-file', f]);
    assert.equal(j.ipv6, true);
    assert.equal(j.fixedCidrV6, 'fd00:2::/64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
