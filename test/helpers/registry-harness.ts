import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RegistryAuthSetup {
  htpasswd?: { path: string; realm?: string };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export interface TestRegistry {
  /** `127.0.0.1:PORT` (or the host given). */
  host: string;
  port: number;
  url: string;
  storage: string;
  proc: ChildProcess;
  log: () => string;
  /** GET a registry path (`/v2/_catalog`), optionally with an Authorization header. */
  get: (path: string, headers?: Record<string, string>) => Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts Debian's docker-registry on 127.0.0.1 with its own config and storage under a
 * /tmp/berth-* directory; stop() kills it by PID and removes the directory.
 */
export async function startRegistry(opts: { tls?: { cert: string; key: string }; auth?: RegistryAuthSetup; hostname?: string } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (opts.tls) lines.push('  tls:', `    certificate: ${opts.tls.cert}`, `    key: ${opts.tls.key}`);
  if (opts.auth?.htpasswd) lines.push('auth:', '  htpasswd:', `    realm: ${opts.auth.htpasswd.realm ?? 'basic-realm'}`, `    path: ${opts.auth.htpasswd.path}`);
  if (opts.auth?.token) {
    const t = opts.auth.token;
    lines.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${t.service}`, `    issuer: ${t.issuer}`, `    rootcertbundle: ${t.rootCertBundle}`);
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, lines.join('\n') + '\n');
  let logText = '';
  const proc = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (b: Buffer) => { logText += b.toString(); });
  proc.stderr!.on('data', (b: Buffer) => { logText += b.toString(); });
  const hostname = opts.hostname ?? '127.0.0.1';
  const scheme = opts.tls ? 'https' : 'http';
  const url = `${scheme}://${hostname}:${port}`;
  const get: TestRegistry['get'] = (path, headers = {}) => new Promise((resolve, reject) => {
    const fn = opts.tls ? httpsRequest : httpRequest;
    const req = fn(`${url}${path}`, { headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
  const until = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${logText}`);
    const ok = await get('/v2/').then(() => true, () => false);
    if (ok) break;
    if (Date.now() > until) {
      proc.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${logText}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `${hostname}:${port}`, port, url, storage, proc,
    log: () => logText,
    get,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        process.kill(proc.pid!, 'SIGTERM');
        const t = setTimeout(() => { if (proc.exitCode === null) process.kill(proc.pid!, 'SIGKILL'); }, 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the berth CLI against a daemon and keeps stderr on success too. */
export function berthFull(d: { socket: string }, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): { code: number; stdout: string; stderr: string } {
  const repo = process.env['BERTH_REPO'] ?? new URL('../../../', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [join(repo, 'bin/berth'), '-H', `unix://${d.socket}`, ...args], {
    input: opts.input ?? '', encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** berthFull without blocking the event loop (for tests that serve something in-process). */
export function berthAsync(d: { socket: string }, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const repo = process.env['BERTH_REPO'] ?? new URL('../../../', import.meta.url).pathname;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(repo, 'bin/berth'), '-H', `unix://${d.socket}`, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
