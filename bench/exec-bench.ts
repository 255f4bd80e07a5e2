/**
 * Running-container benchmark through the docker CLI, berthd and (when installed) dockerd in the
 * same run: the median of `docker exec C true`, and `docker stats --no-stream` across 20 running
 * containers. Usage: node dist/bench/exec-bench.js [--runs N] [--containers N]
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, busyboxRootfsTar } from '../test/helpers/daemon-harness.js';
import { DOCKERD, startPrivateDockerd, type PrivateDockerd } from '../test/helpers/private-dockerd.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const RUNS = opt('--runs', 20);
const CONTAINERS = opt('--containers', 20);
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';
const BRIDGE = 'dkrexec0';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const env = (host: string): NodeJS.ProcessEnv => ({ ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(tmpdir(), 'berth-bench-docker-config') });

function docker(host: string, a: string[]): string {
  return execFileSync(DOCKER, a, { env: env(host), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

function timed(host: string, a: string[]): number | undefined {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER, a, { env: env(host), stdio: 'ignore', timeout: 30_000 });
  return r.status === 0 ? Number(process.hrtime.bigint() - t0) / 1e6 : undefined;
}

interface Result { exec: number[]; stats: number[] }

/** Imports busybox, starts the containers, times exec and stats --no-stream, removes them. */
function measure(host: string, tar: string): Result {
  docker(host, ['import', '-c', 'CMD ["sh"]', tar, 'busybox:bench']);
  const ids: string[] = [];
  try {
    for (let i = 0; i < CONTAINERS; i++) ids.push(docker(host, ['run', '-d', 'busybox:bench', 'sleep', '600']).trim());
    const target = ids[0]!;
    timed(host, ['exec', target, 'true']); // warm-up
    const exec: number[] = [];
    for (let i = 0; i < RUNS; i++) { const t = timed(host, ['exec', target, 'true']); if (t !== undefined) exec.push(t); }
    const stats: number[] = [];
    for (let i = 0; i < 3; i++) { const t = timed(host, ['stats', '--no-stream']); if (t !== undefined) stats.push(t); }
    return { exec, stats };
  } finally {
    if (ids.length) spawnSync(DOCKER, ['rm', '-f', ...ids], { env: env(host), stdio: 'ignore', timeout: 120_000 });
  }
}

async function startDockerd(): Promise<PrivateDockerd | undefined> {
  if (!DOCKERD) return undefined;
  try {
    return await startPrivateDockerd({ bridge: BRIDGE, bridgeAddr: '10.231.4.1/24', namespace: 'berthexecbench', rootPrefix: 'berth-bench-dockerd-' });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const tar = busyboxRootfsTar();
  const b = await startTestDaemon();
  let berth: Result;
  try {
    berth = measure(b.host, tar);
  } finally {
    await b.destroy();
  }
  let dockerd: Result | undefined;
  const dd = await startDockerd();
  if (dd) {
    try { dockerd = measure(dd.host, tar); } finally { await dd.stop(); }
  }
  const fmt = (xs: number[]): string => (xs.length ? `${median(xs).toFixed(0)} ms` : 'n/a');
  const ratio = (a: number[], c: number[] | undefined): string => (c?.length && a.length ? `   ratio ${(median(a) / median(c)).toFixed(2)}x` : '');
  const lines = [
    `${execFileSync(DOCKER, ['--version'], { encoding: 'utf8' }).trim()}, ${RUNS} execs, ${CONTAINERS} running containers`,
    `exec C true             berthd median ${fmt(berth.exec)}` + (dockerd ? `   dockerd median ${fmt(dockerd.exec)}${ratio(berth.exec, dockerd.exec)}` : '   (dockerd not installed)'),
    `stats --no-stream (x${CONTAINERS}) berthd median ${fmt(berth.stats)}` + (dockerd ? `   dockerd median ${fmt(dockerd.stats)}${ratio(berth.stats, dockerd.stats)}` : ''),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
