import { InvalidParameterError } from '../common/errors.js';
import type { ImageRunConfig } from '../image/image-config.js';
import type { ContainerConfig, HostConfig } from './container-record.js';

/**
 * The create body as clients send it: the image's run-config fields at the top level (Cmd and
 * Entrypoint may also come as one string), plus HostConfig.
 */
export interface CreateRequest extends Omit<ImageRunConfig, 'Cmd' | 'Entrypoint'> {
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  StopTimeout?: number | null;
  HostConfig?: Partial<HostConfig> | null;
  NetworkingConfig?: unknown;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.startsWith('/') ? name.slice(1) : name;
}

function strList(v: unknown, field: string): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new InvalidParameterError(`json: cannot unmarshal ${typeof v} into Go struct field Config.${field} of type []string`);
}

function expectType(v: unknown, type: 'string' | 'boolean' | 'number' | 'object', field: string): void {
  if (v === undefined || v === null) return;
  if (typeof v !== type || (type === 'object' && Array.isArray(v))) {
    throw new InvalidParameterError(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field ${field} of type ${type === 'boolean' ? 'bool' : type}`);
  }
}

/** Merges Env lists: later entries override earlier ones with the same key. */
export function mergeEnv(base: string[], over: string[]): string[] {
  const out = [...base];
  for (const e of over) {
    const key = e.split('=', 1)[0]!;
    const i = out.findIndex((x) => x.split('=', 1)[0] === key);
    if (i >= 0) out[i] = e; else out.push(e);
  }
  return out;
}

/**
 * Validates a create request and folds in the image's defaults, as Docker does: image Env first,
 * then the request's; Entrypoint and Cmd from the request when given (a request Entrypoint
 * drops the image Cmd; `Entrypoint: []` clears it).
 */
export function composeConfig(req: CreateRequest, image: ImageRunConfig, imageRef: string): {
  config: ContainerConfig; hostConfig: HostConfig; path: string; args: string[];
} {
  for (const f of ['Hostname', 'Domainname', 'User', 'WorkingDir', 'StopSignal', 'Image'] as const) expectType(req[f], 'string', `Config.${f}`);
  for (const f of ['Tty', 'OpenStdin', 'StdinOnce', 'AttachStdin', 'AttachStdout', 'AttachStderr'] as const) expectType(req[f], 'boolean', `Config.${f}`);
  expectType(req.Labels, 'object', 'Config.Labels');
  expectType(req.HostConfig, 'object', 'ContainerCreateRequest.HostConfig');
  if (req.Hostname && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,253}[a-zA-Z0-9])?$/.test(req.Hostname)) {
    throw new InvalidParameterError(`invalid hostname format: ${req.Hostname}`);
  }
  const reqEntry = strList(req.Entrypoint, 'Entrypoint');
  const reqCmd = strList(req.Cmd, 'Cmd');
  const env = strList(req.Env, 'Env') ?? [];
  for (const e of env) if (e.startsWith('=') || e === '') throw new InvalidParameterError(`invalid environment variable: ${e}`);

  let entrypoint: string[] | null = image.Entrypoint ?? null;
  let cmd: string[] | null = image.Cmd ?? null;
  if (reqEntry !== undefined && reqEntry !== null) {
    entrypoint = reqEntry.length ? reqEntry : null;
    cmd = null;
  }
  if (reqCmd !== undefined && reqCmd !== null && reqCmd.length) cmd = reqCmd;
  const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (argv.length === 0) throw new InvalidParameterError('No command specified');

  let imageEnv = image.Env ?? [];
  if (!imageEnv.some((e) => e.startsWith('PATH='))) imageEnv = [`PATH=${DEFAULT_PATH}`, ...imageEnv];

  const hc = (req.HostConfig ?? {}) as Partial<HostConfig>;
  // Each entry is validated with the other mount sources when the container's mounts are planned.
  // Which networks exist is the network service's to check (at create, before anything is made).
  const networkMode = typeof hc.NetworkMode === 'string' && hc.NetworkMode ? hc.NetworkMode : 'default';
  const binds = strList(hc.Binds, 'Binds') ?? null;
  const restart = (hc.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 }) as HostConfig['RestartPolicy'];
  if (hc.AutoRemove && restart.Name && restart.Name !== 'no') {
    throw new InvalidParameterError("can't create 'AutoRemove' container with restart policy");
  }
  const logType = hc.LogConfig?.Type || 'json-file';

  const hostConfig: HostConfig = {
    ...hc,
    Binds: binds,
    NetworkMode: networkMode,
    AutoRemove: Boolean(hc.AutoRemove),
    Init: hc.Init ?? null,
    Privileged: Boolean(hc.Privileged),
    ReadonlyRootfs: Boolean(hc.ReadonlyRootfs),
    CapAdd: strList(hc.CapAdd, 'CapAdd') ?? null,
    CapDrop: strList(hc.CapDrop, 'CapDrop') ?? null,
    RestartPolicy: { Name: restart.Name || 'no', MaximumRetryCount: restart.MaximumRetryCount ?? 0 },
    LogConfig: { Type: logType, Config: hc.LogConfig?.Config ?? {} },
    ShmSize: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : 64 * 1024 * 1024,
  };

  const config: ContainerConfig = {
    Hostname: req.Hostname ?? '',
    Domainname: req.Domainname ?? '',
    User: req.User ?? image.User ?? '',
    AttachStdin: Boolean(req.AttachStdin),
    AttachStdout: Boolean(req.AttachStdout),
    AttachStderr: Boolean(req.AttachStderr),
    Tty: Boolean(req.Tty),
    OpenStdin: Boolean(req.OpenStdin),
    StdinOnce: Boolean(req.StdinOnce),
    Env: mergeEnv(imageEnv, env),
    Cmd: cmd,
    Image: imageRef,
    Volumes: req.Volumes || image.Volumes ? { ...(image.Volumes ?? {}), ...(req.Volumes ?? {}) } : null,
    WorkingDir: req.WorkingDir || image.WorkingDir || '',
    Entrypoint: entrypoint,
    OnBuild: image.OnBuild ?? null,
    Labels: { ...(image.Labels ?? {}), ...(req.Labels ?? {}) },
  };
  const exposed = { ...(image.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) };
  if (Object.keys(exposed).length) config.ExposedPorts = exposed;
  const stopSignal = req.StopSignal || image.StopSignal;
  if (stopSignal) config.StopSignal = stopSignal;
  if (typeof req.StopTimeout === 'number') config.StopTimeout = req.StopTimeout;
  if (req.Healthcheck !== undefined || image.Healthcheck !== undefined) config.Healthcheck = mergeHealthcheck(req.Healthcheck, image.Healthcheck);
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) {
    throw new InvalidParameterError(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  return { config, hostConfig, path: argv[0]!, args: argv.slice(1) };
}

export interface ParsedBind {
  source: string;
  destination: string;
  readonly: boolean;
}

/** `/host:/ctr[:ro|rw][,z|Z]` (host paths only; named volumes arrive with the volumes work). */
export function parseBind(spec: string): ParsedBind {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw new InvalidParameterError(`invalid volume specification: '${spec}'`);
  const [source, destination, mode = ''] = parts as [string, string, string?];
  if (!destination.startsWith('/')) throw new InvalidParameterError(`invalid volume specification: '${spec}': invalid mount config for type "bind": invalid mount path: '${destination}' mount path must be absolute`);
  if (!source.startsWith('/')) {
    throw new InvalidParameterError(`invalid volume specification: '${spec}': named volumes are not supported yet`);
  }
  const opts = mode.split(',').filter(Boolean);
  for (const o of opts) {
    if (!['ro', 'rw', 'z', 'Z', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'nocopy'].includes(o)) {
      throw new InvalidParameterError(`invalid mode: ${o}`);
    }
  }
  return { source, destination, readonly: opts.includes('ro') };
}

/** Docker merges a healthcheck field by field: what the request leaves unset (empty Test, zero durations) comes from the image. */
export function mergeHealthcheck(req: unknown, image: unknown): unknown {
  if (req === undefined || req === null) return image;
  if (image === undefined || image === null || typeof req !== 'object' || typeof image !== 'object') return req;
  const r = req as Record<string, unknown>, i = image as Record<string, unknown>;
  const out: Record<string, unknown> = { ...r };
  if (!Array.isArray(r['Test']) || r['Test'].length === 0) out['Test'] = i['Test'];
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']) if (!r[k] && i[k]) out[k] = i[k];
  return out;
}
