// A real dockerd of our own for comparisons and interop: its own data and exec roots, pidfile,
// socket, containerd namespaces and bridge (no docker0, no iptables rules), stopped by its PID.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The installed dockerd, if any. */
export const DOCKERD = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p));

export interface PrivateDockerdOptions {
  /** The bridge created for it, e.g. 'berthbench0'. */
  bridge: string;
  /** The bridge's address with its prefix length, e.g. '10.213.77.1/24'. */
  bridgeAddr: string;
  /** Its containerd namespace; the plugins' namespace is this with a 'p' after. */
  namespace: string;
  /** The prefix of its temporary root directory. */
  rootPrefix?: string;
  /** How many tenths of a second to wait for it to answer. */
  readyTries?: number;
}

export interface PrivateDockerd {
  /** The DOCKER_HOST that reaches it. */
  host: string;
  root: string;
  proc: ChildProcess;
  /** Removes its containers, stops it, unmounts and removes its root and deletes its bridge. */
  stop(): Promise<void>;
}

function call(sock: string, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function deleteBridge(bridge: string): void {
  try { execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' }); } catch { /* gone */ }
}

/** Starts it and waits until it answers; throws with the end of its log when it does not. */
export async function startPrivateDockerd(opts: PrivateDockerdOptions): Promise<PrivateDockerd> {
  if (!DOCKERD) throw new Error('dockerd is not installed');
  const root = mkdtempSync(join(tmpdir(), opts.rootPrefix ?? 'berth-dockerd-'));
  const sock = join(root, 'docker.sock');
  const host = `unix://${sock}`;
  execFileSync('ip', ['link', 'add', opts.bridge, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', opts.bridgeAddr, 'dev', opts.bridge]);
  execFileSync('ip', ['link', 'set', opts.bridge, 'up']);
  const proc = spawn(DOCKERD, [
    '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'docker.pid'),
    '-H', host, '--bridge', opts.bridge, '--iptables=false', '--ip-forward=false',
    '--containerd-namespace', opts.namespace, '--containerd-plugins-namespace', `${opts.namespace}p`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.on('error', () => { /* reported by its exit */ });
  let log = '';
  proc.stderr!.on('data', (b: Buffer) => { log = (log + b.toString()).slice(-64_000); });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const running = (): boolean => proc.exitCode === null && proc.signalCode === null;

  const stop = async (): Promise<void> => {
    if (running()) {
      try {
        const list = await call(sock, 'GET', '/containers/json?all=1');
        for (const c of JSON.parse(list.body) as Array<{ Id: string }>) await call(sock, 'DELETE', `/containers/${c.Id}?force=1`);
      } catch { /* none, or stuck */ }
      proc.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref())]);
      if (!done) { proc.kill('SIGKILL'); await exited; }
    }
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(root)).reverse();
    for (const m of mounts) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
    rmSync(root, { recursive: true, force: true });
    deleteBridge(opts.bridge);
  };

  for (let i = 0; i < (opts.readyTries ?? 300) && running(); i++) {
    try {
      if ((await call(sock, 'GET', '/_ping')).status === 200) return { host, root, proc, stop };
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`dockerd did not start:\n${log.slice(-2000)}`);
}
