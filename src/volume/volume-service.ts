import { chmod, chown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError, errorMessage, errnoCode } from '../common/errors.js';
import { randomId } from '../common/ids.js';
import type { Logger } from '../common/log.js';
import type { EventBus } from '../events/event-bus.js';
import type { Db } from '../store/metadata-db.js';
import { KeyedMutex } from '../store/keyed-mutex.js';
import { runCommand } from '../sys/run-command.js';
import { directorySize, isMounted, mountLocal, needsMount, unmountLocal, validateLocalOptions } from './local-driver.js';
import { validateVolumeName } from './mount-spec.js';

/** Docker's label on volumes made without a name; `volume prune` removes only these by default. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export interface Volume {
  name: string;
  driver: string;
  /** RFC 3339, seconds precision. */
  createdAt: string;
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  anonymous: boolean;
}

export interface VolumeCreateOptions {
  /** Empty or absent: a generated 64-hex name. */
  name?: string;
  driver?: string;
  driverOpts?: Record<string, string> | null;
  labels?: Record<string, string> | null;
  anonymous?: boolean;
  /** A container to record as a user in the same step (so a concurrent remove cannot slip in between). */
  reference?: string;
}

export interface VolumeUsage {
  name: string;
  size: number;
  refCount: number;
}

export interface VolumeServiceOptions {
  db: Db;
  /** `<data-root>/volumes` */
  root: string;
  events: EventBus;
  logger: Logger;
}

interface VolumeRow {
  name: string;
  driver: string;
  created_at: string;
  labels: string | null;
  options: string | null;
  anonymous: number;
}

const LIST_FILTERS = ['dangling', 'name', 'label', 'driver'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

/**
 * Volumes of the `local` driver: a directory under `<data-root>/volumes/<name>/_data`, optionally
 * with a device mounted on it at first use. Tracks which containers reference each volume (a
 * volume in use cannot be removed) and which running containers have it mounted.
 */
export class VolumeService {
  private readonly volumes = new Map<string, Volume>();
  /** Volume name -> ids of containers whose mounts name it. */
  private readonly refs = new Map<string, Set<string>>();
  /** Volume name -> ids of running containers that have it mounted. */
  private readonly active = new Map<string, Set<string>>();
  private readonly mutex = new KeyedMutex();

  constructor(private readonly o: VolumeServiceOptions) {}

  /** Loads the volume rows and removes directories that no row describes (a create cut short). */
  async load(): Promise<void> {
    await mkdir(this.o.root, { recursive: true, mode: 0o701 });
    const rows = this.o.db.prepare('SELECT name, driver, created_at, labels, options, anonymous FROM volumes').all() as VolumeRow[];
    for (const r of rows) {
      this.volumes.set(r.name, {
        name: r.name,
        driver: r.driver,
        createdAt: r.created_at,
        labels: r.labels === null ? null : JSON.parse(r.labels) as Record<string, string>,
        options: r.options === null ? null : JSON.parse(r.options) as Record<string, string>,
        anonymous: r.anonymous === 1,
      });
    }
    for (const name of await readdir(this.o.root)) {
      if (this.volumes.has(name)) continue;
      const dir = join(this.o.root, name);
      if (await isMounted(join(dir, '_data'))) continue;
      await rm(dir, { recursive: true, force: true });
    }
  }

  dataDir(name: string): string {
    return join(this.o.root, name, '_data');
  }

  find(name: string): Volume | undefined {
    return this.volumes.get(name);
  }

  get(name: string): Volume {
    const v = this.volumes.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  /** Ids of the containers that reference the volume. */
  usedBy(name: string): string[] {
    return [...(this.refs.get(name) ?? [])];
  }

  list(filters: Map<string, string[]> = new Map()): Volume[] {
    for (const k of filters.keys()) if (!LIST_FILTERS.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    let list = [...this.volumes.values()].sort((a, b) => a.name.localeCompare(b.name));
    const dangling = filters.get('dangling');
    if (dangling?.length) {
      const want = dangling.map((d) => {
        const v = d.toLowerCase();
        if (v === 'true' || v === '1') return true;
        if (v === 'false' || v === '0') return false;
        throw new InvalidParameterError(`invalid filter 'dangling=${d}'`);
      });
      list = list.filter((v) => want.includes(this.usedBy(v.name).length === 0));
    }
    const names = filters.get('name');
    if (names?.length) list = list.filter((v) => names.some((n) => matches(n, v.name)));
    const drivers = filters.get('driver');
    if (drivers?.length) list = list.filter((v) => drivers.some((d) => matches(d, v.driver)));
    const labels = filters.get('label');
    if (labels?.length) list = list.filter((v) => labels.every((l) => hasLabel(v, l)));
    return list;
  }

  /** Creates a volume; a name that exists gives the existing volume (concurrent creates give one). */
  async create(opts: VolumeCreateOptions = {}): Promise<Volume> {
    const name = opts.name || randomId();
    const driver = opts.driver || 'local';
    if (driver !== 'local') throw new NotFoundError(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    validateVolumeName(name);
    // As sent: the CLI's empty map shows as `{}`, an absent one as null.
    const options = opts.driverOpts ? { ...opts.driverOpts } : null;
    validateLocalOptions(name, options ?? {});
    return this.mutex.run(name, async () => {
      const existing = this.volumes.get(name);
      if (existing) {
        if (opts.reference) this.addRef(name, opts.reference);
        return existing;
      }
      const labels: Record<string, string> | null = opts.labels ? { ...opts.labels } : opts.anonymous ? {} : null;
      if (opts.anonymous && labels) labels[ANONYMOUS_LABEL] = '';
      const vol: Volume = {
        name, driver, createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), labels, options, anonymous: Boolean(opts.anonymous),
      };
      const dir = join(this.o.root, name);
      try {
        // One level at a time: a recursive mkdir reports a full disk as ENOENT.
        for (const d of [dir, this.dataDir(name)]) {
          await mkdir(d, { mode: 0o755 }).catch((err: unknown) => { if (errnoCode(err) !== 'EEXIST') throw err; });
        }
        this.o.db.prepare('INSERT INTO volumes (name, driver, created_at, labels, options, anonymous) VALUES (?, ?, ?, ?, ?, ?)')
          .run(name, driver, vol.createdAt, labels ? JSON.stringify(labels) : null, options ? JSON.stringify(options) : null, vol.anonymous ? 1 : 0);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      this.volumes.set(name, vol);
      if (opts.reference) this.addRef(name, opts.reference);
      this.o.events.publish('volume', 'create', name, { driver });
      return vol;
    });
  }

  // ---- references (containers naming the volume) ---------------------------------------------

  addRef(name: string, containerId: string): void {
    let s = this.refs.get(name);
    if (!s) this.refs.set(name, (s = new Set()));
    s.add(containerId);
  }

  removeRef(name: string, containerId: string): void {
    const s = this.refs.get(name);
    if (!s) return;
    s.delete(containerId);
    if (s.size === 0) this.refs.delete(name);
  }

  // ---- mounts (running containers using the volume) ------------------------------------------

  /**
   * Marks the volume as used by a running container and returns the path to bind into it. A
   * volume with a device is mounted at its first user (idempotent: an existing mount is kept).
   */
  async mount(name: string, containerId: string, attributes: Record<string, string> = {}, opts: { quiet?: boolean } = {}): Promise<string> {
    return this.mutex.run(name, async () => {
      const vol = this.get(name);
      const users = this.active.get(name) ?? new Set<string>();
      const dir = this.dataDir(name);
      if (needsMount(vol.options) && !(await isMounted(dir))) {
        await mkdir(dir, { recursive: true, mode: 0o755 });
        mountLocal(dir, vol.options!);
      }
      const fresh = !users.has(containerId);
      users.add(containerId);
      this.active.set(name, users);
      if (fresh && !opts.quiet) this.o.events.publish('volume', 'mount', name, { container: containerId, driver: vol.driver, ...attributes });
      return dir;
    });
  }

  /** Drops a running container's use of the volume; the last user's stop unmounts a device. */
  async unmount(name: string, containerId: string, opts: { quiet?: boolean } = {}): Promise<void> {
    await this.mutex.run(name, async () => {
      const users = this.active.get(name);
      if (!users?.has(containerId)) return;
      users.delete(containerId);
      const vol = this.volumes.get(name);
      if (users.size === 0) {
        this.active.delete(name);
        if (vol && needsMount(vol.options)) unmountLocal(this.dataDir(name));
      }
      if (!opts.quiet) this.o.events.publish('volume', 'unmount', name, { container: containerId, driver: vol?.driver ?? 'local' });
    });
  }

  /** After start-up reconcile: unmounts device volumes that no running container uses. */
  async sweepMounts(): Promise<void> {
    for (const vol of this.volumes.values()) {
      if (!needsMount(vol.options) || this.active.has(vol.name)) continue;
      const dir = this.dataDir(vol.name);
      if (await isMounted(dir)) {
        try { unmountLocal(dir); } catch (err) { this.o.logger.warn('volume unmount failed', { name: vol.name, err: errorMessage(err) }); }
      }
    }
  }

  // ---- removal -------------------------------------------------------------------------------

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.mutex.run(name, async () => {
      const vol = this.volumes.get(name);
      if (!vol) {
        if (opts.force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      const users = this.usedBy(name);
      if (users.length) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      const dir = this.dataDir(name);
      if (needsMount(vol.options) && (await isMounted(dir))) unmountLocal(dir);
      // Never follow into a bind that could not be unmounted: that would delete the host's data.
      if (await isMounted(dir)) throw new ConflictError(`remove ${name}: volume is in use - [mounted at ${dir}]`);
      this.o.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
      this.volumes.delete(name);
      this.active.delete(name);
      await rm(join(this.o.root, name), { recursive: true, force: true });
      this.o.events.publish('volume', 'destroy', name, { driver: vol.driver });
    });
  }

  /**
   * Removes unused volumes: anonymous ones only, unless `all` (API 1.42+ filter) or an older API
   * (which pruned every unused volume). Filters: `label`, `label!`, `all`.
   */
  async prune(filters: Map<string, string[]>, opts: { allByDefault: boolean }): Promise<{ deleted: string[]; reclaimed: number }> {
    for (const k of filters.keys()) if (!PRUNE_FILTERS.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    let all = opts.allByDefault;
    for (const v of filters.get('all') ?? []) {
      const s = v.toLowerCase();
      if (['1', 'true'].includes(s)) all = true;
      else if (['0', 'false'].includes(s)) all = false;
      else throw new InvalidParameterError(`invalid filter 'all=${v}'`);
    }
    const labels = filters.get('label') ?? [];
    const notLabels = filters.get('label!') ?? [];
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const vol of [...this.volumes.values()]) {
      if (this.usedBy(vol.name).length) continue;
      if (!all && !vol.anonymous) continue;
      if (!labels.every((l) => hasLabel(vol, l))) continue;
      if (notLabels.some((l) => hasLabel(vol, l))) continue;
      const size = needsMount(vol.options) ? 0 : await directorySize(this.dataDir(vol.name));
      try {
        await this.remove(vol.name);
      } catch (err) {
        this.o.logger.warn('volume prune: remove failed', { name: vol.name, err: errorMessage(err) });
        continue;
      }
      deleted.push(vol.name);
      reclaimed += size;
    }
    this.o.events.publish('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { deleted, reclaimed };
  }

  /** Size and reference count of every volume (`system df`). Sizes of device volumes are -1 unless mounted. */
  async usage(): Promise<VolumeUsage[]> {
    const out: VolumeUsage[] = [];
    for (const vol of [...this.volumes.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const dir = this.dataDir(vol.name);
      const size = needsMount(vol.options) && !(await isMounted(dir)) ? -1 : await directorySize(dir);
      out.push({ name: vol.name, size, refCount: this.usedBy(vol.name).length });
    }
    return out;
  }

  /**
   * Copies the image's content at a mount destination into an empty volume, keeping owners,
   * modes, times and xattrs, and gives the volume root the owner and mode of the image's
   * directory (Docker's copy-up). `source` must already be resolved inside the rootfs.
   */
  async copyUp(name: string, source: string): Promise<boolean> {
    return this.mutex.run(name, async () => {
      const dir = this.dataDir(name);
      let st;
      try { st = await lstat(source); } catch { return false; }
      if (!st.isDirectory()) return false;
      if ((await readdir(dir)).length > 0) return false;
      if ((await readdir(source)).length > 0) await runCommand(['cp', '-a', '--', `${source}/.`, dir]);
      await chown(dir, st.uid, st.gid);
      await chmod(dir, st.mode & 0o7777);
      return true;
    });
  }
}

function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return value.includes(pattern);
  }
}

function hasLabel(v: Volume, filter: string): boolean {
  const eq = filter.indexOf('=');
  const labels = v.labels ?? {};
  if (eq < 0) return filter in labels;
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}
