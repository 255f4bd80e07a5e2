/**
 * Build benchmark: a 9-step Dockerfile (6 RUNs, a 100 KB COPY, ENV, WORKDIR) built `--no-cache`
 * and then cached, through the docker CLI's classic builder, against berthd and (when installed)
 * dockerd in the same run. Usage: node dist/bench/build-bench.js [--runs N]
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, busyboxRootfsTar } from '../test/helpers/daemon-harness.js';
import { DOCKERD, startPrivateDockerd } from '../test/helpers/private-dockerd.js';

const args = process.argv.slice(2);
const RUNS = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';
const BRIDGE = 'berthbldbench0';

const DOCKERFILE = [
  'FROM busybox:bench',
  'ENV APP=/srv/app',
  'WORKDIR /srv/app',
  'COPY blob.bin .',
  'RUN echo one > /one',
  'RUN mkdir -p /data && cp blob.bin /data/',
  'RUN sha256sum blob.bin > blob.sum',
  'RUN echo "$APP" > /app-path',
  'RUN ls -la /srv/app > /listing',
  'RUN rm -f /one',
].join('\n');

function env(host: string): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(tmpdir(), 'berth-bench-docker-config') };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One build's wall time, or undefined when it failed or hung (dockerd's shim sometimes misses an exit here). */
function timeBuild(host: string, ctx: string, extra: string[]): number | undefined {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER, ['build', '-q', ...extra, '-t', 'bench-build', ctx], { env: env(host), encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    process.stderr.write(`build failed or hung (${r.signal ?? `exit ${r.status}`}): ${r.stdout}${r.stderr.split('\n').slice(-3).join(' ')}\n`);
    return undefined;
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

interface Series { cold: number; cached: number; failed: number }

function series(host: string, ctx: string): Series {
  timeBuild(host, ctx, ['--no-cache']); // warm-up
  const cold: number[] = [];
  const cached: number[] = [];
  let failed = 0;
  for (let i = 0; i < RUNS; i++) {
    const c = timeBuild(host, ctx, ['--no-cache']);
    if (c === undefined) failed++; else cold.push(c);
    const h = timeBuild(host, ctx, []);
    if (h === undefined) failed++; else cached.push(h);
  }
  return { cold: median(cold), cached: median(cached), failed };
}

async function withDockerd<T>(fn: (host: string) => T): Promise<T | undefined> {
  if (!DOCKERD) return undefined;
  const dd = await startPrivateDockerd({ bridge: BRIDGE, bridgeAddr: '10.213.79.1/24', namespace: 'berthbldbench', rootPrefix: 'berth-bench-build-dockerd-' });
  try {
    execFileSync(DOCKER, ['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), 'busybox:bench'], { env: env(dd.host), stdio: 'ignore' });
    return fn(dd.host);
  } finally {
    await dd.stop();
  }
}

async function main(): Promise<void> {
  const ctx = mkdtempSync(join(tmpdir(), 'berth-bench-build-'));
  writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
  writeFileSync(join(ctx, 'blob.bin'), randomBytes(100 * 1024));
  const b = await startTestDaemon();
  try {
    execFileSync(DOCKER, ['import', '-c', 'CMD ["sh"]', busyboxRootfsTar(), 'busybox:bench'], { env: env(b.host), stdio: 'ignore' });
    const berth = series(b.host, ctx);
    const dockerd = await withDockerd((host) => series(host, ctx));
    const fmt = (n: number): string => `${n.toFixed(0)} ms`;
    console.log(`9-step build through the docker CLI's classic builder (median of ${RUNS})`);
    console.log(`  --no-cache  berthd ${fmt(berth.cold)}${dockerd ? `   dockerd ${fmt(dockerd.cold)}   ratio ${(berth.cold / dockerd.cold).toFixed(2)}x` : ''}`);
    console.log(`  cached      berthd ${fmt(berth.cached)}${dockerd ? `   dockerd ${fmt(dockerd.cached)}   ratio ${(berth.cached / dockerd.cached).toFixed(2)}x` : ''}`);
    console.log(`  failed or hung builds (left out of the medians): berthd ${berth.failed}${dockerd ? `, dockerd ${dockerd.failed}` : ''}`);
  } finally {
    await b.destroy();
    rmSync(ctx, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => { console.error(err); process.exit(1); });
