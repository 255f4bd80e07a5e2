/**
 * Side-by-side benchmark of `docker save` and `docker load` of a 4-layer image of about 140 MB
 * (two random 40 MB layers, a compressible 60 MB layer, a layer of 5000 small files), against
 * berthd and, when installed, a private dockerd, in the same run, through the same docker CLI.
 * Usage: node dist/bench/image-bench.js [--runs N]
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../test/helpers/daemon-harness.js';
import { DOCKERD, startPrivateDockerd, type PrivateDockerd } from '../test/helpers/private-dockerd.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt('--runs', 5);
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';
const BRIDGE = 'dkrimg0';
const IMAGE = 'benchimg:1';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function docker(host: string, a: string[]): string {
  return execFileSync(DOCKER, a, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(tmpdir(), 'berth-bench-docker-config') },
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000,
  });
}

/** Times one docker CLI command in ms (it must succeed). */
function timed(host: string, a: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER, a, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(tmpdir(), 'berth-bench-docker-config') },
    stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`docker ${a.join(' ')} failed: ${r.stderr?.toString()}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Writes the benchmark image as a docker-archive (uncompressed layers) and returns its path. */
function buildArchive(work: string): string {
  const out = join(work, 'archive');
  mkdirSync(out, { recursive: true });
  const layerTar = (name: string, fill: (dir: string) => void): Buffer => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    fill(dir);
    const tar = execFileSync('tar', ['-C', dir, '--numeric-owner', '--sort=name', '--mtime=2020-01-01', '-c', '.'], { maxBuffer: 1 << 30 });
    rmSync(dir, { recursive: true, force: true });
    return tar;
  };
  const layers = [
    layerTar('l1', (d) => writeFileSync(join(d, 'random1.bin'), randomBytes(40 * 1024 * 1024))),
    layerTar('l2', (d) => writeFileSync(join(d, 'random2.bin'), randomBytes(40 * 1024 * 1024))),
    layerTar('l3', (d) => {
      const line = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n');
      writeFileSync(join(d, 'text.log'), Buffer.concat(Array.from({ length: Math.ceil((60 * 1024 * 1024) / line.length) }, () => line)).subarray(0, 60 * 1024 * 1024));
    }),
    layerTar('l4', (d) => {
      for (let i = 0; i < 50; i++) {
        const sub = join(d, 'files', String(i).padStart(2, '0'));
        mkdirSync(sub, { recursive: true });
        for (let j = 0; j < 100; j++) writeFileSync(join(sub, `f${j}.txt`), randomBytes(256 + ((i * 100 + j) % 2048)));
      }
    }),
  ];
  const diffIds = layers.map(sha256);
  const config = JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2020-01-01T00:00:00Z', config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map((_, i) => ({ created: '2020-01-01T00:00:00Z', created_by: `layer ${i + 1}` })),
  });
  const configName = `${sha256(Buffer.from(config)).slice(7)}.json`;
  writeFileSync(join(out, configName), config);
  const layerPaths = layers.map((tar, i) => {
    mkdirSync(join(out, `l${i + 1}`));
    writeFileSync(join(out, `l${i + 1}`, 'layer.tar'), tar);
    return `l${i + 1}/layer.tar`;
  });
  writeFileSync(join(out, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [IMAGE], Layers: layerPaths }]));
  const file = join(work, 'bench-image.tar');
  execFileSync('tar', ['-C', out, '-cf', file, '.']);
  rmSync(out, { recursive: true, force: true });
  return file;
}

async function startDockerd(): Promise<PrivateDockerd | undefined> {
  if (!DOCKERD) return undefined;
  try {
    return await startPrivateDockerd({ bridge: BRIDGE, bridgeAddr: '10.231.2.1/24', namespace: 'berthimgbench', rootPrefix: 'berth-imgbench-dockerd-' });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return undefined;
  }
}

/** Loads then saves RUNS times (the image removed before each load); returns the medians. */
function measure(host: string, archive: string, work: string, label: string): { load: number; save: number } {
  const out = join(work, `${label}-saved.tar`);
  const loads: number[] = [];
  const saves: number[] = [];
  docker(host, ['load', '-i', archive]); // warm-up (and page cache)
  timed(host, ['save', '-o', out, IMAGE]);
  for (let i = 0; i < RUNS; i++) {
    docker(host, ['rmi', IMAGE]);
    loads.push(timed(host, ['load', '-i', archive]));
    saves.push(timed(host, ['save', '-o', out, IMAGE]));
    rmSync(out, { force: true });
  }
  return { load: median(loads), save: median(saves) };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'berth-imgbench-'));
  let b: TestDaemon | undefined;
  let dd: PrivateDockerd | undefined;
  try {
    const archive = buildArchive(work);
    const size = readFileSync(archive).length;
    b = await startTestDaemon();
    dd = await startDockerd();
    const berth = measure(b.host, archive, work, 'berthd');
    const dock = dd ? measure(dd.host, archive, work, 'dockerd') : undefined;
    const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;
    const ratio = (a: number, x: number | undefined): string => (x ? `   ratio ${(a / x).toFixed(2)}x` : '');
    console.log(`image: 4 layers, archive ${(size / 1e6).toFixed(1)} MB; docker CLI ${DOCKER}; ${RUNS} runs each, medians`);
    console.log(`docker load -i   berthd ${fmt(berth.load)}${dock ? `   dockerd ${fmt(dock.load)}` : '   (dockerd not installed)'}${ratio(berth.load, dock?.load)}`);
    console.log(`docker save -o   berthd ${fmt(berth.save)}${dock ? `   dockerd ${fmt(dock.save)}` : ''}${ratio(berth.save, dock?.save)}`);
  } finally {
    if (dd) await dd.stop();
    await b?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
