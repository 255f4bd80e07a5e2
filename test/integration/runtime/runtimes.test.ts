import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startTestDaemon, importBusybox, type TestDaemon } from '../../helpers/daemon-harness.js';

// The suite compares the two built-in runtimes; a host without crun has nothing to compare.
const skip = !existsSync('/usr/bin/crun') || !existsSync('/usr/sbin/runc') ? 'needs both crun and runc' : false;

let d: TestDaemon;
before(async () => {
  if (skip) return;
  d = await startTestDaemon(['--add-runtime', 'plain=/usr/sbin/runc']);
  await importBusybox(d);
});
after(async () => { await d?.destroy(); });

async function start(runtime?: string): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: runtime ? { Runtime: runtime } : {} });
  assert.equal(c.status, 201, c.body);
  const id = (c.json() as { Id: string }).Id;
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body);
  return id;
}

function cgroupMount(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / \/sys\/fs\/cgroup\/unified /.test(l)).join('\n');
}

test('crun by default, runc and a declared runtime per container; execs go to the right one, also after a crash', { skip }, async () => {
  const unifiedBefore = cgroupMount();
  const info = (await d.api('GET', '/info')).json() as { DefaultRuntime: string; Runtimes: Record<string, { path: string }> };
  assert.equal(info.DefaultRuntime, 'crun');
  assert.deepEqual(Object.keys(info.Runtimes).sort(), ['crun', 'plain', 'runc']);
  assert.equal(info.Runtimes['plain']!.path, '/usr/sbin/runc');

  const byDefault = await start();
  const viaRunc = await start('runc');
  const viaPlain = await start('plain');
  const runtimeOf = async (id: string): Promise<string> => ((await d.api('GET', `/containers/${id}/json`)).json() as { HostConfig: { Runtime: string } }).HostConfig.Runtime;
  assert.equal(await runtimeOf(byDefault), 'crun');
  assert.equal(await runtimeOf(viaRunc), 'runc');
  assert.equal(await runtimeOf(viaPlain), 'plain');
  // Each runtime keeps its own state: the container is known to the one that made it.
  assert.ok(existsSync(`${d.execRoot}/crun/${byDefault}`));
  assert.ok(existsSync(`${d.execRoot}/runc/${viaRunc}`));
  assert.ok(existsSync(`${d.execRoot}/plain/${viaPlain}`));
  // The launcher crun runs in on hybrid hosts leaves the host's own mounts as they were.
  assert.equal(cgroupMount(), unifiedBefore);

  const execIn = async (id: string): Promise<string> => {
    const r = d.berth(['exec', id, 'sh', '-c', 'echo in-$(hostname)']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  for (const id of [byDefault, viaRunc, viaPlain]) assert.equal(await execIn(id), `in-${id.slice(0, 12)}`);

  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Runtime: 'ghost' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /Unknown runtime specified ghost/);

  await d.crash();
  await d.restart();
  for (const id of [byDefault, viaRunc, viaPlain]) assert.equal(await execIn(id), `in-${id.slice(0, 12)}`);
  for (const id of [byDefault, viaRunc]) {
    const p = d.berth(['pause', id]);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(d.berth(['unpause', id]).code, 0);
  }
  for (const id of [byDefault, viaRunc, viaPlain]) {
    const r = d.berth(['rm', '-f', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(`${d.execRoot}/${id === byDefault ? 'crun' : id === viaRunc ? 'runc' : 'plain'}/${id}`));
  }
});

test('a command that cannot run fails in runc\'s words under crun, with 127 and 126 from the CLI', { skip }, async () => {
  const missing = d.berth(['run', '--rm', 'busybox', 'no-such-command']);
  assert.equal(missing.code, 127, missing.stderr);
  assert.match(missing.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
  const notExec = d.berth(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notExec.code, 126, notExec.stderr);
  assert.match(notExec.stderr, /exec: "\/etc\/passwd": permission denied/);
  const dir = d.berth(['run', '--rm', 'busybox', '/etc']);
  assert.equal(dir.code, 126, dir.stderr);
  const id = await start();
  const ex = d.berth(['exec', id, '/no/such/file']);
  assert.equal(ex.code, 127, ex.stderr);
  // As with Docker, a failed exec start is reported in the exec's own output stream.
  assert.match(ex.stdout + ex.stderr, /exec: "\/no\/such\/file": stat \/no\/such\/file: no such file or directory/);
  assert.equal(d.berth(['rm', '-f', id]).code, 0);
});

test('crun: a seccomp filter is compiled once per profile and handed to later creates, which it still confines', { skip }, async () => {
  const { mkdtempSync, writeFileSync, readdirSync, readFileSync: read, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  try {
    // Everything allowed but mkdir/mkdirat, refused with EPERM.
    const profile = join(dir, 'no-mkdir.json');
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    const cache = `${d.execRoot}/crun/.seccomp-bpf`;
    const before = new Set(readdirSync(cache));
    const tryMkdir = (): { code: number; out: string } => {
      const r = d.berth(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', 'mkdir /made 2>&1; echo rc=$?; grep ^Seccomp: /proc/self/status']);
      return { code: r.code, out: r.stdout + r.stderr };
    };
    const first = tryMkdir();
    const added = readdirSync(cache).filter((k) => !before.has(k));
    assert.equal(added.length, 1, 'the new profile was compiled once and kept');
    const second = tryMkdir();
    for (const r of [first, second]) {
      assert.match(r.out, /^rc=1$/m, r.out);
      assert.match(r.out, /Operation not permitted|Permission denied/, r.out);
      assert.match(r.out, /Seccomp:\s+2/);
    }
    assert.equal(readdirSync(cache).filter((k) => !before.has(k)).length, 1, 'the second create used the kept filter');
    // The default profile keeps its own filter: mkdir works there, from the cache as well.
    const id = await start();
    const cfg = JSON.parse(read(`${d.execRoot}/containers/${id}/config.json`, 'utf8')) as { annotations?: Record<string, string> };
    const handed = cfg.annotations?.['run.oci.seccomp_bpf_data'];
    assert.ok(handed, 'a later default-profile container is handed the compiled filter');
    assert.ok(Buffer.from(handed, 'base64').equals(read(`${d.execRoot}/crun/${id}/seccomp.bpf`)), 'crun runs it as given');
    const ok = d.berth(['exec', id, 'sh', '-c', 'mkdir /made && echo made']);
    assert.match(ok.stdout, /made/, ok.stderr);
    assert.equal(d.berth(['rm', '-f', id]).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
