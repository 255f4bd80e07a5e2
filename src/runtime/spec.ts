import { readFileSync, readdirSync, lstatSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../common/index.js';
import { capabilitiesFromMask, resolveCapabilities } from './capabilities.js';
import { SeccompProfileCache, convertSeccompProfile } from './seccomp-profile.js';
import type {
  OciDevice, OciDeviceCgroupRule, OciMount, OciNamespace, OciResources, OciRlimit, OciSpec, OciUser,
} from './oci-spec.js';

export interface SpecMount {
  destination: string;
  source: string;
  type: 'bind' | 'tmpfs';
  options: string[];
}

export type SpecNetwork = { mode: 'new' } | { mode: 'host' } | { mode: 'path'; path: string };

export interface SpecInput {
  id: string;
  rootfs: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[]; umask?: number };
  terminal: boolean;
  hostname: string;
  domainname: string;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  /** Bind the host's tini at /sbin/docker-init and run args under it. */
  init: boolean;
  /** Binds and tmpfs mounts, including the container's /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  mounts: SpecMount[];
  network: SpecNetwork;
  ipcShareable?: boolean;
  /** `--ipc`: /dev/shm bound from this path (host or another container's), or none at all. */
  shm?: { source: string } | 'none';
  /** Bytes; Docker's default is 64 MiB. */
  shmSize: number;
  cgroupsPath: string;
  /** null runs unconfined. */
  seccompProfilePath: string | null;
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  sysctls?: Record<string, string>;
  /** Cgroup limits (memory, cpu, pids, blockIO); device rules are added by buildSpec. */
  resources?: Omit<OciResources, 'devices'>;
  /** `--pid` / `--uts`: share the host's namespace, or join another's (a /proc/<pid>/ns path). */
  sharedNamespaces?: Partial<Record<'pid' | 'uts' | 'ipc', 'host' | { path: string }>>;
  /** `--device`: host device nodes with their cgroup rules. */
  extraDevices?: Array<{ device: OciDevice; rule: OciDeviceCgroupRule }>;
  /** `--ulimit`: replaces the default of the same type. */
  ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
}

export interface HostFacts {
  /** Capabilities the host bounding set holds (CapBnd of /proc/self/status). */
  capBound: string[];
  nofileHard: number;
  nprocHard: number;
  cgroupVersion: 1 | 2;
  /** The host's device nodes, granted to privileged containers; read by readHostFacts. */
  devices?: OciDevice[];
}

export interface BuildSpecOptions {
  /** Reused across calls so that the seccomp profile is parsed once. */
  seccompCache?: SeccompProfileCache;
  /** The host binary bound at /sbin/docker-init. */
  initBinary?: string;
  /** Seccomp architecture of the host. */
  arch?: string;
}

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
export const INIT_PATH = '/sbin/docker-init';
const DEFAULT_INIT_BINARY = '/usr/bin/tini-static';
/** containerd's (and so Docker's) default RLIMIT_NOFILE. */
const DEFAULT_NOFILE = 1048576;

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

/** The device nodes every container gets (runc adds /dev/ptmx, /dev/fd and std* links itself). */
const DEFAULT_DEVICES: readonly OciDevice[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Docker's device cgroup rules for unprivileged containers. */
const DEFAULT_DEVICE_RULES: readonly OciDeviceCgroupRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/** Used when the caller passes no cache: a memo of immutable parsed files, keyed by path and mtime. */
const sharedSeccompCache = new SeccompProfileCache();

/** Generates an OCI runtime config.json with Docker's defaults for one container. */
export function buildSpec(input: SpecInput, host: HostFacts, opts: BuildSpecOptions = {}): OciSpec {
  const caps = resolveCapabilities({
    privileged: input.privileged, capAdd: input.capAdd, capDrop: input.capDrop, capBound: host.capBound,
  });
  if (input.shmSize < 0) throw new InvalidParameterError('SHM size can not be less than 0');
  const shmSize = input.shmSize > 0 ? input.shmSize : DEFAULT_SHM_SIZE;

  const user: OciUser = { uid: input.user.uid, gid: input.user.gid };
  if (input.user.umask !== undefined) user.umask = input.user.umask;
  if (input.user.additionalGids.length > 0) user.additionalGids = [...input.user.additionalGids];

  const nofile = Math.min(DEFAULT_NOFILE, host.nofileHard);
  const rlimits: OciRlimit[] = [
    { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile },
    { type: 'RLIMIT_NPROC', hard: host.nprocHard, soft: host.nprocHard },
  ];

  for (const u of input.ulimits ?? []) {
    const type = `RLIMIT_${u.Name.toUpperCase()}`;
    const i = rlimits.findIndex((r) => r.type === type);
    const r = { type, hard: u.Hard, soft: u.Soft };
    if (i >= 0) rlimits[i] = r; else rlimits.push(r);
  }

  const args = input.init ? [INIT_PATH, '--', ...input.args] : [...input.args];
  if (args.length === 0) throw new InvalidParameterError('no command specified');

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: input.terminal,
      user,
      args,
      env: [...input.env],
      cwd: input.cwd || '/',
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps] },
      rlimits,
      noNewPrivileges: input.noNewPrivileges ?? false,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    hostname: input.hostname,
    mounts: buildMounts(input, shmSize, opts.initBinary ?? DEFAULT_INIT_BINARY),
    linux: {
      namespaces: buildNamespaces(input.network, host, input.sharedNamespaces ?? {}),
      resources: { ...input.resources, devices: input.privileged ? [{ allow: true, access: 'rwm' }] : DEFAULT_DEVICE_RULES.map((r) => ({ ...r })) },
      cgroupsPath: input.cgroupsPath,
    },
  };
  if (input.domainname) spec.domainname = input.domainname;
  // Without a private UTS namespace the runtime may not set the host name.
  if (input.sharedNamespaces?.uts) { delete spec.hostname; delete spec.domainname; }
  if (input.oomScoreAdj !== undefined) spec.process.oomScoreAdj = input.oomScoreAdj;
  if (input.sysctls && Object.keys(input.sysctls).length > 0) spec.linux.sysctl = { ...input.sysctls };

  if (input.privileged) {
    spec.linux.devices = (host.devices ?? DEFAULT_DEVICES).map((d) => ({ ...d }));
  } else {
    spec.linux.devices = DEFAULT_DEVICES.map((d) => ({ ...d }));
    for (const x of input.extraDevices ?? []) {
      spec.linux.devices = spec.linux.devices.filter((d) => d.path !== x.device.path);
      spec.linux.devices.push({ ...x.device });
      spec.linux.resources!.devices.push({ ...x.rule });
    }
    spec.linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    spec.linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
    if (input.seccompProfilePath !== null) {
      const profile = (opts.seccompCache ?? sharedSeccompCache).load(input.seccompProfilePath);
      const arch = opts.arch ?? 'SCMP_ARCH_X86_64';
      spec.linux.seccomp = convertSeccompProfile(profile, { capabilities: caps, arch });
    }
  }
  return spec;
}

function buildNamespaces(network: SpecNetwork, host: HostFacts, shared: NonNullable<SpecInput['sharedNamespaces']>): OciNamespace[] {
  const ns: OciNamespace[] = [];
  for (const type of ['pid', 'ipc', 'uts'] as const) {
    const mode = shared[type];
    if (mode === 'host') continue;
    ns.push(mode ? { type, path: mode.path } : { type });
  }
  ns.push({ type: 'mount' });
  if (network.mode === 'new') ns.push({ type: 'network' });
  else if (network.mode === 'path') ns.push({ type: 'network', path: network.path });
  // Docker's default cgroupns mode is private on cgroup v2 and host on v1.
  if (host.cgroupVersion === 2) ns.push({ type: 'cgroup' });
  return ns;
}

function buildMounts(input: SpecInput, shmSize: number, initBinary: string): OciMount[] {
  const ro = input.privileged ? [] : ['ro'];
  const defaults: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts', type: 'devpts', source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm', type: 'tmpfs', source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
  const user: OciMount[] = input.mounts.map((m) => ({
    destination: m.destination,
    type: m.type,
    source: m.type === 'tmpfs' && !m.source ? 'tmpfs' : m.source,
    options: m.type === 'bind' && !m.options.some((o) => o === 'bind' || o === 'rbind') ? ['rbind', ...m.options] : [...m.options],
  }));
  if (input.init) {
    user.push({ destination: INIT_PATH, type: 'bind', source: initBinary, options: ['bind', 'ro'] });
  }
  if (input.shm && input.shm !== 'none' && !user.some((m) => cleanDest(m.destination) === '/dev/shm')) {
    user.push({ destination: '/dev/shm', type: 'bind', source: input.shm.source, options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
  }
  const taken = new Set(user.map((m) => cleanDest(m.destination)));
  if (input.shm === 'none') taken.add('/dev/shm');
  // A user mount on /dev replaces every default under it, as in Docker.
  const userDev = taken.has('/dev');
  const kept = defaults.filter((m) => !taken.has(m.destination) && !(userDev && m.destination.startsWith('/dev/')));
  // Parents before children: order user mounts by path depth, stable for equal depth.
  const sorted = user
    .map((m, i) => ({ m, i, depth: cleanDest(m.destination).split('/').length }))
    .sort((a, b) => a.depth - b.depth || a.i - b.i)
    .map((x) => x.m);
  return [...kept, ...sorted];
}

function cleanDest(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return '/' + parts.join('/');
}

function readLimit(limitsText: string, label: string, fallback: number): number {
  const line = limitsText.split('\n').find((l) => l.startsWith(label));
  if (!line) return fallback;
  const fields = line.slice(label.length).trim().split(/\s+/);
  const hard = fields[1];
  if (hard === undefined || hard === 'unlimited') return fallback;
  const n = Number(hard);
  return Number.isFinite(n) ? n : fallback;
}

/** The host's character and block device nodes under /dev, as Docker grants to privileged containers. */
export function readHostDevices(root = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  const skip = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/.lxc', '/dev/.udev']);
  const walk = (dir: string): void => {
    let names: string[];
    try { names = readdirSync(dir); } catch { return; }
    for (const name of names) {
      const p = join(dir, name);
      if (skip.has(p)) continue;
      let st;
      try { st = lstatSync(p, { bigint: true }); } catch { continue; }
      if (st.isDirectory()) { walk(p); continue; }
      if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
      if (p === '/dev/console') continue;
      const rdev = st.rdev;
      const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
      const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
      out.push({
        type: st.isCharacterDevice() ? 'c' : 'b', path: p, major, minor,
        fileMode: Number(st.mode & 0o777n), uid: Number(st.uid), gid: Number(st.gid),
      });
    }
  };
  walk(root);
  return out;
}

/** Reads the host facts spec generation depends on. */
export function readHostFacts(): HostFacts {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = /^CapBnd:\s*([0-9a-fA-F]+)/m.exec(status);
  const capBound = m ? capabilitiesFromMask(m[1]!) : [];
  const limits = readFileSync('/proc/self/limits', 'utf8');
  return {
    capBound,
    nofileHard: readLimit(limits, 'Max open files', DEFAULT_NOFILE),
    nprocHard: readLimit(limits, 'Max processes', 4194304),
    cgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1,
    devices: readHostDevices(),
  };
}
