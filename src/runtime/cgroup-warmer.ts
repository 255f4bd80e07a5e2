import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

/**
 * The first write to any `cgroup.procs` after a quiet spell waits for an RCU grace period in the
 * kernel (the global lock that guards moving processes between cgroups switches its readers to
 * a slow path first): 6-18 ms on this host, paid by the runtime when it puts a new container's
 * init or an exec'd process into the container's cgroups. Later writes, until the lock goes
 * quiet again, take microseconds.
 *
 * When a start or an exec is about to come, berthd writes its own pid into the cgroup it is
 * already in (a move that changes nothing) from a worker thread, so the grace period elapses
 * while the request is still being prepared rather than inside the runtime. Nothing changes for
 * any process; when the file cannot be written the warmer turns itself off.
 */
export class CgroupWarmer {
  private target: string | null | undefined;
  private inflight: Promise<void> | undefined;

  constructor(private readonly procSelfCgroup = '/proc/self/cgroup', private readonly cgroupRoot = '/sys/fs/cgroup') {}

  /** The cgroup.procs file of berthd's own cgroup (pids on v1, the unified one on v2), or null. */
  targetFile(): string | null {
    if (this.target !== undefined) return this.target;
    let text = '';
    try { text = readFileSync(this.procSelfCgroup, 'utf8'); } catch { /* not Linux */ }
    const lines = text.split('\n').map((l) => l.split(':'));
    const v1 = lines.find((f) => f.length >= 3 && f[1]!.split(',').includes('pids'));
    const v2 = lines.find((f) => f.length >= 3 && f[0] === '0' && f[1] === '');
    const path = v1 ? `${this.cgroupRoot}/pids${v1.slice(2).join(':')}` : v2 && !lines.some((f) => f[1] && f[1] !== '') ? `${this.cgroupRoot}${v2.slice(2).join(':')}` : null;
    this.target = path ? `${path.replace(/\/$/, '')}/cgroup.procs` : null;
    return this.target;
  }

  /** Starts the grace period now, unless one is being waited for already. */
  warm(): void {
    if (this.inflight) return;
    const file = this.targetFile();
    if (!file) return;
    this.inflight = writeFile(file, `${process.pid}\n`)
      .catch(() => { this.target = null; })
      .finally(() => { this.inflight = undefined; });
  }
}
