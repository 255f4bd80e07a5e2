import { InvalidParameterError } from '../common/errors.js';

export type MountType = 'bind' | 'volume' | 'tmpfs';

/** `HostConfig.Mounts[]` as clients send it. */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string> | null;
    DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null;
    Subpath?: string;
  } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: unknown } | null;
}

/** One mount of a container, as berth records it and inspect shows it. */
export interface MountPoint {
  type: MountType;
  /** Host path: the bind source, or the volume's data directory once resolved. */
  source: string;
  destination: string;
  /** Volume name ('' for binds and tmpfs). */
  name: string;
  driver: string;
  /** The mode string as given (`ro`, `z`, `rw,nocopy`...). */
  mode: string;
  rw: boolean;
  /** `rprivate` for binds by default, '' for volumes and tmpfs. */
  propagation: string;
  /** Copy the image's content into a new empty volume at first mount. */
  copyData: boolean;
  /** `-v /host:/ctr` creates a missing host path; `--mount type=bind` does not. */
  createSource: boolean;
  /** A named volume's creation options (--mount volume-opt, volume-label, volume-driver). */
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
  /** tmpfs mount data options (`size=...`, `mode=...`). */
  tmpfsOptions?: string[];
  /** The volume was made for this container without a name. */
  anonymous?: boolean;
  /** `bind-nonrecursive`: submounts of the source are not carried over. */
  nonRecursive?: boolean;
}

const PROPAGATION = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];
const CONSISTENCY = ['consistent', 'cached', 'delegated'];
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** The local driver's name rule, with Docker's message. */
export function validateVolumeName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new InvalidParameterError(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  // The name is a directory name: longer than the filesystem allows is the caller's mistake.
  if (Buffer.byteLength(name) > 255) throw new InvalidParameterError(`create ${name.slice(0, 64)}...: volume name is too long (at most 255 characters)`);
}

/** Docker's mode grammar: at most one of each of rw|ro, a propagation, nocopy, z|Z, a consistency. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const seen = { rw: 0, prop: 0, copy: 0, label: 0, cons: 0 };
  for (const o of mode.split(',')) {
    if (o === 'rw' || o === 'ro') seen.rw++;
    else if (PROPAGATION.includes(o)) seen.prop++;
    else if (o === 'nocopy') seen.copy++;
    else if (o === 'z' || o === 'Z') seen.label++;
    else if (CONSISTENCY.includes(o)) seen.cons++;
    else return false;
  }
  return Object.values(seen).every((n) => n <= 1);
}

function modeParts(mode: string): string[] {
  return mode === '' ? [] : mode.split(',');
}

function mountError(type: string, msg: string): InvalidParameterError {
  return new InvalidParameterError(`invalid mount config for type "${type}": ${msg}`);
}

function checkTarget(type: string, target: string | undefined): string {
  if (!target) throw mountError(type, 'field Target must not be empty');
  if (cleanPath(target) === '/') throw mountError(type, "invalid specification: destination can't be '/'");
  if (!target.startsWith('/')) throw mountError(type, `invalid mount path: '${target}' mount path must be absolute`);
  return cleanPath(target);
}

/** Lexical clean of an absolute path (Go's filepath.Clean for the cases mounts see). */
export function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') { if (out.length) out.pop(); continue; }
    out.push(s);
  }
  return (abs ? '/' : '') + out.join('/') || (abs ? '/' : '.');
}

/**
 * One `-v`/`HostConfig.Binds` entry: `name:/ctr[:mode]`, `/host:/ctr[:mode]`, `/ctr` or
 * `/ctr:mode`, with Docker's error messages.
 */
export function parseVolumeSpec(raw: string): MountPoint {
  const arr = raw.split(':');
  if (arr[0] === '' || arr.length > 3) throw new InvalidParameterError(`invalid volume specification: '${raw}'`);
  let source = '', target = '', mode = '';
  if (arr.length === 1) target = arr[0]!;
  else if (arr.length === 2) {
    if (validMountMode(arr[1]!) && arr[1] !== '') { target = arr[0]!; mode = arr[1]!; } else { source = arr[0]!; target = arr[1]!; }
  } else {
    [source, target, mode] = arr as [string, string, string];
  }
  if (arr.some((s) => s === '')) throw new InvalidParameterError(`invalid volume specification: '${raw}'`);
  if (!validMountMode(mode)) throw new InvalidParameterError(`invalid mode: ${mode}`);
  const type: MountType = source.startsWith('/') ? 'bind' : 'volume';
  const parts = modeParts(mode);
  let destination: string;
  try {
    destination = checkTarget(type, target);
  } catch (err) {
    throw new InvalidParameterError(`invalid volume specification: '${raw}': ${(err as Error).message}`);
  }
  const propagation = parts.find((p) => PROPAGATION.includes(p));
  if (type === 'volume' && propagation) {
    throw new InvalidParameterError(`invalid volume specification: '${raw}': ${mountError(type, 'field BindOptions must not be specified').message}`);
  }
  const mp: MountPoint = {
    type,
    source: type === 'bind' ? cleanPath(source) : '',
    destination,
    name: type === 'volume' ? source : '',
    driver: type === 'volume' ? 'local' : '',
    mode,
    rw: !parts.includes('ro'),
    propagation: type === 'bind' ? (propagation ?? 'rprivate') : '',
    copyData: !parts.includes('nocopy'),
    createSource: type === 'bind',
  };
  if (type === 'volume' && source) validateVolumeName(source);
  if (type === 'volume' && !source) mp.anonymous = true;
  return mp;
}

function extraField(type: string, field: string): InvalidParameterError {
  return mountError(type, `field ${field} must not be specified`);
}

/** One `HostConfig.Mounts` entry (the `--mount` flag's API form), validated as Docker does. */
export function parseApiMount(m: ApiMount): MountPoint {
  if (!m || typeof m !== 'object') throw new InvalidParameterError('invalid mount config: expected an object');
  const type = m.Type ?? '';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw mountError(type, 'mount type unknown');
  const destination = checkTarget(type, m.Target);
  const ro = Boolean(m.ReadOnly);
  if (type === 'bind') {
    if (m.VolumeOptions) throw extraField(type, 'VolumeOptions');
    if (m.TmpfsOptions) throw extraField(type, 'TmpfsOptions');
    if (!m.Source) throw mountError(type, 'field Source must not be empty');
    if (!m.Source.startsWith('/')) throw mountError(type, `invalid mount path: '${m.Source}' mount path must be absolute`);
    const prop = m.BindOptions?.Propagation || 'rprivate';
    if (!PROPAGATION.includes(prop)) throw mountError(type, `invalid propagation mode: ${prop}`);
    const mp: MountPoint = {
      type, source: cleanPath(m.Source), destination, name: '', driver: '', mode: '', rw: !ro, propagation: prop,
      copyData: false, createSource: Boolean(m.BindOptions?.CreateMountpoint),
    };
    if (m.BindOptions?.NonRecursive) mp.nonRecursive = true;
    return mp;
  }
  if (type === 'volume') {
    if (m.BindOptions) throw extraField(type, 'BindOptions');
    if (m.TmpfsOptions) throw extraField(type, 'TmpfsOptions');
    const name = m.Source ?? '';
    if (!name && ro) throw mountError(type, 'must not set ReadOnly mode when using anonymous volumes');
    if (name) validateVolumeName(name);
    const driver = m.VolumeOptions?.DriverConfig?.Name || 'local';
    if (driver !== 'local') throw new InvalidParameterError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const mp: MountPoint = {
      type, source: '', destination, name, driver, mode: '', rw: !ro, propagation: '',
      copyData: !m.VolumeOptions?.NoCopy, createSource: false,
    };
    const opts = m.VolumeOptions?.DriverConfig?.Options;
    if (opts && Object.keys(opts).length) mp.driverOpts = { ...opts };
    const labels = m.VolumeOptions?.Labels;
    if (labels && Object.keys(labels).length) mp.labels = { ...labels };
    if (!name) mp.anonymous = true;
    return mp;
  }
  if (m.Source) throw extraField(type, 'Source');
  if (m.BindOptions) throw extraField(type, 'BindOptions');
  if (m.VolumeOptions) throw extraField(type, 'VolumeOptions');
  const tmpfsOptions: string[] = [];
  const size = m.TmpfsOptions?.SizeBytes;
  if (size !== undefined && size !== 0) {
    if (!Number.isInteger(size) || size < 0) throw mountError(type, `invalid tmpfs size: ${size}`);
    tmpfsOptions.push(`size=${size}`);
  }
  const fmode = m.TmpfsOptions?.Mode;
  if (fmode !== undefined && fmode !== 0) tmpfsOptions.push(`mode=${(fmode & 0o7777).toString(8)}`);
  return {
    type, source: '', destination, name: '', driver: '', mode: '', rw: !ro, propagation: '',
    copyData: false, createSource: false, tmpfsOptions,
  };
}

const TMPFS_FLAGS = new Set([
  'ro', 'rw', 'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'sync', 'async', 'atime', 'noatime',
  'diratime', 'nodiratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'dirsync', 'mand', 'nomand',
  'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave',
]);

/** Size with Docker's units (k, m, g, t; b optional), in bytes. */
export function parseByteSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?$/.exec(s.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** One `HostConfig.Tmpfs` entry: destination -> `size=64m,mode=1777,noexec`. */
export function parseTmpfsEntry(destination: string, options: string): MountPoint {
  const dest = checkTarget('tmpfs', destination);
  const out: string[] = [];
  let rw = true;
  for (const o of (options ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const val = eq < 0 ? '' : o.slice(eq + 1);
    if (key === 'size') {
      const n = /%$/.test(val) ? undefined : parseByteSize(val);
      if (n === undefined) throw new InvalidParameterError(`invalid tmpfs option ["${o}"]`);
      out.push(`size=${n}`);
    } else if (key === 'mode') {
      if (!/^[0-7]{1,4}$/.test(val)) throw new InvalidParameterError(`invalid tmpfs option ["${o}"]`);
      out.push(`mode=${val}`);
    } else if (['uid', 'gid', 'nr_inodes', 'nr_blocks', 'huge', 'mpol'].includes(key) && eq > 0) {
      out.push(o);
    } else if (eq < 0 && TMPFS_FLAGS.has(key)) {
      if (key === 'ro') rw = false;
      out.push(o);
    } else {
      throw new InvalidParameterError(`invalid tmpfs option ["${o}"]`);
    }
  }
  return {
    type: 'tmpfs', source: '', destination: dest, name: '', driver: '', mode: '', rw, propagation: '',
    copyData: false, createSource: false, tmpfsOptions: out,
  };
}

/** `container[:mode]` of `--volumes-from`: any valid mode but a copy mode; ro or rw decides writability. */
export function parseVolumesFrom(spec: string): { container: string; mode: '' | 'ro' | 'rw' } {
  const i = spec.indexOf(':');
  if (i < 0) return { container: spec, mode: '' };
  const mode = spec.slice(i + 1);
  if (!validMountMode(mode)) throw new InvalidParameterError(`invalid mode: ${mode}`);
  const parts = modeParts(mode);
  if (parts.includes('nocopy')) throw new InvalidParameterError(`invalid mode for volumes-from: ${mode}`);
  return { container: spec.slice(0, i), mode: parts.includes('ro') ? 'ro' : parts.includes('rw') ? 'rw' : '' };
}
