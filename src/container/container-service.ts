import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { chown, lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../store/metadata-db.js';
import { KeyedMutex } from '../store/keyed-mutex.js';
import {
  ConflictError, EngineError, InvalidParameterError, NotFoundError, NotImplementedError, NotModifiedError, SystemError, errorMessage, errnoCode,
} from '../common/errors.js';
import { randomId } from '../common/ids.js';
import type { Logger } from '../common/log.js';
import type { EventBus } from '../events/event-bus.js';
import type { ImageService } from '../image/image-service.js';
import { familiarString, parseReference, withDefaultTag } from '../common/reference.js';
import type { LayerStore } from '../layer/index.js';
import { checkContainerStorageOpt } from '../layer/index.js';
import { buildSpec, normalizeCapability, resolveCapabilities, resolveUser, withUserNamespace, type HostFacts, type SpecInput } from '../runtime/index.js';
import { hostOwnerOf, type IdMapping } from '../common/id-map.js';
import { readLog, readLogFiles, resolveLogConfig, canReadLogs, logAttributes, detailsPrefix, renderLogTag, type LogConfig, type LogManager, type LogTarget } from '../logs/index.js';
import type { NetworkService } from '../network/index.js';
import type { ContainerRecord, ContainerState, HealthState, HostConfig } from './container-record.js';
import { ZERO_TIME } from './container-record.js';
import { canStart, canTransition, isActive, publicStatus, type ContainerStatus } from './container-status.js';
import { composeConfig, parseBind, validateName, type CreateRequest } from './create-request.js';
import type { ContainerRuntime, StdinWriter } from './container-runtime.js';
import { generateName } from './name-generator.js';
import type { VolumeService } from '../volume/index.js';
import { planMounts, realizeMounts, releaseVolumes, restoreVolumeRefs, specMounts, unmountVolumes } from './volume-mounts.js';
import { parseSignal } from './signals.js';
import { specLimits } from './process-service.js';
import { securityInputs, sharedNamespaces, validateSecurity } from './security-options.js';
import { cgroupsPathFor, groupAddGids, mountShareableShm, specDevices, unmountShareableShm, validateHostIsolation } from './host-isolation.js';
import { containerIdMapping, giveToNamespaceRoot, joinedContainer, openDirsTo, validateUsernsSettings } from './userns-mode.js';
import { pinUserNamespace, unpinNamespace } from '../sys/index.js';

export interface ContainerServiceOptions {
  db: Db;
  images: ImageService;
  layers: LayerStore;
  runtime: ContainerRuntime;
  events: EventBus;
  logger: Logger;
  dataRoot: string;
  execRoot: string;
  hostFacts: HostFacts;
  seccompProfile: string | null;
  /** The graph driver's name, for inspect. */
  driverName: string;
  volumes: VolumeService;
  /** The daemon's `log-driver`/`log-opts` (default json-file). */
  logDefaults?: LogConfig;
  /** Rotation and shipping of running containers' logs. */
  logManager?: LogManager;
  /** daemon.json `default-shm-size` in bytes, for containers that set none. */
  defaultShmSize?: number;
  /** daemon `default-ulimits`: applied at start to the limits a container does not set itself. */
  defaultUlimits?: Array<{ Name: string; Soft: number; Hard: number }>;
  /** Networks, addresses and published ports of container runs. */
  network: NetworkService;
  /** The OCI runtimes containers may name (HostConfig.Runtime), and the one they get otherwise. */
  runtimes?: { names: string[]; defaultName: string };
  /** daemon `userns-remap`: containers run in a user namespace with these ranges (unless `--userns host`). */
  idMapping?: IdMapping;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error?: { Message: string };
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  time: string;
  data: Buffer;
}

export interface LogsOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  since?: number;
  until?: number;
  tail?: number;
  signal?: AbortSignal;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  stream: boolean;
  logs: boolean;
  signal: AbortSignal;
}

export interface AttachSession {
  output: AsyncIterable<LogEntry>;
  /** Present when stdin was asked for and the container keeps stdin open. */
  stdin?: StdinWriter;
}

interface ListOptions {
  all: boolean;
  limit?: number;
  filters: Map<string, string[]>;
}

const DEFAULT_STOP_TIMEOUT = 10;

/** Container lifecycle: create, start, stop, remove, wait, logs, attach, and start-up reconcile. */
export class ContainerService {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly mutex = new KeyedMutex();
  private readonly lifecycle = new EventEmitter();
  /** Counts exits per container, so an attach made before start knows when its run ended. */
  private readonly exitSeq = new Map<string, number>();
  /** Containers whose run has been torn down since their last start (saves a runtime call). */
  private readonly tornDown = new Set<string>();

  constructor(private readonly o: ContainerServiceOptions) {
    this.lifecycle.setMaxListeners(0);
    o.runtime.onExit((id, code) => {
      void this.handleExit(id, code).catch((err) => o.logger.error('exit handling failed', { id, err: errorMessage(err) }));
    });
  }

  // ---- paths ---------------------------------------------------------------------------------

  containerDir(id: string): string { return join(this.o.dataRoot, 'containers', id); }
  bundleDir(id: string): string { return join(this.o.execRoot, 'containers', id); }
  logPath(id: string): string { return join(this.containerDir(id), 'container.log'); }
  persistDir(id: string): string { return join(this.containerDir(id), 'persist'); }
  hostsPath(id: string): string { return join(this.containerDir(id), 'hosts'); }
  hostnamePath(id: string): string { return join(this.containerDir(id), 'hostname'); }
  resolvConfPath(id: string): string { return join(this.containerDir(id), 'resolv.conf'); }
  /** The container's user namespace, kept while it runs (userns-remap). */
  private usernsPath(id: string): string { return join(this.o.execRoot, 'userns', id); }

  // ---- lookups -------------------------------------------------------------------------------

  /** Loads every container row into memory (start-up). */
  load(): void {
    const rows = this.o.db.prepare('SELECT record FROM containers WHERE incomplete = 0').all() as { record: string }[];
    for (const r of rows) {
      const rec = JSON.parse(r.record) as ContainerRecord;
      this.records.set(rec.id, rec);
    }
    restoreVolumeRefs(this.records.values(), this.o.volumes);
  }

  find(idOrName: string): ContainerRecord | undefined {
    const key = idOrName.startsWith('/') ? idOrName.slice(1) : idOrName;
    const byId = this.records.get(key);
    if (byId) return byId;
    for (const rec of this.records.values()) if (rec.name === key) return rec;
    if (/^[0-9a-f]+$/.test(key)) {
      const matches = [...this.records.values()].filter((r) => r.id.startsWith(key));
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  /**
   * A client inspected a container. Clients inspect a running container before an exec (the
   * docker CLI always does), so the runtime is told one may come.
   */
  noteInspected(rec: ContainerRecord): void {
    if (rec.state.status === 'running') this.o.runtime.expectLaunch?.();
  }

  get(idOrName: string): ContainerRecord {
    const rec = this.find(idOrName);
    if (!rec) throw new NotFoundError(`No such container: ${idOrName}`);
    return rec;
  }

  all(): ContainerRecord[] {
    return [...this.records.values()].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  /** Containers standing on an image (rmi asks). */
  usingImage(imageId: string): Array<{ id: string; running: boolean }> {
    return this.all().filter((r) => r.imageId === imageId).map((r) => ({ id: r.id, running: isActive(r.state.status) }));
  }

  list(opts: ListOptions): ContainerRecord[] {
    let list = this.all();
    const f = opts.filters;
    for (const key of f.keys()) {
      if (!['status', 'name', 'label', 'id', 'ancestor', 'exited', 'before', 'since', 'network', 'volume', 'health', 'isolation', 'is-task', 'publish', 'expose'].includes(key)) {
        throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    }
    const statuses = f.get('status');
    for (const s of statuses ?? []) {
      if (!['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'].includes(s)) {
        throw new InvalidParameterError(`invalid filter 'status=${s}'`);
      }
    }
    const all = opts.all || Boolean(statuses?.length) || f.has('exited');
    if (!all && opts.limit === undefined) list = list.filter((r) => isActive(publicStatus(r)));
    if (statuses?.length) list = list.filter((r) => statuses.includes(publicStatus(r)));
    const names = f.get('name');
    if (names?.length) list = list.filter((r) => names.some((n) => safeRegex(n).test(`/${r.name}`)));
    const ids = f.get('id');
    if (ids?.length) list = list.filter((r) => ids.some((i) => r.id.startsWith(i)));
    const labels = f.get('label');
    if (labels?.length) {
      list = list.filter((r) => labels.every((l) => {
        const eq = l.indexOf('=');
        if (eq < 0) return l in r.config.Labels;
        return r.config.Labels[l.slice(0, eq)] === l.slice(eq + 1);
      }));
    }
    const vols = f.get('volume');
    if (vols?.length) {
      list = list.filter((r) => (r.mountPoints ?? []).some((m) => vols.some((v) => v === m.name || v === m.destination || (m.type === 'bind' && v === m.source))));
    }
    const health = f.get('health');
    if (health?.length) {
      for (const h of health) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h)) throw new InvalidParameterError(`Unrecognised filter value for health: ${h}`);
      list = list.filter((r) => health.includes(r.state.health?.Status ?? 'none'));
    }
    const exited = f.get('exited');
    if (exited?.length) {
      for (const e of exited) if (!/^-?\d+$/.test(e)) throw new InvalidParameterError(`invalid filter 'exited=${e}'`);
      list = list.filter((r) => r.state.status === 'exited' && exited.includes(String(r.state.exitCode)));
    }
    const ancestors = f.get('ancestor');
    if (ancestors?.length) {
      const ids = new Set<string>(ancestors.map((a) => this.o.images.store.findByName(a)?.id ?? ''));
      list = list.filter((r) => ids.has(r.imageId));
    }
    const before = f.get('before');
    if (before?.length) {
      const ref = this.get(before[0]!);
      list = list.filter((r) => r.created < ref.created);
    }
    const since = f.get('since');
    if (since?.length) {
      const ref = this.get(since[0]!);
      list = list.filter((r) => r.created > ref.created);
    }
    if (opts.limit !== undefined && opts.limit > 0) list = list.slice(0, opts.limit);
    return list;
  }

  // ---- persistence ---------------------------------------------------------------------------

  private save(rec: ContainerRecord): void {
    this.o.db.prepare('UPDATE containers SET record = ?, name = ? WHERE id = ?').run(JSON.stringify(rec), rec.name, rec.id);
  }

  private setState(rec: ContainerRecord, patch: Partial<ContainerState>): void {
    const to = patch.status;
    if (to && to !== rec.state.status && !canTransition(rec.state.status, to)) {
      throw new SystemError(`container ${rec.id}: invalid state change ${rec.state.status} -> ${to}`);
    }
    rec.state = { ...rec.state, ...patch };
    this.save(rec);
  }

  private event(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.o.events.publish('container', action, rec.id, { ...rec.config.Labels, image: rec.config.Image, name: rec.name, ...extra });
  }

  // ---- create --------------------------------------------------------------------------------

  async create(req: CreateRequest, opts: { name?: string }): Promise<{ id: string; warnings: string[] }> {
    if (!req.Image) throw new InvalidParameterError('No image was specified');
    // `run` starts what it creates a few milliseconds later.
    this.o.runtime.expectLaunch?.();
    let name = opts.name ? validateName(opts.name) : undefined;
    const image = this.o.images.store.findByName(req.Image);
    if (!image) {
      let shown = req.Image;
      try { shown = familiarString(withDefaultTag(parseReference(req.Image))); } catch { /* keep as typed */ }
      throw new NotFoundError(`No such image: ${shown}`);
    }
    const { config, hostConfig, path, args } = composeConfig(req, image.config.config ?? {}, req.Image);
    if (this.o.defaultShmSize && !((req.HostConfig?.ShmSize ?? 0) > 0)) hostConfig.ShmSize = this.o.defaultShmSize;
    hostConfig.LogConfig = resolveLogConfig(req.HostConfig?.LogConfig as Partial<LogConfig> | undefined, this.o.logDefaults ?? { Type: 'json-file', Config: {} });
    this.validateCapabilities(hostConfig.CapAdd ?? [], hostConfig.CapDrop ?? [], hostConfig.Privileged);
    checkContainerStorageOpt(this.o.driverName, (req.HostConfig as { StorageOpt?: Record<string, string> | null } | undefined)?.StorageOpt);
    validateSecurity(hostConfig);
    validateHostIsolation(hostConfig);
    this.resolveRuntime(hostConfig);
    validateUsernsSettings(this.o.idMapping, hostConfig);
    const idMap = containerIdMapping(this.o.idMapping, hostConfig);
    const mountPoints = await planMounts(hostConfig, config, (n) => this.find(n));
    const id = randomId();
    if (!config.Hostname) config.Hostname = hostConfig.NetworkMode === 'host' ? hostname() : id.slice(0, 12);
    const rec: ContainerRecord = {
      id,
      name: name ?? '',
      created: new Date().toISOString(),
      imageId: image.id,
      path,
      args,
      config,
      hostConfig,
      state: { status: 'created', pid: 0, conmonPid: 0, exitCode: 0, error: '', startedAt: ZERO_TIME, finishedAt: ZERO_TIME, oomKilled: false },
      restartCount: 0,
      driver: this.o.driverName,
      mountPoints,
    };
    // Reserve the name and the id in one statement; the row stays incomplete until its files exist.
    for (let attempt = 0; ; attempt++) {
      if (!name) rec.name = generateName(attempt);
      try {
        this.o.db.prepare('INSERT INTO containers (id, name, image_id, created_at, record, incomplete) VALUES (?, ?, ?, ?, ?, 1)')
          .run(id, rec.name, image.id, rec.created, JSON.stringify(rec));
        break;
      } catch (err) {
        if (!/UNIQUE/.test(errorMessage(err))) throw err;
        if (name) {
          const other = this.find(name);
          throw new ConflictError(`Conflict. The container name "/${name}" is already in use by container "${other?.id ?? 'unknown'}". You have to remove (or rename) that container to be able to reuse that name.`);
        }
        if (attempt > 10) throw err;
      }
    }
    name = rec.name;
    try {
      this.o.network.registerContainer(id, hostConfig, (req.NetworkingConfig as { EndpointsConfig?: unknown } | null)?.EndpointsConfig);
      await mkdir(this.persistDir(id), { recursive: true, mode: 0o700 });
      await writeFile(this.logPath(id), '', { mode: 0o640 });
      await this.o.layers.createRwLayer(id, image.topLayer, idMap ? { idMap } : {});
      if (idMap) await openDirsTo(join(this.o.dataRoot, 'containers'), this.containerDir(id), idMap);
      await realizeMounts(mountPoints, id, this.o.volumes);
      this.o.db.prepare('UPDATE containers SET incomplete = 0, record = ? WHERE id = ?').run(JSON.stringify(rec), id);
    } catch (err) {
      await releaseVolumes(rec, this.o.volumes, { removeAnonymous: true, logger: this.o.logger });
      this.o.network.forgetContainer(id);
      await this.o.layers.removeRwLayer(id).catch(() => undefined);
      await rm(this.containerDir(id), { recursive: true, force: true });
      this.o.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
      throw err;
    }
    this.records.set(id, rec);
    this.event(rec, 'create');
    return { id, warnings: [] };
  }

  /** HostConfig.Runtime: the daemon's default when empty, else one the daemon knows (Docker's words). */
  private resolveRuntime(hc: HostConfig): void {
    const rt = this.o.runtimes;
    if (!rt) return;
    const asked = hc['Runtime'] as unknown;
    if (asked === undefined || asked === null || asked === '') { hc['Runtime'] = rt.defaultName; return; }
    if (typeof asked !== 'string' || !rt.names.includes(asked)) throw new InvalidParameterError(`Unknown runtime specified ${String(asked)}`);
  }

  /** Docker refuses unknown capabilities at create; so does berth, and those the host cannot grant. */
  private validateCapabilities(capAdd: string[], capDrop: string[], privileged: boolean): void {
    for (const [field, list] of [['CapAdd', capAdd], ['CapDrop', capDrop]] as const) {
      for (const c of list) {
        try {
          normalizeCapability(c);
        } catch (err) {
          throw new InvalidParameterError(`invalid ${field}: ${errorMessage(err)}`);
        }
      }
    }
    resolveCapabilities({ privileged, capAdd, capDrop, capBound: this.o.hostFacts.capBound });
  }

  // ---- start ---------------------------------------------------------------------------------

  async start(idOrName: string): Promise<void> {
    const rec0 = this.get(idOrName);
    if (!isActive(rec0.state.status)) this.o.runtime.expectLaunch?.();
    await this.mutex.run(rec0.id, async () => {
      const rec = this.get(rec0.id);
      if (isActive(rec.state.status)) {
        if (rec.state.status === 'paused') throw new ConflictError('cannot start a paused container, try unpause instead');
        throw new NotModifiedError('container already started');
      }
      if (rec.restartPending && !this.restartByPolicyRunning.has(rec.id)) throw new NotModifiedError('container already started');
      if (!canStart(rec.state.status)) throw new ConflictError(`cannot start container ${rec.id} in state ${rec.state.status}`);
      try {
        await this.launch(rec);
      } catch (err) {
        await this.cleanupRun(rec);
        const msg = errorMessage(err);
        const code = /executable file not found|no such file or directory/.test(msg) ? 127 : /permission denied|is a directory/.test(msg) ? 126 : 128;
        this.setState(rec, { error: msg, exitCode: code, pid: 0, conmonPid: 0 });
        if (rec.hostConfig.AutoRemove) {
          this.notifyExit(rec, code, msg);
          await this.removeNow(rec, { volumes: true });
        }
        // Refusals before the task exists (a taken port or address) keep their own words, as Docker's.
        if (err instanceof EngineError && !(err instanceof SystemError)) throw new SystemError(msg, { cause: err });
        throw new SystemError(`failed to create task for container: ${msg}: unknown`, { cause: err });
      }
    });
  }

  private async launch(rec: ContainerRecord): Promise<void> {
    const id = rec.id;
    this.tornDown.delete(id);
    // The network (namespace, leases, ports, /etc files) is prepared alongside the rootfs mount;
    // netavark's setup then runs while the runtime creates the container, before it starts.
    // The layer knows the user namespace the container was created for (userns-remap); the
    // namespace is made first, for the network namespace to belong to it.
    const idMap = await this.o.layers.rwIdMap(id);
    const userns = idMap ? await this.userNamespaceFor(rec, idMap) : undefined;
    const [mounted, prepared] = await Promise.allSettled([
      this.o.layers.mountRw(id),
      this.o.network.start(rec, { hostname: this.hostnamePath(id), hosts: this.hostsPath(id), resolvConf: this.resolvConfPath(id) }, userns ? { userns } : {}),
    ]);
    if (prepared.status === 'rejected') throw prepared.reason;
    if (mounted.status === 'rejected') throw mounted.reason;
    const rootfs = mounted.value;
    const sandbox = prepared.value;
    const network: SpecInput['network'] = sandbox.network;
    if (idMap) await giveToNamespaceRoot([this.hostsPath(id), this.hostnamePath(id), this.resolvConfPath(id)], idMap);
    const user = await resolveUser(rootfs, rec.config.User);
    const cwd = rec.config.WorkingDir || '/';
    if (cwd !== '/') {
      const owner = idMap ? hostOwnerOf(idMap, user.uid, user.gid) : user;
      await mkdirInRootfs(rootfs, cwd, owner.uid, owner.gid);
    }
    const mounts: SpecInput['mounts'] = [
      { destination: '/etc/resolv.conf', source: this.resolvConfPath(id), type: 'bind', options: ['rbind', 'rprivate'] },
      { destination: '/etc/hostname', source: this.hostnamePath(id), type: 'bind', options: ['rbind', 'rprivate'] },
      { destination: '/etc/hosts', source: this.hostsPath(id), type: 'bind', options: ['rbind', 'rprivate'] },
    ];
    if (rec.mountPoints) {
      mounts.push(...await specMounts(rec, rootfs, this.o.volumes, idMap));
    } else {
      for (const b of rec.hostConfig.Binds ?? []) {
        const p = parseBind(b);
        await mkdir(p.source, { recursive: true });
        mounts.push({ destination: p.destination, source: p.source, type: 'bind', options: ['rbind', 'rprivate', ...(p.readonly ? ['ro'] : [])] });
      }
    }
    const env = [...rec.config.Env];
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${rec.config.Hostname}`);
    if (rec.config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const security = await securityInputs(rec.hostConfig, this.containerDir(id));
    const extraGids = await groupAddGids(rootfs, rec.hostConfig);
    if (extraGids.length) user.additionalGids = [...new Set([...user.additionalGids, ...extraGids])];
    const devices = await specDevices(rec.hostConfig);
    const shared = sharedNamespaces(rec.hostConfig, (n) => this.find(n));
    const shm = await this.shmFor(rec, shared, idMap);
    const baseSpec = buildSpec({
      id,
      rootfs,
      readonlyRootfs: rec.hostConfig.ReadonlyRootfs,
      args: [rec.path, ...rec.args],
      env,
      cwd,
      user,
      terminal: rec.config.Tty,
      hostname: rec.config.Hostname,
      domainname: rec.config.Domainname,
      privileged: rec.hostConfig.Privileged,
      capAdd: rec.hostConfig.CapAdd ?? [],
      capDrop: rec.hostConfig.CapDrop ?? [],
      init: Boolean(rec.hostConfig.Init),
      mounts,
      network,
      shmSize: rec.hostConfig.ShmSize,
      cgroupsPath: cgroupsPathFor(rec),
      ...(devices.length ? { extraDevices: devices } : {}),
      ...specLimits(rec.hostConfig, this.o.defaultUlimits),
      seccompProfilePath: rec.hostConfig.Privileged ? null : security.seccompProfilePath !== undefined ? security.seccompProfilePath : this.o.seccompProfile,
      noNewPrivileges: security.noNewPrivileges,
      sharedNamespaces: shared,
      ...(shm ? { shm } : {}),
      ...(Object.keys(security.sysctls).length ? { sysctls: security.sysctls } : {}),
    }, this.o.hostFacts);
    const spec = idMap && userns ? withUserNamespace(baseSpec, idMap, userns) : baseSpec;
    await rm(this.bundleDir(id), { recursive: true, force: true });
    await mkdir(this.bundleDir(id), { recursive: true, mode: 0o700 });
    await rm(join(this.persistDir(id), 'exit'), { force: true });
    await rm(join(this.persistDir(id), 'oom'), { force: true });
    const { pid, conmonPid } = await this.o.runtime.launch({
      id,
      bundleDir: this.bundleDir(id),
      spec,
      logPath: this.logPath(id),
      persistDir: this.persistDir(id),
      terminal: rec.config.Tty,
      stdin: rec.config.OpenStdin,
      // A terminal stays open across attaches (run -it, then detach, then attach again).
      stdinOnce: rec.config.StdinOnce && !rec.config.Tty,
      beforeStart: () => sandbox.ready,
      ...(typeof rec.hostConfig['Runtime'] === 'string' && rec.hostConfig['Runtime'] ? { runtime: rec.hostConfig['Runtime'] as string } : {}),
    });
    this.setState(rec, {
      status: 'running', pid, conmonPid, error: '', exitCode: 0, oomKilled: false,
      startedAt: new Date().toISOString(), finishedAt: rec.state.status === 'created' ? ZERO_TIME : rec.state.finishedAt,
    });
    this.event(rec, 'start');
    this.lifecycle.emit(`started:${id}`);
    this.watchLog(rec);
  }

  /** Hands a running container's log to the log manager (rotation, shipping). */
  private watchLog(rec: ContainerRecord): void {
    this.o.logManager?.watch(this.logTarget(rec));
  }

  private logTarget(rec: ContainerRecord): LogTarget {
    const id = rec.id;
    const runtime = this.o.runtime;
    return {
      id, name: rec.name, imageName: rec.config.Image, imageId: rec.imageId,
      path: this.logPath(id),
      config: rec.hostConfig.LogConfig,
      reopen: () => runtime.reopenLog ? runtime.reopenLog(this.bundleDir(id)) : Promise.resolve(),
      isDone: () => !isActive(this.records.get(id)?.state.status ?? 'exited'),
      onWake: (wake) => this.onExitOf(id, wake),
    };
  }

  /** The `logs --details` prefix of a container's lines (its log driver's labels, env and tag). */
  logDetailsPrefix(idOrName: string): string {
    const rec = this.get(idOrName);
    const attrs = logAttributes(rec.hostConfig.LogConfig, rec.config.Labels ?? {}, rec.config.Env ?? [],
      () => renderLogTag(rec.hostConfig.LogConfig.Config['tag'], { id: rec.id, name: rec.name, imageName: rec.config.Image, imageId: rec.imageId }));
    return detailsPrefix(attrs);
  }

  /** inspect's LogPath: the file a file-based driver writes; empty for the others, as in Docker. */
  inspectLogPath(rec: ContainerRecord): string {
    const t = rec.hostConfig.LogConfig?.Type;
    return t === 'json-file' || t === 'local' ? this.logPath(rec.id) : '';
  }

  /**
   * The user namespace a remapped container runs in: the one of the container whose namespaces
   * it joins, else its own, made now and kept under the exec root while it runs.
   */
  private async userNamespaceFor(rec: ContainerRecord, idMap: IdMapping): Promise<string> {
    const other = joinedContainer(rec.hostConfig);
    const pid = other ? this.find(other)?.state.pid : undefined;
    if (pid) return `/proc/${pid}/ns/user`;
    unpinNamespace(this.usernsPath(rec.id));
    await pinUserNamespace(idMap, this.usernsPath(rec.id));
    return this.usernsPath(rec.id);
  }

  /** Tears down what a run set up: runtime state, rootfs mount, bundle. Idempotent. */
  private shmPath(id: string): string { return join(this.containerDir(id), 'shm'); }

  /** `--ipc`: /dev/shm from the host, from a shareable donor, a host-side tmpfs when shareable, or none. */
  private async shmFor(rec: ContainerRecord, shared: { ipc?: 'host' | { path: string } }, idMap: IdMapping | undefined): Promise<SpecInput['shm']> {
    const mode = (rec.hostConfig['IpcMode'] as string | undefined) ?? '';
    if (mode === 'none') return 'none';
    if (shared.ipc === 'host') return { source: '/dev/shm' };
    if (mode.startsWith('container:')) return { source: this.shmPath(this.get(mode.slice('container:'.length)).id) };
    if (mode === 'shareable') {
      await mountShareableShm(this.shmPath(rec.id), rec.hostConfig.ShmSize, idMap ? hostOwnerOf(idMap, 0, 0) : undefined);
      return { source: this.shmPath(rec.id) };
    }
    return undefined;
  }

  private async cleanupRun(rec: ContainerRecord): Promise<void> {
    if (this.tornDown.has(rec.id)) return;
    const warn = (what: string) => (err: unknown): void => this.o.logger.warn(`${what} failed`, { id: rec.id, err: errorMessage(err) });
    // The process is gone: the runtime's record and the host-side mounts come down independently.
    await Promise.all([
      this.o.network.stop(rec.id, rec.name).catch(warn('network teardown')),
      this.o.runtime.delete(rec.id).catch(warn('runtime delete')),
      (async () => {
        await this.o.layers.unmountRw(rec.id).catch(warn('unmount'));
        await rm(this.bundleDir(rec.id), { recursive: true, force: true });
      })(),
    ]);
    await unmountVolumes(rec, this.o.volumes, this.o.logger);
    if (rec.hostConfig['IpcMode'] === 'shareable') unmountShareableShm(this.shmPath(rec.id));
    unpinNamespace(this.usernsPath(rec.id));
    this.tornDown.add(rec.id);
  }

  // ---- exit ----------------------------------------------------------------------------------

  private async handleExit(id: string, code: number): Promise<void> {
    await this.mutex.run(id, async () => {
      const rec = this.records.get(id);
      if (!rec || !isActive(rec.state.status)) return;
      await this.recordExit(rec, code);
    });
    const rec = this.records.get(id);
    if (rec && rec.hostConfig.AutoRemove && !isActive(rec.state.status)) {
      await this.mutex.run(id, () => this.removeNow(rec, { volumes: true }));
    }
  }

  private async recordExit(rec: ContainerRecord, code: number): Promise<void> {
    const oom = await this.o.runtime.wasOomKilled(this.persistDir(rec.id));
    this.o.logManager?.unwatch(rec.id);
    await this.cleanupRun(rec);
    try {
      this.setState(rec, { status: 'exited', exitCode: code, pid: 0, conmonPid: 0, finishedAt: new Date().toISOString(), oomKilled: oom });
    } catch (err) {
      // The exit happened whether or not it can be written down (a full disk): waiters must hear of it.
      if (errnoCode(err) !== 'SQLITE_FULL') throw err;
      this.o.logger.warn('could not record the exit', { id: rec.id, err: errorMessage(err) });
    }
    if (oom) this.event(rec, 'oom');
    this.event(rec, 'die', { exitCode: String(code) });
    this.notifyExit(rec, code);
  }

  private notifyExit(rec: ContainerRecord, code: number, error?: string): void {
    this.exitSeq.set(rec.id, (this.exitSeq.get(rec.id) ?? 0) + 1);
    this.lifecycle.emit(`exit:${rec.id}`, code, error);
  }

  /** Calls fn at every exit (and at removal) of the container until unsubscribed. */
  private onExitOf(id: string, fn: () => void): () => void {
    this.lifecycle.on(`exit:${id}`, fn);
    this.lifecycle.on(`removed:${id}`, fn);
    return () => {
      this.lifecycle.off(`exit:${id}`, fn);
      this.lifecycle.off(`removed:${id}`, fn);
    };
  }

  /** Resolves once the container's conmon is gone (polled; for exits that went unreported). */
  private async monitorGone(rec: ContainerRecord): Promise<void> {
    const pid = rec.state.conmonPid;
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      await delay(250);
      if (!pid || !(await this.o.runtime.isAlive(rec.id, pid))) {
        // Give a normal exit report a moment to arrive first.
        await delay(250);
        return;
      }
    }
    await new Promise(() => undefined);
  }

  /** Resolves at the next exit of the container. */
  private nextExit(id: string): Promise<{ code: number; error?: string }> {
    return new Promise((resolve) => this.lifecycle.once(`exit:${id}`, (code: number, error?: string) => resolve({ code, error })));
  }

  /**
   * Registers the wait at once (so a quick exit is not missed) and returns the promise of its
   * result; the caller flushes headers in between.
   */
  wait(idOrName: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    const rec = this.get(idOrName);
    const result = (code: number, error?: string): WaitResult => (error ? { StatusCode: code, Error: { Message: error } } : { StatusCode: code });
    // A container in its restart policy's back-off counts as running (Docker's Restarting state):
    // not-running waits for its next exit, or for the stop that cancels the restart.
    if (condition === 'not-running' && !isActive(rec.state.status) && !rec.restartPending) {
      return Promise.resolve(result(rec.state.exitCode));
    }
    // Removal also ends the other waits (a created container may be removed without ever stopping).
    const events = condition === 'removed' ? [`removed:${rec.id}`] : [`exit:${rec.id}`, `removed:${rec.id}`, `settled:${rec.id}`];
    return new Promise((resolve) => {
      const off = (): void => { for (const e of events) this.lifecycle.off(e, on); };
      const on = (code: number, error?: string): void => {
        off();
        signal?.removeEventListener('abort', abort);
        resolve(result(code, error));
      };
      const abort = (): void => {
        off();
        resolve(result(-1));
      };
      for (const e of events) this.lifecycle.on(e, on);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  // ---- stop / kill / restart -----------------------------------------------------------------

  async kill(idOrName: string, signalName: string | undefined): Promise<void> {
    const rec = this.get(idOrName);
    const sig = parseSignal(signalName || 'KILL');
    if (!isActive(rec.state.status)) throw new ConflictError(`Container ${rec.id} is not running`);
    // The process may end between the status check and the signal: that is "not running", not a failure.
    await this.o.runtime.kill(rec.id, sig).catch((err: unknown) => {
      if (/does not exist|not running|process already finished/i.test(errorMessage(err))) throw new ConflictError(`Container ${rec.id} is not running`);
      throw err;
    });
    this.event(rec, 'kill', { signal: String(sig) });
    await this.thawIfPaused(rec);
  }

  // ---- pause / unpause / update -------------------------------------------------------------

  async pause(idOrName: string): Promise<void> {
    const rec0 = this.get(idOrName);
    await this.mutex.run(rec0.id, async () => {
      const rec = this.get(rec0.id);
      if (rec.state.status === 'paused') throw new ConflictError(`Container ${rec.id} is already paused`);
      if (rec.state.status !== 'running') throw new ConflictError(`Container ${rec.id} is not running`);
      await this.o.runtime.pause(rec.id);
      this.setState(rec, { status: 'paused' });
      this.event(rec, 'pause');
    });
  }

  async unpause(idOrName: string): Promise<void> {
    const rec0 = this.get(idOrName);
    await this.mutex.run(rec0.id, async () => {
      const rec = this.get(rec0.id);
      if (rec.state.status !== 'paused') throw new ConflictError(`Container ${rec.id} is not paused`);
      await this.o.runtime.resume(rec.id);
      this.setState(rec, { status: 'running' });
      this.event(rec, 'unpause');
    });
  }

  /** A frozen container cannot act on a signal: thaw it (stop, kill and rm -f of a paused one). */
  private async thawIfPaused(rec: ContainerRecord): Promise<void> {
    if (rec.state.status !== 'paused') return;
    await this.o.runtime.resume(rec.id).catch((err) => this.o.logger.debug('resume failed', { id: rec.id, err: errorMessage(err) }));
    if (rec.state.status === 'paused') {
      this.setState(rec, { status: 'running' });
      this.event(rec, 'unpause');
    }
  }

  private restartCanceller: ((id: string) => boolean) | undefined;

  /** The restart manager's hook: cancels a pending restart, true when there was one. */
  setRestartCanceller(fn: (id: string) => boolean): void {
    this.restartCanceller = fn;
  }

  /** Records the health of a container (the health monitor's results). */
  setHealth(id: string, health: HealthState | undefined): void {
    const rec = this.records.get(id);
    if (!rec) return;
    rec.state = { ...rec.state };
    if (health) rec.state.health = health; else delete rec.state.health;
    this.save(rec);
  }

  /** Records a stop or kill through the API, or clears it at a start (restart policies). */
  setManuallyStopped(id: string, value: boolean): void {
    const rec = this.records.get(id);
    if (!rec || Boolean(rec.manuallyStopped) === value) return;
    rec.manuallyStopped = value;
    this.save(rec);
  }

  /** Marks an exited container as waiting for its policy's restart (or clears the mark). */
  setRestartPending(id: string, value: boolean): void {
    const rec = this.records.get(id);
    if (!rec || Boolean(rec.restartPending) === value) return;
    if (value) rec.restartPending = true; else delete rec.restartPending;
    this.save(rec);
    // A back-off cancelled (stop, kill, daemon start-up) leaves the container plainly exited:
    // that ends not-running waits. A restart under way counts instead at the next exit.
    if (!value && !this.restartByPolicyRunning.has(id) && !isActive(rec.state.status)) {
      this.lifecycle.emit(`settled:${id}`, rec.state.exitCode);
    }
  }

  private readonly restartByPolicyRunning = new Set<string>();

  /** Starts a container again under its restart policy: counts the restart, then starts it. */
  async restartByPolicy(id: string): Promise<void> {
    const rec = this.records.get(id);
    if (!rec || isActive(rec.state.status)) return;
    rec.restartCount += 1;
    this.save(rec);
    this.restartByPolicyRunning.add(id);
    try {
      await this.start(id);
    } finally {
      this.restartByPolicyRunning.delete(id);
      // Started, or failed (the restart manager schedules the next try and marks it again).
      this.setRestartPending(id, false);
    }
  }

  /** Replaces HostConfig fields of a container (update); the caller applied them to the runtime. */
  updateHostConfig(idOrName: string, patch: Partial<HostConfig>): ContainerRecord {
    const rec = this.get(idOrName);
    rec.hostConfig = { ...rec.hostConfig, ...patch };
    this.save(rec);
    this.event(rec, 'update');
    return rec;
  }

  async stop(idOrName: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const rec = this.get(idOrName);
    if (!isActive(rec.state.status)) {
      // Waiting to be restarted by its policy counts as running: the stop cancels the restart.
      if (this.restartCanceller?.(rec.id)) {
        this.setManuallyStopped(rec.id, true);
        this.event(rec, 'stop');
        return;
      }
      throw new NotModifiedError('container already stopped');
    }
    await this.stopRecord(rec, opts);
  }

  private async stopRecord(rec: ContainerRecord, opts: { timeout?: number; signal?: string }): Promise<void> {
    const sig = parseSignal(opts.signal || rec.config.StopSignal || 'SIGTERM');
    const timeout = opts.timeout ?? rec.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const exited = this.nextExit(rec.id);
    if (timeout !== 0) {
      await this.o.runtime.kill(rec.id, sig).catch((err) => this.o.logger.debug('stop signal failed', { id: rec.id, err: errorMessage(err) }));
      this.event(rec, 'kill', { signal: String(sig) });
      await this.thawIfPaused(rec);
      if (timeout < 0) { await exited; return; }
      const done = await Promise.race([exited.then(() => true), delay(timeout * 1000).then(() => false)]);
      if (done) { this.event(rec, 'stop'); return; }
    }
    await this.o.runtime.kill(rec.id, 9).catch((err) => this.o.logger.debug('SIGKILL failed', { id: rec.id, err: errorMessage(err) }));
    this.event(rec, 'kill', { signal: '9' });
    await this.thawIfPaused(rec);
    const done = await Promise.race([exited.then(() => true), delay(30_000).then(() => false)]);
    if (!done) throw new SystemError(`container ${rec.id} did not exit after SIGKILL`);
    this.event(rec, 'stop');
  }

  async restart(idOrName: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const rec = this.get(idOrName);
    if (isActive(rec.state.status)) await this.stopRecord(rec, opts);
    else if (rec.restartPending) this.restartCanceller?.(rec.id);
    await this.start(rec.id);
    this.event(rec, 'restart');
  }

  // ---- remove / rename -----------------------------------------------------------------------

  async remove(idOrName: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const rec = this.get(idOrName);
    if (rec.restartPending && !opts.force) {
      throw new ConflictError(`You cannot remove a restarting container ${rec.id}. Stop the container before attempting removal or force remove`);
    }
    if (isActive(rec.state.status)) {
      if (!opts.force) {
        throw new ConflictError(`You cannot remove a ${rec.state.status} container ${rec.id}. Stop the container before attempting removal or force remove`);
      }
      const exited = this.nextExit(rec.id);
      await this.o.runtime.kill(rec.id, 9).catch(() => undefined);
      this.event(rec, 'kill', { signal: '9' });
      await this.thawIfPaused(rec);
      const done = await Promise.race([exited.then(() => true), this.monitorGone(rec).then(() => true), delay(30_000).then(() => false)]);
      if (!done) throw new SystemError(`container ${rec.id} did not exit after SIGKILL`);
      // conmon may end without reporting the exit (it could not write its exit file on a full
      // disk): record it here, once the monitor is gone.
      if (isActive(rec.state.status)) await this.handleExit(rec.id, (await this.o.runtime.exitCode(rec.id, this.persistDir(rec.id))) ?? 137);
    }
    await this.mutex.run(rec.id, () => this.removeNow(rec, { volumes: opts.volumes }));
  }

  /** `volumes`: also remove the container's anonymous volumes (`rm -v`, `run --rm`). */
  private async removeNow(rec: ContainerRecord, opts: { volumes: boolean } = { volumes: false }): Promise<void> {
    if (!this.records.has(rec.id)) return;
    const prev = rec.state.status;
    if (prev !== 'removing' && !canTransition(prev, 'removing')) throw new ConflictError(`cannot remove container ${rec.id} in state ${prev}`);
    rec.state.status = 'removing';
    // Persisted, so a crash midway is finished at start-up rather than leaving a row without files.
    // Best effort: on a full disk the write fails, and removing is how space comes back.
    try {
      this.save(rec);
    } catch (err) {
      this.o.logger.warn('could not record the removal before doing it', { id: rec.id, err: errorMessage(err) });
    }
    try {
      await this.cleanupRun(rec);
      await this.o.layers.removeRwLayer(rec.id);
      this.o.logManager?.forget(rec.id);
      await rm(this.containerDir(rec.id), { recursive: true, force: true });
    } catch (err) {
      rec.state.status = prev === 'removing' ? 'dead' : prev;
      this.save(rec);
      throw err;
    }
    this.o.network.forgetContainer(rec.id);
    this.o.db.prepare('DELETE FROM containers WHERE id = ?').run(rec.id);
    this.records.delete(rec.id);
    await releaseVolumes(rec, this.o.volumes, { removeAnonymous: opts.volumes, logger: this.o.logger });
    this.exitSeq.delete(rec.id);
    this.tornDown.delete(rec.id);
    this.event(rec, 'destroy');
    this.lifecycle.emit(`removed:${rec.id}`, rec.state.exitCode);
  }

  rename(idOrName: string, newName: string): void {
    const rec = this.get(idOrName);
    const name = validateName(newName);
    if (name === rec.name) throw new InvalidParameterError(`Renaming a container with the same name as its current name`);
    const other = this.find(name);
    if (other && other.name === name) {
      throw new ConflictError(`Conflict. The container name "/${name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const old = rec.name;
    rec.name = name;
    try {
      this.save(rec);
    } catch (err) {
      rec.name = old;
      throw err;
    }
    this.event(rec, 'rename', { oldName: `/${old}` });
  }

  // ---- logs / attach / resize ----------------------------------------------------------------

  logs(idOrName: string, opts: LogsOptions): AsyncIterable<LogEntry> {
    const rec = this.get(idOrName);
    if (!opts.stdout && !opts.stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    if (rec.hostConfig.LogConfig && !canReadLogs(rec.hostConfig.LogConfig)) {
      throw new NotImplementedError('configured logging driver does not support reading');
    }
    const id = rec.id;
    const readOpts: Parameters<typeof readLog>[1] = {
      follow: opts.follow,
      stdout: opts.stdout,
      stderr: opts.stderr,
      isDone: () => !isActive(this.records.get(id)?.state.status ?? 'exited'),
      onWake: (wake) => this.onExitOf(id, wake),
    };
    if (opts.since !== undefined) readOpts.since = opts.since;
    if (opts.until !== undefined) readOpts.until = opts.until;
    if (opts.tail !== undefined) readOpts.tail = opts.tail;
    if (opts.signal) readOpts.signal = opts.signal;
    return readLogFiles(this.logPath(id), readOpts);
  }

  async attach(idOrName: string, opts: AttachOptions): Promise<AttachSession> {
    const rec = this.get(idOrName);
    const id = rec.id;
    const startSeq = this.exitSeq.get(id) ?? 0;
    const wasActive = isActive(rec.state.status);
    const since = Date.now() / 1000;
    const done = (): boolean => {
      const cur = this.records.get(id);
      if (!cur) return true;
      if ((this.exitSeq.get(id) ?? 0) > startSeq) return true;
      return wasActive && !isActive(cur.state.status);
    };
    const outputs: AsyncIterable<LogEntry>[] = [];
    if ((opts.stdout || opts.stderr) && opts.logs) {
      outputs.push(readLogFiles(this.logPath(id), { follow: false, stdout: opts.stdout, stderr: opts.stderr, until: since, signal: opts.signal }));
    }
    if ((opts.stdout || opts.stderr) && opts.stream) {
      outputs.push(readLog(this.logPath(id), {
        follow: true, since, stdout: opts.stdout, stderr: opts.stderr, isDone: done, signal: opts.signal,
        onWake: (wake) => this.onExitOf(id, wake),
      }));
    }
    const session: AttachSession = { output: concatIterables(outputs) };
    if (opts.stdin && rec.config.OpenStdin && opts.stream) session.stdin = this.deferredStdin(id, opts.signal);
    return session;
  }

  /** A stdin writer that connects to the container's attach socket once it runs. */
  private deferredStdin(id: string, signal: AbortSignal): StdinWriter {
    let writer: Promise<StdinWriter> | undefined;
    const connect = (): Promise<StdinWriter> => {
      writer ??= (async () => {
        for (;;) {
          if (signal.aborted) throw new SystemError('attach closed');
          const rec = this.records.get(id);
          if (!rec) throw new NotFoundError(`No such container: ${id}`);
          if (rec.state.status === 'running') return this.o.runtime.openStdin(this.bundleDir(id));
          if (rec.state.status !== 'created' && rec.state.status !== 'exited') throw new ConflictError(`container ${id} is ${rec.state.status}`);
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 100);
            this.lifecycle.once(`started:${id}`, () => { clearTimeout(t); resolve(); });
          });
        }
      })();
      return writer;
    };
    let closed = false;
    return {
      write: async (data: Buffer) => { if (!closed) await (await connect()).write(data); },
      close: () => {
        closed = true;
        if (writer) void writer.then((w) => w.close(), () => undefined);
        else if (this.records.get(id)?.state.status === 'running') void connect().then((w) => w.close(), () => undefined);
      },
    };
  }

  async resize(idOrName: string, height: number, width: number): Promise<void> {
    const rec = this.get(idOrName);
    if (!isActive(rec.state.status)) throw new ConflictError(`Container ${rec.id} is not running`);
    if (!rec.config.Tty) return;
    await this.o.runtime.resize(this.bundleDir(rec.id), height, width);
  }

  async graphDriverData(id: string): Promise<Record<string, string> | null> {
    return this.o.layers.driverMetadata(id).catch(() => null);
  }

  async sizeRw(id: string): Promise<number> {
    return this.o.layers.rwSize(id).catch(() => 0);
  }

  // ---- start-up reconcile --------------------------------------------------------------------

  /**
   * Brings the records in line with reality after berthd (re)starts: re-adopts containers whose
   * conmon still runs, records the exit of those that ended meanwhile, removes finished `--rm`
   * containers, and sweeps rows and layers left half-created.
   */
  async reconcile(): Promise<{ adopted: number; exited: number; swept: number }> {
    let adopted = 0, exited = 0, swept = 0;
    const stale = this.o.db.prepare('SELECT id, record FROM containers WHERE incomplete = 1').all() as { id: string; record: string }[];
    for (const { id, record } of stale) {
      const half = JSON.parse(record) as ContainerRecord;
      await releaseVolumes(half, this.o.volumes, { removeAnonymous: true, logger: this.o.logger });
      await this.o.layers.removeRwLayer(id).catch(() => undefined);
      await rm(this.containerDir(id), { recursive: true, force: true });
      await rm(this.bundleDir(id), { recursive: true, force: true });
      this.o.network.forgetContainer(id);
      this.o.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
      swept++;
    }
    for (const rec of this.all()) {
      const status: ContainerStatus = rec.state.status;
      if (isActive(status)) {
        if (rec.state.conmonPid && (await this.o.runtime.isAlive(rec.id, rec.state.conmonPid))) {
          await this.o.layers.mountRw(rec.id);
          for (const m of rec.mountPoints ?? []) if (m.type === 'volume') await this.o.volumes.mount(m.name, rec.id);
          adopted++;
          this.watchLog(rec);
          // The exit may have been written between our check and the watcher starting.
          const code = await this.o.runtime.exitCode(rec.id, this.persistDir(rec.id));
          if (code !== undefined) { await this.mutex.run(rec.id, () => this.recordExit(rec, code)); exited++; }
          continue;
        }
        const code = (await this.o.runtime.exitCode(rec.id, this.persistDir(rec.id))) ?? 255;
        await this.mutex.run(rec.id, () => this.recordExit(rec, code));
        exited++;
        // It ended while berthd was down: forward what it printed meanwhile (syslog, journald).
        this.o.logManager?.drain(this.logTarget(rec));
      } else if (status === 'removing') {
        await this.mutex.run(rec.id, () => this.removeNow(rec));
        continue;
      } else {
        await this.cleanupRun(rec);
      }
      const cur = this.records.get(rec.id);
      if (cur && cur.hostConfig.AutoRemove && !isActive(cur.state.status) && cur.state.startedAt !== ZERO_TIME) {
        await this.mutex.run(rec.id, () => this.removeNow(cur, { volumes: true }));
      }
    }
    return { adopted, exited, swept };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function safeRegex(s: string): RegExp {
  try {
    return new RegExp(s);
  } catch {
    return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

async function* concatIterables<T>(list: AsyncIterable<T>[]): AsyncIterable<T> {
  for (const it of list) yield* it;
}

/** Creates the working directory inside the rootfs, refusing to follow symlinks out of it. */
async function mkdirInRootfs(rootfs: string, dir: string, uid: number, gid: number): Promise<void> {
  const parts = dir.split('/').filter((p) => p && p !== '.');
  let cur = rootfs;
  for (const p of parts) {
    if (p === '..') return;
    cur = join(cur, p);
    try {
      const st = await lstat(cur);
      if (!st.isDirectory()) return;
    } catch {
      await mkdir(cur, { mode: 0o755 });
      await chown(cur, uid, gid).catch(() => undefined);
    }
  }
}

