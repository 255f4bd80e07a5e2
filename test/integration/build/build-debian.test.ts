import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../../helpers/daemon-harness.js';

/** A Debian bookworm minbase rootfs made by debootstrap, cached outside the repository. */
const CACHE = '/var/cache/berth-test/debian-bookworm-minbase.tar';
const HAS_DEBOOTSTRAP = existsSync('/usr/sbin/debootstrap');

function debianRootfsTar(): string {
  if (existsSync(CACHE)) return CACHE;
  const dir = mkdtempSync(join(tmpdir(), 'berth-debootstrap-'));
  try {
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', dir, 'http://deb.debian.org/debian'], { stdio: 'ignore', timeout: 600_000 });
    mkdirSync('/var/cache/berth-test', { recursive: true });
    execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', `${CACHE}.tmp`, '.']);
    execFileSync('mv', [`${CACHE}.tmp`, CACHE]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return CACHE;
}

let d: TestDaemon;
let ctx: string;
const usable = existsSync(CACHE) || HAS_DEBOOTSTRAP;

before(async () => {
  if (!usable) return;
  d = await startTestDaemon();
  const tar = readFileSync(debianRootfsTar());
  await new Promise<void>((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path: '/images/create?fromSrc=-&repo=debian&tag=bookworm&changes=' + encodeURIComponent('CMD ["bash"]'), headers: { 'Content-Length': tar.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`import: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(tar);
  });
  ctx = mkdtempSync(join(tmpdir(), 'berth-buildctx-debian-'));
  writeFileSync(join(ctx, 'Dockerfile'), [
    'FROM debian:bookworm',
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    'RUN useradd --create-home --uid 1234 app',
    'RUN for i in 1 2 3; do echo "n$i"; done | tr "\\n" " " > /numbers && [[ -s /numbers ]]',
    'COPY --chown=app:app greeting.txt /home/app/',
    'USER app',
    'WORKDIR /home/app',
    'RUN echo "$(whoami) in $PWD: $(cat greeting.txt)" > who.txt',
    'CMD ["bash", "-c", "cat /numbers who.txt; stat -c %U /home/app/greeting.txt"]',
  ].join('\n'));
  writeFileSync(join(ctx, 'greeting.txt'), 'hello debian');
});
after(async () => {
  if (ctx) rmSync(ctx, { recursive: true, force: true });
  await d?.destroy();
});

test('a Debian-based build: RUN steps through bash, useradd, USER and COPY --chown by name', { skip: !usable && 'no cached Debian rootfs and no debootstrap', timeout: 600_000 }, () => {
  const r = d.berth(['build', '-t', 'deb-built', ctx]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /Step 9\/9 : CMD/);
  const run = d.berth(['run', '--rm', 'deb-built']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'n1 n2 n3 app in /home/app: hello debian\napp\n');
  const user = d.berth(['inspect', '--format', '{{.Config.User}} {{json .Config.Shell}}', 'deb-built']);
  assert.equal(user.stdout.trim(), 'app ["/bin/bash","-o","pipefail","-c"]');
  const again = d.berth(['build', '-t', 'deb-built', ctx]);
  assert.equal((again.stdout.match(/Using cache/g) ?? []).length, 8);
});
