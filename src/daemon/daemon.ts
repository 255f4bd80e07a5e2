import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { runCommand } from '../sys/run-command.js';
import { release, hostname } from 'node:os';
import { join } from 'node:path';
import { errorMessage, EngineError } from '../common/errors.js';
import { Logger } from '../common/log.js';
import { openMetadataDb } from '../store/metadata-db.js';
import { BlobStore } from '../store/blob-store.js';
import { checkStorageOptions, createGraphDriver, LayerStore, Overlay2Driver } from '../layer/index.js';
import { ImageService, ImageStore } from '../image/index.js';
import { ArchiveService, ContainerArchive, ContainerService, ExecService, HealthMonitor, ProcessService, RestartManager, StatsService } from '../container/index.js';
import { NetworkService, parseAddressPool } from '../network/index.js';
import { EventBus } from '../events/index.js';
import { VolumeService } from '../volume/index.js';
import { LogManager, parseLogSize, resolveLogConfig, type LogConfig } from '../logs/index.js';
import { readHostFacts } from '../runtime/index.js';
import { ApiServer } from '../api/api-server.js';
import type { DaemonFacts } from '../api/api-services.js';
import { systemRoutes } from '../api/routes/system-routes.js';
import { imageRoutes } from '../api/routes/image-routes.js';
import { containerRoutes } from '../api/routes/container-routes.js';
import { volumeRoutes } from '../api/routes/volume-routes.js';
import { buildRoutes } from '../api/routes/build-routes.js';
import { Builder } from '../build/index.js';
import { buildContainers } from './build-containers.js';
import { buildPuller } from './build-puller.js';
import { pruneRoutes } from '../api/routes/prune-routes.js';
import { socketPath, USAGE, type DaemonOptions } from './daemon-options.js';
import { loadDaemonOptions, registryConfigOf, reloadDaemonOptions } from './daemon-config.js';
import { execRoutes } from '../api/routes/exec-routes.js';
import { archiveRoutes } from '../api/routes/archive-routes.js';
import { processRoutes } from '../api/routes/process-routes.js';
import { eventRoutes } from '../api/routes/event-routes.js';
import { statsRoutes } from '../api/routes/stats-routes.js';
import { imageArchiveRoutes } from '../api/routes/image-archive-routes.js';
import { diskUsageRoutes } from '../api/routes/disk-usage-routes.js';
import { networkRoutes } from '../api/routes/network-routes.js';
import { distributionRoutes } from '../api/routes/distribution-routes.js';
import { DistributionService, sweepUnrecordedBlobs } from '../distribution/index.js';
import { acquireDaemonLock } from './daemon-lock.js';
import { openListeners } from './daemon-listeners.js';
import { OciContainerRuntime } from './oci-container-runtime.js';
import { buildRuntimeTable } from './runtime-table.js';
import { checkRoutes } from '../api/routes/check-routes.js';
import { existingDriver, runConsistencyCheck } from './consistency-check.js';
import { formatCheckReport, reportIsClean } from '../common/index.js';
import { imageTopLayers, sweepOrphanConfigBlobs } from '../image/index.js';
import { layerClosure } from '../layer/index.js';
import { BuildCache } from '../build/index.js';
import { checkRootAccess, setupRemappedRoot } from './userns-remap.js';
import { readHostHardLimits, resolveDefaultUlimits } from './default-ulimits.js';
import { stopContainersForShutdown } from './shutdown-containers.js';
import { hostWarnings, readHostCapabilities } from './host-capabilities.js';

export const BERTH_VERSION = readVersion();

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
}

function osRelease(): { name: string; version: string } {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const get = (k: string): string => text.match(new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm'))?.[1] ?? '';
    return { name: get('PRETTY_NAME') || 'Linux', version: get('VERSION_ID') };
  } catch {
    return { name: 'Linux', version: '' };
  }
}

/** The backing filesystem's name as Docker prints it, from statfs's magic number. */
async function backingFs(path: string): Promise<string> {
  const names: Record<number, string> = {
    0xef53: 'extfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs',
  };
  try {
    const st = await statfs(path);
    return names[Number(st.type)] ?? `0x${Number(st.type).toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/** `runc --version` -> version and commit, once at start-up. */
async function runtimeVersion(path: string): Promise<{ version: string; commit: string }> {
  try {
    const { stdout } = await runCommand([path, '--version'], { timeoutMs: 5000 });
    const version = /version\s+(\S+)/.exec(stdout)?.[1] ?? '';
    const commit = /commit:\s+(\S+)/.exec(stdout)?.[1] ?? '';
    return { version, commit };
  } catch {
    return { version: '', commit: '' };
  }
}

function cgroupVersion(): '1' | '2' {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

function daemonId(dataRoot: string): string {
  const p = join(dataRoot, 'engine-id');
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    const id = `${hostname()}-${Date.now().toString(36)}-${process.pid}`.toUpperCase();
    writeFileSync(p, id);
    return id;
  }
}

/** The daemon's default log driver and options (daemon.json `log-driver`, `log-opts`), validated. */
function daemonLogConfig(opts: DaemonOptions): LogConfig {
  const type = typeof opts.config['log-driver'] === 'string' ? opts.config['log-driver'] as string : 'json-file';
  const config = (opts.config['log-opts'] ?? {}) as Record<string, string>;
  try {
    return resolveLogConfig({ Type: type, Config: config }, { Type: type, Config: {} });
  } catch (err) {
    throw new EngineError(`failed to set log opts: ${errorMessage(err)}`);
  }
}

/** daemon.json `default-shm-size` (`64M`, `1g`...). */
function defaultShmSize(opts: DaemonOptions): { defaultShmSize?: number } {
  const v = opts.config['default-shm-size'];
  if (typeof v !== 'string') return {};
  const n = parseLogSize(v);
  if (n === undefined || n <= 0) throw new EngineError(`invalid default-shm-size: ${v}`);
  return { defaultShmSize: n };
}

/** Wires the daemon together, reconciles state with reality, then serves the API. */
export interface RunningDaemon {
  stop: () => Promise<void>;
  /** Applies a reloaded configuration (SIGHUP) to the running services. */
  applyReload: () => void;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const logger = new Logger(opts.logLevel);
  mkdirSync(opts.dataRoot, { recursive: true, mode: 0o711 });
  mkdirSync(opts.execRoot, { recursive: true, mode: 0o711 });
  const unlock = acquireDaemonLock(join(opts.dataRoot, 'berthd.lock'));
  writeFileSync(opts.pidfile, `${process.pid}\n`);

  const db = openMetadataDb(join(opts.dataRoot, 'berth.db'));
  const driver = await createGraphDriver({ root: opts.dataRoot, ...(opts.storageDriver ? { preferred: opts.storageDriver } : {}) });
  try {
    for (const w of checkStorageOptions(driver.name, opts.storageOpts, await backingFs(opts.dataRoot))) logger.warn(w);
  } catch (err) {
    db.close();
    throw new EngineError(`error initializing graphdriver: ${errorMessage(err)}`);
  }
  // userns-remap: containers run in a user namespace whose root is a subordinate id on the host.
  const idMapping = await setupRemappedRoot(opts.usernsRemap, logger);
  if (idMapping) {
    // overlay2 sees image layers through idmapped mounts; vfs gives each container a shifted copy.
    if (driver instanceof Overlay2Driver) await driver.checkIdmappedView(idMapping);
    chmodSync(opts.dataRoot, 0o711);
    checkRootAccess(opts.dataRoot, idMapping);
  }
  const layers = new LayerStore({
    db, driver, splitRoot: join(opts.dataRoot, 'layerdb', 'tar-split'),
    ...(opts.maxLayerSize !== undefined ? { maxLayerBytes: opts.maxLayerSize } : {}),
  });
  await layers.sweepIncomplete();
  const blobs = new BlobStore(join(opts.dataRoot, 'content'));
  await blobs.sweep();
  const images = new ImageService(new ImageStore(db), layers, blobs);
  const events = new EventBus();
  const runtimeTable = await buildRuntimeTable(opts);
  const runtimePath = runtimeTable.entries.find((e) => e.name === runtimeTable.defaultName)!.path;
  const runtime = new OciContainerRuntime({
    runtimes: runtimeTable.entries,
    defaultRuntime: runtimeTable.defaultName,
    exitDir: join(opts.execRoot, 'exits'),
    socketDir: join(opts.execRoot, 'sockets'),
    logger,
  });
  await runtime.startWatching();
  const volumes = new VolumeService({ db, root: join(opts.dataRoot, 'volumes'), events, logger });
  await volumes.load();
  const hostFacts = readHostFacts();
  const logDefaults = daemonLogConfig(opts);
  const logManager = new LogManager({ logger });
  const defaultUlimits = resolveDefaultUlimits(opts.defaultUlimits, readHostHardLimits());
  if (defaultUlimits.clamped.length) logger.warn('default ulimits lowered to the host\'s hard limits', { ulimits: defaultUlimits.clamped });
  const network = new NetworkService({
    db, events, logger,
    execRoot: opts.execRoot,
    netavarkPath: '/usr/lib/podman/netavark',
    aardvarkPath: '/usr/lib/podman/aardvark-dns',
    bridgeName: opts.bridge,
    ...(opts.bip ? { bip: opts.bip } : {}),
    ...(opts.ipv6 ? { bridgeIpv6: opts.fixedCidrV6 ?? '' } : {}),
    addressPools: opts.defaultAddressPools.map(parseAddressPool),
    iptables: opts.iptables,
    icc: opts.icc,
    dnsDefaults: { dns: opts.dns, dnsSearch: opts.dnsSearch, dnsOptions: opts.dnsOptions },
  });
  if (opts.ipForward) writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
  const containers = new ContainerService({
    db, images, layers, runtime, events, logger,
    dataRoot: opts.dataRoot,
    execRoot: opts.execRoot,
    hostFacts,
    seccompProfile: existsSync(opts.seccompProfile) ? opts.seccompProfile : null,
    driverName: driver.name,
    volumes,
    logDefaults,
    logManager,
    ...defaultShmSize(opts),
    defaultUlimits: defaultUlimits.ulimits,
    network,
    runtimes: { names: runtimeTable.entries.map((e) => e.name), defaultName: runtimeTable.defaultName },
    ...(idMapping ? { idMapping } : {}),
  });
  network.setContainerLookup({
    find: (idOrName) => {
      const c = containers.find(idOrName);
      return c && { id: c.id, name: c.name, pid: c.state.pid, running: c.state.status === 'running' || c.state.status === 'paused', networkMode: c.hostConfig.NetworkMode };
    },
    runFiles: (id) => {
      const c = containers.find(id);
      if (!c || (c.state.status !== 'running' && c.state.status !== 'paused')) return undefined;
      return { container: c, files: { hostname: containers.hostnamePath(c.id), hosts: containers.hostsPath(c.id), resolvConf: containers.resolvConfPath(c.id) } };
    },
  });
  await network.init();
  images.setUsage({ containersUsing: (id) => containers.usingImage(id) });
  images.onEvent((e) => events.publish('image', e.action, e.id, { name: e.name }));
  const execs = new ExecService({ containers, runtime, events, logger, execRoot: join(opts.execRoot, 'exec'), hostFacts });
  const archives = new ArchiveService({ containers, layers, events, volumes });
  const processes = new ProcessService({ containers, runtime });
  const stats = new StatsService({ containers });
  containers.load();
  await network.sweep(new Set(containers.all().map((c) => c.id)));
  const rec = await containers.reconcile();
  // Connects a crash cut short: undone, so that the next connect works.
  for (const c of containers.all().filter((x) => x.state.status === 'running' || x.state.status === 'paused')) {
    for (const netId of await network.unplumbedEndpoints(c.id)) {
      await network.disconnect(netId, { ...c, running: true }, true)
        .catch((err) => logger.warn('undoing an interrupted network connect failed', { id: c.id, err: errorMessage(err) }));
    }
  }
  await volumes.sweepMounts();
  logger.info('state reconciled', rec);
  const health = new HealthMonitor({ containers, execs, events, logger });
  health.start();
  const restarts = new RestartManager({ containers, events, logger });
  restarts.start();
  const restarted = await restarts.restoreAtStartup();
  if (restarted) logger.info('containers restarted by policy', { count: restarted });

  const os = osRelease();
  const hostCaps = readHostCapabilities({ cgroupVersion: cgroupVersion() });
  let ipForwarding = false;
  try { ipForwarding = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1'; } catch { /* no procfs entry: off */ }
  const facts: DaemonFacts = {
    id: daemonId(opts.dataRoot),
    version: BERTH_VERSION,
    gitCommit: '',
    dataRoot: opts.dataRoot,
    execRoot: opts.execRoot,
    driver: driver.name,
    driverStatus: driver.name === 'overlay2'
      ? [['Backing Filesystem', await backingFs(opts.dataRoot)], ['Supports d_type', 'true'], ['Native Overlay Diff', 'true']]
      : [['Backing Filesystem', await backingFs(opts.dataRoot)]],
    runtimeVersion: await runtimeVersion(runtimePath),
    loggingDriver: logDefaults.Type,
    cgroupDriver: 'cgroupfs',
    cgroupVersion: cgroupVersion(),
    defaultRuntime: runtimeTable.defaultName,
    runtimes: Object.fromEntries(runtimeTable.entries.map((e) => [e.name, { path: e.path, ...(e.args ? { runtimeArgs: e.args } : {}) }])),
    kernelVersion: release(),
    operatingSystem: os.name,
    osVersion: os.version,
    securityOptions: [...(existsSync(opts.seccompProfile) ? ['name=seccomp,profile=builtin'] : []), ...(idMapping ? ['name=userns'] : [])],
    // dockerd's warnings for what the host lacks; listener warnings follow.
    warnings: hostWarnings(hostCaps, cgroupVersion(), ipForwarding),
    hostCapabilities: hostCaps,
    debug: opts.logLevel === 'debug',
    liveRestore: opts.liveRestore,
    labels: Array.isArray(opts.config['labels']) ? opts.config['labels'] as string[] : [],
    registryConfig: registryConfigOf(opts.config),
  };
  const distribution = new DistributionService({
    db, images, layers, blobs, logger,
    insecureRegistries: opts.insecureRegistries,
    mirrors: opts.registryMirrors,
    certsDir: opts.registryCertsDir,
    maxConcurrentDownloads: opts.maxConcurrentDownloads,
    maxConcurrentUploads: opts.maxConcurrentUploads,
  });
  const builder = new Builder({
    images, layers, db, containers: buildContainers(containers), puller: buildPuller(distribution), tmpRoot: join(opts.dataRoot, 'build', 'tmp'), logger,
  });
  await builder.sweep();
  await images.sweepUnusedLayers({ keep: builder.cache.tops() });
  // What a crash between two steps of an image write or removal left: config blobs without an
  // image, layers nothing stands on.
  const orphanBlobs = await sweepOrphanConfigBlobs({ db, blobs });
  const orphanLayers = await layers.releaseUnreferenced(layerClosure(db, [...imageTopLayers(db), ...new BuildCache(db).tops()]));
  // Layer blobs a pull downloaded before a crash cut it short.
  const pulledBlobs = await sweepUnrecordedBlobs({ db, blobs });
  if (orphanBlobs || orphanLayers || pulledBlobs) logger.info('removed what an interrupted image operation left', { blobs: orphanBlobs, layers: orphanLayers, pulledBlobs });
  const archive = new ContainerArchive({
    // commit --pause freezes through the container service, so the container shows paused and
    // pause/unpause events go out, as with Docker.
    containers, layers, images, freezer: { pause: (id) => containers.pause(id), resume: (id) => containers.unpause(id) },
    engineVersion: BERTH_VERSION,
    event: (c, action, extra) => events.publish('container', action, c.id, { ...c.config.Labels, image: c.config.Image, name: c.name, ...extra }),
  });
  const services = { containers, execs, images, events, builder, facts, volumes, archives, processes, stats, archive, layers, network, distribution };
  const api = new ApiServer({
    routes: [...systemRoutes(services), ...distributionRoutes(distribution), ...imageRoutes(services), ...containerRoutes(services), ...volumeRoutes(services), ...buildRoutes(services), ...pruneRoutes(services, logger), ...execRoutes(services), ...archiveRoutes(services), ...processRoutes(services), ...eventRoutes(services), ...statsRoutes(services), ...imageArchiveRoutes(services), ...diskUsageRoutes(services), ...networkRoutes(services),
      ...checkRoutes({ check: async () => { await builder.leftoversRemoved; return runConsistencyCheck({ db, driver, blobs, dataRoot: opts.dataRoot, execRoot: opts.execRoot, offline: false, pullsBusy: () => distribution.pulls.busy() }); } })],
    logger,
    serverVersion: BERTH_VERSION,
  });
  facts.warnings.push(...await openListeners(api, opts, logger));
  await network.warmUp();
  logger.info('berthd started', { version: BERTH_VERSION, driver: driver.name, dataRoot: opts.dataRoot });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await api.close();
      restarts.stop();
      health.stop();
      if (opts.liveRestore) {
        logger.info('shutting down; containers keep running (live-restore)');
      } else {
        logger.info('shutting down; stopping running containers (live-restore disabled)');
        await stopContainersForShutdown({
          targets: containers.all().filter((c) => c.state.status === 'running' || c.state.status === 'paused')
            .map((c) => ({ id: c.id, stopTimeout: c.config.StopTimeout ?? undefined })),
          shutdownTimeout: opts.shutdownTimeout,
          stop: (id) => containers.stop(id, {}),
          logger,
        });
      }
      runtime.stopWatching();
      logManager.close();
      await network.shutdown().catch((err) => logger.warn('network shutdown failed', { err: errorMessage(err) }));
      distribution.close();
      db.close();
      for (const h of opts.hosts) if (!h.startsWith('tcp://') && !h.startsWith('fd://')) rmSync(socketPath(h), { force: true });
      rmSync(opts.pidfile, { force: true });
      unlock();
    })();
    return stopping;
  };
  const applyReload = (): void => {
    logger.setLevel(opts.logLevel);
    facts.debug = opts.logLevel === 'debug';
    facts.liveRestore = opts.liveRestore;
    facts.labels = Array.isArray(opts.config['labels']) ? opts.config['labels'] as string[] : [];
    facts.registryConfig = registryConfigOf(opts.config);
    distribution.reconfigure({
      insecureRegistries: opts.insecureRegistries, mirrors: opts.registryMirrors,
      maxConcurrentDownloads: opts.maxConcurrentDownloads, maxConcurrentUploads: opts.maxConcurrentUploads,
    });
  };
  return { stop, applyReload };
}

/** `berthd --check`: the consistency check on a data root no daemon runs on. Returns the exit code. */
async function checkOffline(opts: DaemonOptions): Promise<number> {
  if (!existsSync(join(opts.dataRoot, 'berth.db'))) {
    process.stderr.write(`berthd: no berth data root at ${opts.dataRoot}\n`);
    return 1;
  }
  let unlock: () => void;
  try {
    unlock = acquireDaemonLock(join(opts.dataRoot, 'berthd.lock'));
  } catch (err) {
    process.stderr.write(`berthd: cannot check a data root in use: ${errorMessage(err)}\n`);
    return 1;
  }
  try {
    const db = openMetadataDb(join(opts.dataRoot, 'berth.db'));
    const preferred = opts.storageDriver ?? existingDriver(opts.dataRoot);
    const driver = await createGraphDriver({ root: opts.dataRoot, ...(preferred ? { preferred } : {}) });
    const blobs = new BlobStore(join(opts.dataRoot, 'content'));
    const report = await runConsistencyCheck({ db, driver, blobs, dataRoot: opts.dataRoot, execRoot: opts.execRoot, offline: true });
    db.close();
    process.stdout.write(formatCheckReport(report));
    return reportIsClean(report) ? 0 : 1;
  } catch (err) {
    process.stderr.write(`berthd: check failed: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    unlock();
  }
}

export async function main(argv: string[]): Promise<void> {
  let opts: DaemonOptions;
  try {
    opts = loadDaemonOptions(argv);
  } catch (err) {
    const msg = errorMessage(err);
    // Flag errors get the usage hint; configuration-file errors are reported as dockerd does.
    process.stderr.write(msg.startsWith('unable to configure') ? `${msg}\n` : `${msg}\nSee 'berthd --help'.\n`);
    process.exit(msg.startsWith('unable to configure') ? 1 : 125);
  }
  if (opts.help) { process.stdout.write(USAGE); return; }
  if (opts.version) { process.stdout.write(`berthd version ${BERTH_VERSION}\n`); return; }
  if (opts.validate) {
    try {
      daemonLogConfig(opts);
    } catch (err) {
      process.stderr.write(`unable to configure the Docker daemon with file ${opts.configFile}: ${errorMessage(err)}\n`);
      process.exit(1);
    }
    process.stderr.write('configuration OK\n');
    return;
  }
  if (opts.check) process.exit(await checkOffline(opts));
  // Signals are handled from the start: the daemon serves before start-up has finished (the
  // network warm-up runs after the listeners open), and a signal's default action would end it.
  const starting = startDaemon(opts);
  starting.catch((err: unknown) => {
    process.stderr.write(`berthd: ${errorMessage(err)}\n`);
    process.exit(err instanceof EngineError ? 1 : 2);
  });
  const onSignal = (sig: string): void => {
    void starting.then((daemon) => daemon.stop()).then(() => process.exit(0), (err) => {
      process.stderr.write(`berthd: shutdown after ${sig} failed: ${errorMessage(err)}\n`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGPIPE', () => undefined);
  process.on('SIGHUP', () => {
    const logger = new Logger(opts.logLevel);
    logger.info('Got signal to reload configuration, reloading from: ' + opts.configFile);
    try {
      const { reloaded } = reloadDaemonOptions(opts, argv);
      void starting.then((daemon) => daemon.applyReload());
      new Logger(opts.logLevel).info(`Reloaded configuration: ${JSON.stringify(reloaded)}`);
    } catch (err) {
      logger.error(`Error reloading configuration: ${errorMessage(err)}`);
    }
  });
}
