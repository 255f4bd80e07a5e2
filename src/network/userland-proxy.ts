import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ConflictError, InvalidParameterError } from '../common/errors.js';
import { spawnDetached } from '../sys/detached-process.js';
import type { PortMapping } from './port-bindings.js';

/** One forward as the proxy program takes it. */
export interface ProxyMapping {
  proto: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

interface ProxyRecord {
  pid: number;
  containerId: string;
  mappings: ProxyMapping[];
}

const PROGRAM = fileURLToPath(new URL('./userland-proxy-main.js', import.meta.url));

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether pid is a live (not zombie) proxy process of this container. */
async function isProxyOf(pid: number, containerId: string): Promise<boolean> {
  try {
    const [cmdline, stat] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const args = cmdline.split('\0');
    return args.some((a) => a.endsWith('userland-proxy-main.js')) && args[args.indexOf('--container') + 1] === containerId;
  } catch {
    return false;
  }
}

/**
 * Published ports without firewall rules: one detached proxy process per container, recorded in
 * `<dir>/<container id>.json` so that a restarted berthd finds it again.
 */
export class UserlandProxies {
  constructor(private readonly o: { dir: string; nodePath?: string }) {}

  private file(containerId: string): string {
    return `${this.o.dir}/${containerId}.json`;
  }

  /** The forwards of a run: published ports to the container's address. */
  static mappings(ports: PortMapping[], containerIp: string): ProxyMapping[] {
    return ports.map((p) => {
      if (p.protocol === 'sctp') throw new InvalidParameterError(`cannot publish ${p.containerPort}/sctp: SCTP ports need the firewall, and this daemon runs with iptables=false`);
      return { proto: p.protocol, hostIp: p.hostIp || '0.0.0.0', hostPort: p.hostPort, containerIp, containerPort: p.containerPort };
    });
  }

  /**
   * Starts the container's proxy; resolves once every port listens. A port something else holds
   * fails with Docker's words, and nothing is left listening.
   */
  async start(containerId: string, mappings: ProxyMapping[]): Promise<void> {
    await this.stop(containerId);
    if (!mappings.length) return;
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    const node = this.o.nodePath ?? process.execPath;
    const started = await spawnDetached([node, '--max-old-space-size=32', PROGRAM, '--container', containerId, '--mappings', JSON.stringify(mappings)]);
    if (started.line !== 'ok') {
      await started.exited;
      const m = /^error (\S+) (\S+) (.*)$/.exec(started.line);
      if (m && m[1] !== '-') {
        throw new ConflictError(`driver failed programming external connectivity on endpoint: Error starting userland proxy: listen ${m[1]}4 ${m[2]}: bind: ${m[3]}`);
      }
      throw new ConflictError(`driver failed programming external connectivity on endpoint: Error starting userland proxy: ${m?.[3] ?? started.line}`);
    }
    const rec: ProxyRecord = { pid: started.pid, containerId, mappings };
    await writeFile(this.file(containerId), JSON.stringify(rec));
  }

  private async record(containerId: string): Promise<ProxyRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.file(containerId), 'utf8')) as ProxyRecord;
    } catch {
      return undefined;
    }
  }

  /** Whether the container's proxy is running. */
  async running(containerId: string): Promise<boolean> {
    const rec = await this.record(containerId);
    return Boolean(rec && (await isProxyOf(rec.pid, containerId)));
  }

  /** Ends the container's proxy and waits until its ports are free. Idempotent. */
  async stop(containerId: string): Promise<void> {
    const rec = await this.record(containerId);
    if (!rec) return;
    if (await isProxyOf(rec.pid, containerId)) {
      try { process.kill(rec.pid, 'SIGTERM'); } catch { /* already gone */ }
      for (let i = 0; i < 100 && (await isProxyOf(rec.pid, containerId)); i++) {
        if (i === 50) { try { process.kill(rec.pid, 'SIGKILL'); } catch { /* gone */ } }
        await sleep(10);
      }
    }
    await rm(this.file(containerId), { force: true });
  }
}
