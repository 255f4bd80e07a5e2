import { mkdir, stat } from 'node:fs/promises';
import { InvalidParameterError, NotFoundError, errnoCode, errorMessage } from '../common/errors.js';
import { randomId } from '../common/ids.js';
import type { IdMapping } from '../common/id-map.js';
import type { Logger } from '../common/log.js';
import { resolveInRootfs, type SpecMount } from '../runtime/index.js';
import {
  cleanPath, parseApiMount, parseTmpfsEntry, parseVolumeSpec, parseVolumesFrom,
  type ApiMount, type MountPoint, type VolumeService,
} from '../volume/index.js';
import type { ContainerConfig, ContainerRecord, HostConfig } from './container-record.js';
import { claimVolumeRoot } from './userns-mode.js';

/**
 * The container's mounts from every source Docker reads, in Docker's precedence: volumes of
 * other containers (`VolumesFrom`), then `Config.Volumes` (with the image's VOLUMEs) as anonymous
 * volumes where nothing else is mounted, then `Binds`, then `Mounts` (a bind and a mount on the
 * same path is an error), then `Tmpfs`, which wins. Validates everything and creates nothing:
 * anonymous volumes get their names here and come into being in `realizeMounts`.
 */
export async function planMounts(
  hostConfig: HostConfig,
  config: ContainerConfig,
  findContainer: (idOrName: string) => ContainerRecord | undefined,
): Promise<MountPoint[]> {
  const binds = ((hostConfig.Binds ?? []) as string[]).map(parseVolumeSpec);
  const rawMounts = hostConfig['Mounts'];
  if (rawMounts !== undefined && rawMounts !== null && !Array.isArray(rawMounts)) {
    throw new InvalidParameterError('json: cannot unmarshal object into Go struct field HostConfig.Mounts of type []mount.Mount');
  }
  const mounts = ((rawMounts ?? []) as ApiMount[]).map(parseApiMount);
  const rawTmpfs = hostConfig['Tmpfs'];
  if (rawTmpfs !== undefined && rawTmpfs !== null && (typeof rawTmpfs !== 'object' || Array.isArray(rawTmpfs))) {
    throw new InvalidParameterError('json: cannot unmarshal array into Go struct field HostConfig.Tmpfs of type map[string]string');
  }
  const tmpfs = Object.entries((rawTmpfs ?? {}) as Record<string, string>).map(([d, o]) => parseTmpfsEntry(d, String(o ?? '')));
  const rawFrom = hostConfig['VolumesFrom'];
  if (rawFrom !== undefined && rawFrom !== null && !Array.isArray(rawFrom)) {
    throw new InvalidParameterError('json: cannot unmarshal object into Go struct field HostConfig.VolumesFrom of type []string');
  }
  const from = ((rawFrom ?? []) as string[]).map(parseVolumesFrom);

  // A -v on a --tmpfs path is a duplicate, as in Docker; a --mount there gives way to the tmpfs.
  const tmpfsDests = new Set(tmpfs.map((t) => t.destination));
  const explicit = new Set<string>();
  for (const m of [...binds, ...mounts]) {
    if (explicit.has(m.destination) || (binds.includes(m) && tmpfsDests.has(m.destination))) {
      throw new InvalidParameterError(`Duplicate mount point: ${m.destination}`);
    }
    explicit.add(m.destination);
  }
  for (const m of mounts) {
    if (m.type === 'bind' && !m.createSource) await mustExist(m.source);
  }

  const byDest = new Map<string, MountPoint>();
  for (const f of from) {
    const other = findContainer(f.container);
    if (!other) throw new NotFoundError(`No such container: ${f.container}`);
    for (const m of other.mountPoints ?? []) {
      if (m.type === 'tmpfs') continue;
      byDest.set(m.destination, {
        ...m,
        rw: m.rw && f.mode !== 'ro',
        mode: '',
        copyData: false,
        createSource: false,
      });
    }
  }
  for (const dest of Object.keys(config.Volumes ?? {})) {
    const d = cleanPath(dest);
    if (!d.startsWith('/')) throw new InvalidParameterError(`invalid volume specification: '${dest}': invalid mount config for type "volume": invalid mount path: '${dest}' mount path must be absolute`);
    if (explicit.has(d) || byDest.has(d) || tmpfsDests.has(d)) continue;
    byDest.set(d, {
      type: 'volume', source: '', destination: d, name: '', driver: 'local', mode: '', rw: true, propagation: '',
      copyData: true, createSource: false, anonymous: true,
    });
  }
  for (const m of [...binds, ...mounts]) {
    // A named or anonymous volume from -v or --mount: local volumes show mode "z" when none is given.
    if (m.type === 'volume' && m.mode === '') m.mode = 'z';
    byDest.set(m.destination, m);
  }
  for (const t of tmpfs) byDest.set(t.destination, t);
  const out = [...byDest.values()];
  for (const m of out) if (m.type === 'volume' && !m.name) m.name = randomId();
  return out;
}

async function mustExist(path: string): Promise<void> {
  try {
    await stat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${path}`);
    throw err;
  }
}

/**
 * Creates the planned volumes (named ones that do not exist yet, and the anonymous ones) and
 * records the container as their user. On failure, the anonymous volumes made here go again.
 */
export async function realizeMounts(plan: MountPoint[], containerId: string, volumes: VolumeService): Promise<void> {
  const made: string[] = [];
  try {
    for (const m of plan) {
      if (m.type !== 'volume') continue;
      const existed = volumes.find(m.name) !== undefined;
      const opts: Parameters<VolumeService['create']>[0] = { name: m.name, driver: m.driver || 'local', reference: containerId };
      if (m.anonymous) opts.anonymous = true;
      if (m.driverOpts) opts.driverOpts = m.driverOpts;
      if (m.labels) opts.labels = m.labels;
      const vol = await volumes.create(opts);
      if (!existed && m.anonymous) made.push(vol.name);
      m.source = volumes.dataDir(vol.name);
      m.driver = vol.driver;
    }
  } catch (err) {
    releaseRefs(plan, containerId, volumes);
    for (const name of made) await volumes.remove(name).catch(() => undefined);
    throw err;
  }
}

/** Drops the container's references; with `removeAnonymous`, removes its anonymous volumes no one else uses. */
export async function releaseVolumes(
  rec: Pick<ContainerRecord, 'id' | 'mountPoints'>, volumes: VolumeService, opts: { removeAnonymous: boolean; logger: Logger },
): Promise<void> {
  releaseRefs(rec.mountPoints ?? [], rec.id, volumes);
  if (!opts.removeAnonymous) return;
  for (const m of rec.mountPoints ?? []) {
    if (m.type !== 'volume' || !m.anonymous) continue;
    if (volumes.usedBy(m.name).length) continue;
    await volumes.remove(m.name).catch((err) => {
      if (!(err instanceof NotFoundError)) opts.logger.warn('anonymous volume removal failed', { name: m.name, err: errorMessage(err) });
    });
  }
}

function releaseRefs(plan: MountPoint[], containerId: string, volumes: VolumeService): void {
  for (const m of plan) if (m.type === 'volume' && m.name) volumes.removeRef(m.name, containerId);
}

/** Re-registers the references of every container (start-up). */
export function restoreVolumeRefs(records: Iterable<ContainerRecord>, volumes: VolumeService): void {
  for (const rec of records) {
    for (const m of rec.mountPoints ?? []) if (m.type === 'volume' && m.name) volumes.addRef(m.name, rec.id);
  }
}

/**
 * The OCI mounts of a container's volumes, binds and tmpfs mounts at start: mounts volumes that
 * need a device, copies the image's content into new empty volumes, creates missing `-v` bind
 * sources.
 */
export async function specMounts(rec: ContainerRecord, rootfs: string, volumes: VolumeService, idMap?: IdMapping): Promise<SpecMount[]> {
  const out: SpecMount[] = [];
  for (const m of rec.mountPoints ?? []) {
    const ro = m.rw ? [] : ['ro'];
    if (m.type === 'tmpfs') {
      const opts = ['nosuid', 'nodev', 'noexec'];
      for (const o of m.tmpfsOptions ?? []) {
        const flip: Record<string, string> = { exec: 'noexec', suid: 'nosuid', dev: 'nodev' };
        if (flip[o]) { const i = opts.indexOf(flip[o]!); if (i >= 0) opts.splice(i, 1); }
        if (!opts.includes(o)) opts.push(o);
      }
      out.push({ destination: m.destination, source: 'tmpfs', type: 'tmpfs', options: [...opts, ...(m.rw || opts.includes('ro') ? [] : ['ro'])] });
      continue;
    }
    if (m.type === 'bind') {
      try {
        await stat(m.source);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        // -v makes a missing host path (a directory); --mount requires it.
        if (!m.createSource) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
        await mkdir(m.source, { recursive: true, mode: 0o755 });
      }
      out.push({ destination: m.destination, source: m.source, type: 'bind', options: [m.nonRecursive ? 'bind' : 'rbind', m.propagation || 'rprivate', ...ro] });
      continue;
    }
    const path = await volumes.mount(m.name, rec.id, {
      destination: m.destination, propagation: m.propagation, 'read/write': String(m.rw),
    });
    if (m.copyData) await volumes.copyUp(m.name, await resolveInRootfs(rootfs, m.destination));
    // A volume of its own files becomes the namespace root's; one that mounts a device or a host
    // directory (`--opt device=...`) keeps that source's owner, as a bind mount does.
    if (idMap && !hasDevice(volumes, m.name)) await claimVolumeRoot(path, idMap);
    out.push({ destination: m.destination, source: path, type: 'bind', options: ['rbind', 'rprivate', ...ro] });
  }
  return out;
}

/** Ends the container's use of its volumes' mounts (idempotent). */
export async function unmountVolumes(rec: ContainerRecord, volumes: VolumeService, logger: Logger): Promise<void> {
  for (const m of rec.mountPoints ?? []) {
    if (m.type !== 'volume') continue;
    await volumes.unmount(m.name, rec.id).catch((err) => logger.warn('volume unmount failed', { name: m.name, err: errorMessage(err) }));
  }
}

/** Inspect's and ps's `Mounts`: Docker's MountPoint shape, sorted by destination. */
export function mountsView(rec: ContainerRecord): Array<Record<string, unknown>> {
  return [...(rec.mountPoints ?? [])]
    .filter((m) => !(m.type === 'tmpfs' && isTmpfsFlag(rec, m.destination)))
    .sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0))
    .map((m) => {
      const o: Record<string, unknown> = { Type: m.type };
      if (m.type === 'volume') o['Name'] = m.name;
      o['Source'] = m.source;
      o['Destination'] = m.destination;
      if (m.type === 'volume') o['Driver'] = m.driver;
      o['Mode'] = m.mode;
      o['RW'] = m.rw;
      o['Propagation'] = m.propagation;
      return o;
    });
}

/** `--tmpfs` mounts are not listed in Mounts (Docker shows them only in HostConfig.Tmpfs). */
function isTmpfsFlag(rec: ContainerRecord, dest: string): boolean {
  const t = rec.hostConfig['Tmpfs'] as Record<string, string> | null | undefined;
  return Boolean(t && Object.keys(t).some((k) => cleanPath(k) === dest));
}

function hasDevice(volumes: VolumeService, name: string): boolean {
  const o = volumes.get(name).options;
  return Boolean(o && (o['type'] || o['device']));
}
