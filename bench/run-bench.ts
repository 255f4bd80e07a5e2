/**
 * Side-by-side benchmark: `docker run --rm IMAGE true` through the docker CLI against berthd and,
 * when installed, dockerd, in the same run; plus berthd's memory idle and per running container.
 * Usage: node dist/bench/run-bench.js [--runs N] [--containers N]
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, busyboxRootfsTar, type TestDaemon } from '../test/helpers/daemon-harness.js';

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

function docker(host: string, a: string[]): string {
  return execFileSync(DOCKER, a, { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(tmpdir(), 'berth-bench-docker-config') }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function timeRuns(host: string, image: string, extra: string[]): number[] {
  docker(host, ['run', '--rm', ...extra, image, 'true']); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    docker(host, ['run', '--rm', ...extra, image, 'true']);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Dockerd { host: string; proc: ChildProcess; root: string }

async function startDockerd(): Promise<Dockerd | undefined> {
  if (!existsSync('/usr/bin/dockerd') && !existsSync('/usr/sbin/dockerd')) return undefined;
  const root = mkdtempSync(join(tmpdir(), 'berth-bench-dockerd-'));
  const sock = join(root, 'docker.sock');
  const proc = spawn('dockerd', [
    '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'docker.pid'),
    '-H', `unix://${sock}`, '--bridge', 'none', '--iptables=false', '--ip-forward=false', '--containerd-namespace', 'berthbench',
    '--containerd-plugins-namespace', 'berthbenchp',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  const host = `unix://${sock}`;
  for (let i = 0; i < 200; i++) {
    try { docker(host, ['version']); return { host, proc, root }; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  proc.kill('SIGTERM');
  process.stderr.write(`dockerd did not start:\n${log.slice(-2000)}\n`);
  return undefined;
}

async function stopDockerd(dd: Dockerd): Promise<void> {
  dd.proc.kill('SIGTERM');
  await new Promise((r) => dd.proc.once('exit', r));
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dd.root)).reverse();
  for (const m of mounts) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
  rmSync(dd.root, { recursive: true, force: true });
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

    const ids: string[] = [];
    const before = rssKb(b.proc.pid!);
    for (let i = 0; i < CONTAINERS; i++) ids.push(docker(b.host, ['run', '-d', 'busybox:bench', 'sleep', '600']).trim());
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssKb(b.proc.pid!);
    let conmonKb = 0;
    for (const id of ids) {
      const insp = JSON.parse(await b.api('GET', `/containers/${id}/json`).then((r) => r.body)) as { State: { Pid: number } };
      const conmonPid = Number(readFileSync(`/proc/${insp.State.Pid}/status`, 'utf8').match(/PPid:\s+(\d+)/)![1]);
      conmonKb += rssKb(conmonPid);
    }
    docker(b.host, ['rm', '-f', ...ids]);
    const perContainerKb = (after - before + conmonKb) / CONTAINERS;

    let dockerd: number[] | undefined, dockerdNone: number[] | undefined;
    const dd = await startDockerd();
    if (dd) {
      try {
        docker(dd.host, ['import', '-c', 'CMD ["sh"]', tar, 'busybox:bench']);
        dockerd = timeRuns(dd.host, 'busybox:bench', []);
        dockerdNone = timeRuns(dd.host, 'busybox:bench', ['--network', 'none']);
      } finally {
        await stopDockerd(dd);
      }
    }
    const fmt = (x: number): string => `${x.toFixed(0)} ms`;
    lines.push(`docker CLI: ${docker(b.host, ['version', '--format', '{{.Client.Version}}']).trim()}, runs per case: ${RUNS}`);
    lines.push(`run --rm busybox true            berthd median ${fmt(median(berth))}` + (dockerd ? `   dockerd median ${fmt(median(dockerd))}   ratio ${(median(berth) / median(dockerd)).toFixed(2)}x` : '   (dockerd not installed)'));
    lines.push(`run --rm --network none ... true berthd median ${fmt(median(berthNone))}` + (dockerdNone ? `   dockerd median ${fmt(median(dockerdNone))}   ratio ${(median(berthNone) / median(dockerdNone)).toFixed(2)}x` : ''));
    lines.push(`berthd idle RSS: ${(idle / 1024).toFixed(1)} MB`);
    lines.push(`per running container (berthd growth + its conmon), ${CONTAINERS} containers: ${(perContainerKb / 1024).toFixed(2)} MB`);
  } finally {
    await b.destroy();
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
