/**
 * Pull benchmark: a 4-layer image of about 140 MB (two random 40 MB layers, a compressible 60 MB
 * layer, a layer of 5000 small files) served by a local docker-registry, pulled through the docker
 * CLI from berthd and, when installed, from a private dockerd, in the same run.
 * Usage: node dist/bench/pull-bench.js [--runs N]
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startTestDaemon, type TestDaemon } from '../test/helpers/daemon-harness.js';
import { startRegistry, type TestRegistry } from '../test/helpers/registry-harness.js';
import { DOCKERD, startPrivateDockerd, type PrivateDockerd } from '../test/helpers/private-dockerd.js';

const args = process.argv.slice(2);
const RUNS = (() => { const i = args.indexOf('--runs'); return i >= 0 ? Number(args[i + 1]) : 3; })();
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';
const BRIDGE = 'dkrreg0';
const BRIDGE_ADDR = '10.231.1.1/24';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function docker(host: string, a: string[]): string {
  return execFileSync(DOCKER, a, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(tmpdir(), 'berth-bench-docker-config') },
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, maxBuffer: 64 << 20,
  });
}

function tarOf(dir: string): Buffer {
  return execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-C', dir, '-cf', '-', '.'], { maxBuffer: 512 << 20 });
}

/** The four layers as tars, built in a temp dir. */
function makeLayers(work: string): Buffer[] {
  const layers: Buffer[] = [];
  for (const n of [1, 2]) {
    const d = join(work, `rand${n}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `random-${n}.bin`), randomBytes(40 << 20));
    layers.push(tarOf(d));
  }
  const text = join(work, 'text');
  mkdirSync(text, { recursive: true });
  const lines: string[] = [];
  for (let i = 0; lines.join('').length < (1 << 20); i++) lines.push(`${new Date(1_700_000_000_000 + i * 1000).toISOString()} INFO request ${i % 977} served in ${i % 113} ms path=/api/v1/items/${i % 5003}\n`);
  const mb = Buffer.from(lines.join(''));
  const big = Buffer.alloc(60 << 20);
  for (let off = 0; off < big.length; off += mb.length) mb.copy(big, off);
  writeFileSync(join(text, 'compressible.log'), big);
  layers.push(tarOf(text));
  const small = join(work, 'small');
  for (let i = 0; i < 5000; i++) {
    const sub = join(small, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.txt`), `file ${i} ${randomBytes(16).toString('hex')}\n`);
  }
  layers.push(tarOf(small));
  return layers;
}

function httpCall(method: string, url: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function uploadBlob(reg: TestRegistry, repo: string, blob: Buffer): Promise<string> {
  const digest = sha(blob);
  const start = await httpCall('POST', `${reg.url}/v2/${repo}/blobs/uploads/`);
  const loc = new URL(String(start.headers['location']), reg.url);
  loc.searchParams.set('digest', digest);
  const put = await httpCall('PUT', loc.toString(), blob, { 'Content-Type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`upload ${digest}: ${put.status}`);
  return digest;
}

/** Pushes the image straight to the registry (gzip layers, schema2 manifest). */
async function publish(reg: TestRegistry, repo: string, tag: string, tars: Buffer[]): Promise<number> {
  const layers = [];
  let total = 0;
  for (const t of tars) {
    const gz = gzipSync(t);
    total += gz.length;
    layers.push({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: gz.length, digest: await uploadBlob(reg, repo, gz) });
  }
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z', config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: tars.map((t) => sha(t)) },
    history: tars.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'pull-bench' })),
  }));
  const configDigest = await uploadBlob(reg, repo, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest }, layers,
  }));
  const put = await httpCall('PUT', `${reg.url}/v2/${repo}/manifests/${tag}`, manifest, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
  if (put.status !== 201) throw new Error(`manifest: ${put.status}`);
  return total;
}

/** A private dockerd on its own bridge, or undefined when dockerd is not installed or fails to start. */
async function startDockerd(): Promise<PrivateDockerd | undefined> {
  if (!DOCKERD) return undefined;
  try {
    return await startPrivateDockerd({ bridge: BRIDGE, bridgeAddr: BRIDGE_ADDR, namespace: 'berthpullbench', rootPrefix: 'berth-pullbench-dockerd-', readyTries: 200 });
  } catch (err) {
    process.stderr.write(`dockerd did not start:\n${(err as Error).message.slice(-2000)}\n`);
    return undefined;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Times `docker pull`, removing the image between runs so every pull starts from nothing. */
function timePulls(host: string, ref: string, count: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    try { docker(host, ['rmi', ref]); } catch { /* not there */ }
    const t0 = process.hrtime.bigint();
    docker(host, ['pull', '-q', ref]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'berth-pullbench-'));
  let reg: TestRegistry | undefined;
  let b: TestDaemon | undefined;
  let dd: PrivateDockerd | undefined;
  try {
    reg = await startRegistry();
    const tars = makeLayers(work);
    const compressed = await publish(reg, 'bench/pull', '1', tars);
    rmSync(work, { recursive: true, force: true });
    const ref = `${reg.host}/bench/pull:1`;
    const raw = tars.reduce((n, t) => n + t.length, 0);
    b = await startTestDaemon();
    if (args.includes('--trace')) {
      // One pull through the API, printing when each progress message arrived.
      const t0 = Date.now();
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: b!.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(`${reg!.host}/bench/pull`)}&tag=1` }, (res) => {
          let buf = '';
          res.on('data', (c: Buffer) => {
            buf += c.toString();
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const m = JSON.parse(buf.slice(0, nl)) as { status?: string; id?: string };
              buf = buf.slice(nl + 1);
              if (m.status !== 'Downloading' && m.status !== 'Extracting') process.stdout.write(`${String(Date.now() - t0).padStart(6)} ms  ${m.id ?? ''} ${m.status ?? ''}\n`);
            }
          });
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end();
      });
      return;
    }
    dd = await startDockerd();
    // Alternate the daemons run by run so that both see the same machine load.
    const berth: number[] = [];
    const dockerd: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      berth.push(...timePulls(b.host, ref, 1));
      if (dd) dockerd.push(...timePulls(dd.host, ref, 1));
    }
    const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} ms (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
    const lines = [
      `docker CLI: ${docker(b.host, ['version', '--format', '{{.Client.Version}}']).trim()}; image: 4 layers, ${(raw / 1e6).toFixed(0)} MB uncompressed, ${(compressed / 1e6).toFixed(0)} MB compressed; ${RUNS} pulls each`,
      `docker pull (berthd)  median ${fmt(berth)}`,
      dd ? `docker pull (dockerd) median ${fmt(dockerd)}` : 'dockerd not installed',
      dd ? `ratio berthd/dockerd: ${(median(berth) / median(dockerd)).toFixed(2)}x` : '',
    ];
    process.stdout.write(lines.filter(Boolean).join('\n') + '\n');
  } finally {
    if (dd) await dd.stop();
    if (b) await b.destroy();
    if (reg) await reg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
