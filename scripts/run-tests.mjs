#!/usr/bin/env node
// Runs the compiled test suites (unit, then integration and end-to-end as root), then checks
// that nothing the tests made is left on the machine: mounts, netns, conmon processes, cgroups.
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv[2];

function files(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function snapshot() {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n')
    .filter((l) => /\/(berth|overlay2|merged|rootfs)/.test(l)).map((l) => l.split(' ')[1]);
  let netns = [];
  try { netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(' ')[0]); } catch { /* no ip */ }
  const conmon = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      return /^Name:\s+conmon$/m.test(status) && !/^State:\s+Z/m.test(status);
    } catch { return false; }
  });
  let cgroups = [];
  for (const base of ['/sys/fs/cgroup/memory/berth', '/sys/fs/cgroup/pids/berth', '/sys/fs/cgroup/berth']) {
    if (existsSync(base)) cgroups.push(...readdirSync(base).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `${base}/${n}`));
  }
  const tmpdirs = readdirSync(tmpdir()).filter((n) => n.startsWith('berth-')).map((n) => join(tmpdir(), n));
  // Network leftovers: veths and test bridges, netavark's per-network and per-port rules (its
  // global chains and jumps stay, as with podman), aardvark-dns processes.
  let links = [];
  try {
    links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n')
      .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((n) => n && /^(veth|bt[0-9a-f]{8}$|br-[0-9a-f]{12}$|berth0$)/.test(n));
  } catch { /* no ip */ }
  let rules = [];
  try {
    rules = execFileSync('iptables-save', [], { encoding: 'utf8' }).split('\n')
      .filter((l) => /NETAVARK|BERTH/.test(l))
      .filter((l) => !/^:(BERTH-ISOLATION-[12]|NETAVARK_FORWARD|NETAVARK-HOSTPORT-(DNAT|MASQ|SETMARK)) /.test(l))
      .filter((l) => !/^-A (FORWARD -j BERTH-ISOLATION-1|FORWARD -m comment --comment "netavark firewall plugin rules"|PREROUTING -m addrtype|OUTPUT -m addrtype|POSTROUTING -j NETAVARK-HOSTPORT-MASQ|NETAVARK-HOSTPORT-MASQ |NETAVARK-HOSTPORT-SETMARK -j MARK)/.test(l));
  } catch { /* no iptables */ }
  const aardvark = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      return /^Name:\s+aardvark-dns$/m.test(status) && !/^State:\s+Z/m.test(status);
    } catch { return false; }
  });
  // Userland proxies (berthd --iptables=false): each ends with its container's run.
  const proxies = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('userland-proxy-main.js') && !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, 'utf8'));
    } catch { return false; }
  });
  return { mounts, netns, conmon, cgroups, tmpdirs, links, rules, aardvark, proxies };
}

function diff(before, after) {
  const leaks = [];
  for (const k of Object.keys(after)) {
    const extra = after[k].filter((x) => !before[k].includes(x));
    if (extra.length) leaks.push(`${k}: ${extra.join(', ')}`);
  }
  return leaks;
}

const suites = [];
if (!only || only === 'unit') suites.push(['unit', files(join(root, 'dist/test/unit')), 2]);
if (!only || only === 'integration') suites.push(['integration', files(join(root, 'dist/test/integration')), 1]);
if (!only || only === 'e2e') suites.push(['e2e', files(join(root, 'dist/test/e2e')), 1]);

const before = snapshot();
let failed = false;
const totals = { pass: 0, fail: 0, skipped: 0 };
const tapFile = join(mkdtempSync(join(tmpdir(), 'run-tests-tap-')), 'out.tap');
for (const [name, list, concurrency] of suites) {
  if (!list.length) continue;
  if (name !== 'unit' && process.getuid?.() !== 0) {
    console.log(`# skipping ${name} tests: they need root`);
    continue;
  }
  console.log(`# ${name} tests (${list.length} files)`);
  const r = spawnSync(process.execPath, [
    '--test', `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...list,
  ], { stdio: 'inherit', cwd: root, env: { ...process.env, BERTH_REPO: root } });
  if (r.status !== 0) failed = true;
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  for (const k of Object.keys(totals)) totals[k] += Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
}
// Give exits a moment to be processed before looking for leftovers.
let leaks = [];
for (let i = 0; i < 10; i++) {
  await new Promise((r) => setTimeout(r, 500));
  leaks = diff(before, snapshot());
  if (!leaks.length) break;
}
if (leaks.length) {
  console.log(`# leak check FAILED: the tests left ${leaks.join('; ')}`);
  failed = true;
} else {
  console.log('# leak check: no mounts, netns, conmon processes, cgroups, temp dirs, veths, bridges, netavark rules, aardvark-dns or userland proxies left behind');
}
if (leaks.length) totals.fail += 1;
rmSync(dirname(tapFile), { recursive: true, force: true });
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(failed ? 1 : 0);
