/**
 * Side-by-side benchmark: `docker run --rm IMAGE true` through the docker CLI against berthd and,
 * when installed, dockerd, in the same run; plus berthd's memory idle and per running container.
 * Usage: node dist/bench/run-bench.js [--runs N] [--containers N]
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, busyboxRootfsTar, type TestDaemon } from '../test/helpers/daemon-harness.js';
import { DOCKERD, startPrivateDockerd, type PrivateDockerd } from '../test/helpers/private-dockerd.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt('--runs', 15);
const CONTAINERS = opt('--containers', 10);
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function dockerEnv(host: string): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(tmpdir(), 'berth-bench-docker-config') };
}

function docker(host: string, a: string[]): string {
  return execFileSync(DOCKER, a, { env: dockerEnv(host), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

interface Series { times: number[]; failures: number }

/** Times RUNS runs; a run that fails or hangs (20 s) counts as a failure and is left out. */
function timeRuns(host: string, image: string, extra: string[]): Series {
  const once = (): number | undefined => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(DOCKER, ['run', '--rm', ...extra, image, 'true'], { env: dockerEnv(host), stdio: 'ignore', timeout: 20_000 });
    return r.status === 0 ? Number(process.hrtime.bigint() - t0) / 1e6 : undefined;
  };
  once(); // warm-up
  const s: Series = { times: [], failures: 0 };
  for (let i = 0; i < RUNS && s.failures < 3; i++) {
    const t = once();
    if (t === undefined) s.failures++; else s.times.push(t);
  }
  return s;
}

/** 20 × `run -d IMAGE sleep 60`, 10 at a time; returns the wall time in ms, then removes them. */
async function parallelRunD(host: string, image: string): Promise<number> {
  const run = (): Promise<string> => new Promise((resolve, reject) => {
    const child = spawn(DOCKER, ['run', '-d', image, 'sleep', '60'], { env: dockerEnv(host), stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`run -d exited ${code}`))));
  });
  const ids: string[] = [];
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next < 20) { next++; ids.push(await run()); }
  }));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  docker(host, ['rm', '-f', ...ids]);
  return ms;
}

/** Proportional set size: private pages plus a fair share of pages shared with other processes. */
function pssKb(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** dockerd gets a bridge of its own (so no docker0 or iptables rules are left on the machine). */
const BENCH_BRIDGE = 'berthbench0';

async function startDockerd(): Promise<PrivateDockerd | undefined> {
  if (!DOCKERD) return undefined;
  try {
    return await startPrivateDockerd({ bridge: BENCH_BRIDGE, bridgeAddr: '10.213.77.1/24', namespace: 'berthbench', rootPrefix: 'berth-bench-dockerd-' });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const tar = busyboxRootfsTar();
  const b: TestDaemon = await startTestDaemon();
  const lines: string[] = [];
  try {
    docker(b.host, ['import', '-c', 'CMD ["sh"]', tar, 'busybox:bench']);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssKb(b.proc.pid!);
    const berth = timeRuns(b.host, 'busybox:bench', []);
    const berthNone = timeRuns(b.host, 'busybox:bench', ['--network', 'none']);
    const berthParallel = await parallelRunD(b.host, 'busybox:bench');

    const ids: string[] = [];
    const before = rssKb(b.proc.pid!);
    for (let i = 0; i < CONTAINERS; i++) ids.push(docker(b.host, ['run', '-d', 'busybox:bench', 'sleep', '600']).trim());
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssKb(b.proc.pid!);
    let conmonKb = 0;
    let conmonPssKb = 0;
    for (const id of ids) {
      const insp = JSON.parse(await b.api('GET', `/containers/${id}/json`).then((r) => r.body)) as { State: { Pid: number } };
      const conmonPid = Number(readFileSync(`/proc/${insp.State.Pid}/status`, 'utf8').match(/PPid:\s+(\d+)/)![1]);
      conmonKb += rssKb(conmonPid);
      conmonPssKb += pssKb(conmonPid);
    }
    docker(b.host, ['rm', '-f', ...ids]);
    const perContainerKb = (after - before + conmonPssKb) / CONTAINERS;
    const conmonRssEach = conmonKb / CONTAINERS;

    // dockerd's own `--network none` runs hang on this machine (its shim misses the exit), so
    // the none case is measured for berthd alone.
    let dockerd: Series | undefined;
    let dockerdParallel: number | undefined;
    const dd = await startDockerd();
    if (dd) {
      try {
        docker(dd.host, ['import', '-c', 'CMD ["sh"]', tar, 'busybox:bench']);
        dockerd = timeRuns(dd.host, 'busybox:bench', []);
        dockerdParallel = await parallelRunD(dd.host, 'busybox:bench').catch(() => undefined);
      } finally {
        await dd.stop();
      }
    }
    const fmt = (x: Series): string => (x.times.length ? `${median(x.times).toFixed(0)} ms` : 'n/a') + (x.failures ? ` (${x.failures} failed runs)` : '');
    const ratio = (a: Series, b2: Series | undefined): string =>
      b2 && a.times.length && b2.times.length ? `   ratio ${(median(a.times) / median(b2.times)).toFixed(2)}x` : '';
    lines.push(`docker CLI: ${docker(b.host, ['version', '--format', '{{.Client.Version}}']).trim()}, runs per case: ${RUNS}`);
    lines.push(`run --rm busybox true on each daemon's default bridge network (a veth on its own bridge; berthd with its NAT rules, dockerd with --iptables=false)`);
    lines.push(`                                     berthd median ${fmt(berth)}` + (dockerd ? `   dockerd median ${fmt(dockerd)}${ratio(berth, dockerd)}` : '   (dockerd not installed)'));
    lines.push(`run --rm --network none busybox true berthd median ${fmt(berthNone)}`);
    lines.push(`20 x run -d busybox sleep 60, 10 at a time: berthd ${berthParallel.toFixed(0)} ms` +
      (dockerdParallel !== undefined ? `   dockerd ${dockerdParallel.toFixed(0)} ms   ratio ${(berthParallel / dockerdParallel).toFixed(2)}x` : ''));
    lines.push(`berthd idle RSS: ${(idle / 1024).toFixed(1)} MB`);
    lines.push(`per running container (berthd RSS growth + its conmon's PSS), ${CONTAINERS} containers: ${(perContainerKb / 1024).toFixed(2)} MB` +
      ` (conmon RSS counting its shared libraries in full: ${(conmonRssEach / 1024).toFixed(2)} MB)`);
  } finally {
    await b.destroy();
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
