import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const REPO = process.env['BERTH_REPO'] ?? new URL('../../../', import.meta.url).pathname;
const BERTHD = join(REPO, 'bin/berthd');
const BERTH = join(REPO, 'bin/berth');

export interface TestDaemon {
  root: string;
  dataRoot: string;
  execRoot: string;
  socket: string;
  host: string;
  proc: ChildProcess;
  log: () => string;
  /** Sends a request to the daemon; resolves status, headers and body. */
  api: (method: string, path: string, body?: unknown) => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; json: () => unknown }>;
  /** Runs the berth CLI against this daemon. */
  berth: (args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }) => { code: number; stdout: string; stderr: string };
  /** Stops the daemon gracefully (SIGTERM); containers keep running. */
  stop: () => Promise<void>;
  /** kill -9. */
  crash: () => Promise<void>;
  /** Starts the daemon again on the same roots. */
  restart: () => Promise<void>;
  /** Removes every container (force), unmounts, stops the daemon and deletes the roots. */
  destroy: () => Promise<void>;
}

function waitForSocket(socket: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tryOnce = (): void => {
      const req = request({ socketPath: socket, path: '/_ping', method: 'GET' }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else retry();
      });
      req.on('error', retry);
      req.end();
    };
    const retry = (): void => {
      if (Date.now() > until) reject(new Error(`berthd did not answer on ${socket}`));
      else setTimeout(tryOnce, 50);
    };
    tryOnce();
  });
}

export function apiRequest(socket: string, method: string, path: string, body?: unknown): ReturnType<TestDaemon['api']> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    // A fresh connection per request: Node 20's default agent keeps sockets alive, and one reused
    // just as the daemon's keep-alive timeout closes it fails with EPIPE.
    const req = request({ socketPath: socket, agent: false, path, method, headers: data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) as unknown });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/**
 * A bridge name and address range of its own for each test daemon, so that test daemons, the demo
 * daemon and the bench never share a bridge, a subnet or firewall rules: `bt` + random hex, and a
 * random 10.X.0.0/16 (X in 160..229) not routed on the host; the default bridge takes its first /24
 * and user networks the next ones.
 */
export function testNetworkArgs(): { args: string[]; bridge: string; prefix: string } {
  let routes = '';
  try { routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }); } catch { /* no ip */ }
  let rules = '';
  try { rules = execFileSync('iptables-save', { encoding: 'utf8' }); } catch { /* no iptables */ }
  for (let i = 0; i < 200; i++) {
    const x = 160 + Math.floor(Math.random() * 70);
    const prefix = `10.${x}.`;
    if (routes.includes(` ${prefix}`) || routes.split('\n').some((l) => l.startsWith(prefix))) continue;
    if (rules.includes(` ${prefix}`)) continue;
    const bridge = `bt${randomBytes(4).toString('hex')}`;
    return { args: ['--bridge', bridge, '--bip', `${prefix}0.1/24`, '--default-address-pool', `base=${prefix}0.0/16,size=24`], bridge, prefix };
  }
  throw new Error('no free 10.X.0.0/16 for a test daemon');
}

/** netavark's chain suffix for a network (it names chains after a hash of the network's name, berth's network id). */
export function netavarkChainHash(networkId: string): string {
  return createHash('sha512').update(networkId).digest('hex').slice(0, 13).toUpperCase();
}

/**
 * Host-side leftovers of a test daemon's networks: links, firewall rules and chains, namespaces.
 * `netns`: the daemon ran in that network namespace, so links and rules are looked for there.
 */
export function networkLeftovers(bridges: string[], prefix: string, containerIds: string[], networkIds: string[] = [], netns?: string): string[] {
  const out: string[] = [];
  const chains = networkIds.map(netavarkChainHash);
  const exec = (cmd: string, args: string[]): string => netns
    ? execFileSync('nsenter', [`--net=/run/netns/${netns}`, '--', cmd, ...args], { encoding: 'utf8' })
    : execFileSync(cmd, args, { encoding: 'utf8' });
  let links = '';
  try { links = exec('ip', ['-o', 'link', 'show']); } catch { /* no ip */ }
  for (const b of bridges) if (new RegExp(`^\\d+: ${b}[:@]`, 'm').test(links)) out.push(`link ${b}`);
  let rules = '';
  try { rules = exec('iptables-save', []); } catch { /* no iptables */ }
  for (const l of rules.split('\n')) {
    if (chains.some((h) => l.includes(`NETAVARK-${h}`) || l.includes(`NETAVARK-DN-${h}`))) { out.push(`rule ${l}`); continue; }
    if (!l.startsWith('-A')) continue;
    if (containerIds.some((id) => l.includes(`id: ${id}`))) { out.push(`rule ${l}`); continue; }
    if (l.includes(` ${prefix}`) || bridges.some((b) => l.includes(` ${b} `) || l.endsWith(` ${b}`))) out.push(`rule ${l}`);
  }
  for (const id of containerIds) if (existsSync(`/run/netns/berth-${id}`)) out.push(`netns berth-${id}`);
  return out;
}

const liveDaemons = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of liveDaemons) p.kill('SIGKILL');
});

/**
 * Starts a private berthd on temporary roots and socket. `netns`: run it inside that (existing)
 * network namespace, so that its bridges, addresses and firewall tables are its own.
 */
export async function startTestDaemon(extraArgs: string[] = [], opts: { netns?: string } = {}): Promise<TestDaemon> {
  const net = extraArgs.includes('--bridge') || extraArgs.includes('-b') ? undefined : testNetworkArgs();
  if (net) extraArgs = [...net.args, ...extraArgs];
  const seenContainers = new Set<string>();
  const seenBridges = new Set<string>(net ? [net.bridge] : []);
  const seenNetworks = new Set<string>();
  const root = mkdtempSync(join(tmpdir(), 'berth-test-'));
  // A remapped container's root walks down the roots from inside its user namespace (dockerd
  // refuses a data root whose parents block it).
  if (extraArgs.some((a) => a.startsWith('--userns-remap'))) chmodSync(root, 0o711);
  const dataRoot = join(root, 'data');
  const execRoot = join(root, 'exec');
  const socket = join(root, 'berth.sock');
  let logText = '';
  let proc!: ChildProcess;
  const launch = async (): Promise<void> => {
    const argv = [process.execPath, BERTHD, '--data-root', dataRoot, '--exec-root', execRoot, '-H', `unix://${socket}`, ...extraArgs];
    if (opts.netns) argv.unshift('nsenter', `--net=/run/netns/${opts.netns}`, '--');
    proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (b: Buffer) => { logText += b.toString(); });
    proc.stderr!.on('data', (b: Buffer) => { logText += b.toString(); });
    // A daemon a failed test left behind must not outlive the test process.
    liveDaemons.add(proc);
    const mine = proc;
    mine.once('exit', () => liveDaemons.delete(mine));
    await waitForSocket(socket, 15_000).catch((err: Error) => {
      // A daemon that did not answer in time must not outlive the test that gave up on it.
      proc.kill('SIGKILL');
      throw new Error(`${err.message}\n${logText}`);
    });
  };
  await launch();
  const exited = (): Promise<void> => new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
  const d: TestDaemon = {
    root, dataRoot, execRoot, socket, host: `unix://${socket}`,
    get proc() { return proc; },
    log: () => logText,
    api: (m, p, b) => apiRequest(socket, m, p, b),
    berth: (args, opts = {}) => {
      try {
        const stdout = execFileSync(process.execPath, [BERTH, '-H', `unix://${socket}`, ...args], {
          input: opts.input ?? '', encoding: 'utf8', env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000,
        });
        return { code: 0, stdout, stderr: '' };
      } catch (err) {
        const e = err as { status: number | null; stdout: string; stderr: string };
        return { code: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
    stop: async () => { proc.kill('SIGTERM'); await exited(); },
    crash: async () => { proc.kill('SIGKILL'); await exited(); },
    restart: async () => { await launch(); },
    destroy: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const list = await d.api('GET', '/containers/json?all=1').catch(() => undefined);
        for (const c of (list?.json() as Array<{ Id: string }> | undefined) ?? []) {
          seenContainers.add(c.Id);
          await d.api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
        }
        const nets = await d.api('GET', '/networks').catch(() => undefined);
        for (const n of (nets?.json() as Array<{ Id: string; Options?: Record<string, string> }> | undefined) ?? []) {
          const b = n.Options?.['com.docker.network.bridge.name'];
          seenBridges.add(b || `br-${n.Id.slice(0, 12)}`);
          seenNetworks.add(n.Id);
          if (!b) await d.api('DELETE', `/networks/${n.Id}`).catch(() => undefined);
        }
        await d.stop();
      }
      // A netavark teardown a removal started may still be finishing as the daemon exits.
      let netLeft: string[] = [];
      for (let i = 0; i < 20; i++) {
        netLeft = net ? networkLeftovers([...seenBridges], net.prefix, [...seenContainers], [...seenNetworks], opts.netns) : [];
        if (!netLeft.length) break;
        await new Promise((r) => setTimeout(r, 150));
      }
      // Every container is gone, so no mount may remain under the roots: clean up what a bug
      // left, and fail loudly so the bug is seen.
      const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(root)).reverse();
      for (const m of mounts) {
        try { execFileSync('umount', ['-l', m]); } catch { /* already gone */ }
      }
      if (existsSync(root)) rmSync(root, { recursive: true, force: true });
      if (mounts.length) throw new Error(`mounts left behind after removing every container: ${mounts.join(', ')}`);
      if (netLeft.length) throw new Error(`network leftovers after removing every container: ${netLeft.join('; ')}`);
    },
  };
  return d;
}

let cachedRootfs: string | undefined;
/** A busybox rootfs tar built from Debian's busybox-static (cached per test process). */
export function busyboxRootfsTar(): string {
  if (cachedRootfs && existsSync(cachedRootfs)) return cachedRootfs;
  const dir = mkdtempSync(join(tmpdir(), 'berth-rootfs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'busybox.tar');
  execFileSync('sh', [join(REPO, 'scripts/make-busybox-rootfs.sh'), out]);
  cachedRootfs = out;
  return out;
}

/** Imports the busybox rootfs as `name` through the API. */
export async function importBusybox(d: TestDaemon, name = 'busybox:latest'): Promise<string> {
  const tar = readFileSync(busyboxRootfsTar());
  const [repo, tag] = name.split(':');
  const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({
      socketPath: d.socket, method: 'POST',
      path: `/images/create?fromSrc=-&repo=${encodeURIComponent(repo!)}&tag=${encodeURIComponent(tag ?? 'latest')}&changes=${encodeURIComponent('CMD ["sh"]')}`,
      headers: { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(tar);
  });
  if (r.status !== 200) throw new Error(`import failed: ${r.status} ${r.body}`);
  const m = /"status":"(sha256:[0-9a-f]{64})"/.exec(r.body);
  if (!m) throw new Error(`import gave no id: ${r.body}`);
  return m[1]!;
}
