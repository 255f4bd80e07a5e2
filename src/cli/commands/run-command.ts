import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { CommandSpec, CliContext } from '../cli-context.js';
import { RESOURCE_FLAGS, applyResourceFlags } from '../resource-flags.js';
import { HEALTH_FLAGS, healthcheckFromFlags } from '../health-flags.js';
import { StatusError, describeError } from '../cli-context.js';
import type { FlagSpec, FlagValues } from '../flag-parser.js';
import type { ContainerCreateRequest, HostConfig } from '../../engine-api/container-models.js';
import type { EngineClient } from '../../client/engine-client.js';
import { daemonStatusOf } from '../../client/status-errors.js';
import { NotFoundError } from '../../common/errors.js';
import { familiarWithDefaultTag, pullParams } from '../image-reference.js';
import { registryAuthFor } from '../docker-config.js';
import { displayJSONMessages, JSONMessageError } from '../json-message-display.js';
import { parseMountFlag, splitVolumeFlags, tmpfsMap } from '../mount-flag.js';
import { monitorTtySize, parseDetachKeys, proxySignals, runAttachSession } from '../attach-session.js';
import { NETWORK_FLAGS, networkCreateOptions } from '../network-flags.js';

const CONTAINER_FLAGS: FlagSpec[] = [
  { name: 'attach', short: 'a', type: 'stringArray', description: 'Attach to STDIN, STDOUT or STDERR' },
  { name: 'cap-add', type: 'stringArray', description: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'stringArray', description: 'Drop Linux capabilities' },
  { name: 'domainname', type: 'string', description: 'Container NIS domain name' },
  { name: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'env', short: 'e', type: 'stringArray', description: 'Set environment variables' },
  { name: 'env-file', type: 'stringArray', description: 'Read in a file of environment variables' },
  { name: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
  { name: 'init', type: 'bool', description: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'runtime', type: 'string', description: 'Runtime to use for this container' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'label', short: 'l', type: 'stringArray', description: 'Set meta data on a container' },
  { name: 'label-file', type: 'stringArray', description: 'Read in a line delimited file of labels' },
  { name: 'log-driver', type: 'string', description: 'Logging driver for the container' },
  { name: 'log-opt', type: 'stringArray', description: 'Log driver options' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'network', type: 'string', valueName: 'network', aliases: ['net'], description: 'Connect a container to a network' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  { name: 'privileged', type: 'bool', description: 'Give extended privileges to this container' },
  { name: 'pull', type: 'string', default: 'missing', description: 'Pull image before running ("always", "missing", "never")' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the pull output' },
  { name: 'read-only', type: 'bool', description: "Mount the container's root filesystem as read only" },
  { name: 'restart', type: 'string', default: 'no', description: 'Restart policy to apply when a container exits' },
  { name: 'rm', type: 'bool', description: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { name: 'stop-signal', type: 'string', description: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'int', description: 'Timeout (in seconds) to stop a container' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'mount', type: 'stringArray', valueName: 'mount', description: 'Attach a filesystem mount to the container' },
  { name: 'tmpfs', type: 'stringArray', valueName: 'list', description: 'Mount a tmpfs directory' },
  { name: 'volume', short: 'v', type: 'stringArray', description: 'Bind mount a volume' },
  { name: 'volumes-from', type: 'stringArray', valueName: 'list', description: 'Mount volumes from the specified container(s)' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  ...RESOURCE_FLAGS,
  ...HEALTH_FLAGS,
  ...NETWORK_FLAGS,
];

const RUN_ONLY_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
  { name: 'sig-proxy', type: 'bool', default: true, description: 'Proxy received signals to the process' },
];

export function readLinesFile(path: string, what: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StatusError(`open ${path}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, 125);
  }
  void what;
  return text.split(/\r?\n/).map((l) => l.replace(/^\s+/, '')).filter((l) => l.length > 0 && !l.startsWith('#'));
}

export function envList(flags: FlagValues, env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  const add = (item: string): void => {
    const eq = item.indexOf('=');
    if (eq === 0) throw new StatusError(`invalid environment variable: ${item}`, 125);
    if (eq > 0) out.push(item);
    else if (env[item] !== undefined) out.push(`${item}=${env[item]}`);
  };
  for (const f of flags.list('env-file')) for (const l of readLinesFile(f, 'env')) add(l);
  for (const e of flags.list('env')) add(e);
  return out;
}

function labelMap(flags: FlagValues): Record<string, string> {
  const labels: Record<string, string> = {};
  const add = (item: string): void => {
    const eq = item.indexOf('=');
    if (eq === 0) throw new StatusError(`invalid label: ${item}`, 125);
    if (eq > 0) labels[item.slice(0, eq)] = item.slice(eq + 1);
    else labels[item] = '';
  };
  for (const f of flags.list('label-file')) for (const l of readLinesFile(f, 'label')) add(l);
  for (const l of flags.list('label')) add(l);
  return labels;
}

export function restartPolicy(value: string): { Name: string; MaximumRetryCount: number } {
  if (!value || value === 'no') return { Name: 'no', MaximumRetryCount: 0 };
  const [name, count] = value.split(':') as [string, string | undefined];
  if (!['always', 'unless-stopped', 'on-failure'].includes(name)) throw new StatusError(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`, 125);
  if (count !== undefined && name !== 'on-failure') throw new StatusError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`, 125);
  return { Name: name, MaximumRetryCount: count ? Number(count) : 0 };
}

interface BuiltConfig {
  body: ContainerCreateRequest;
  image: string;
  name: string;
  platform: string;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
}

/** `--log-opt key=value` pairs as LogConfig.Config. */
function logOpts(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new StatusError(`invalid log opt: ${item}`, 125);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Turns run/create flags into the create request body docker's CLI sends. */
export function buildCreateConfig(ctx: CliContext, flags: FlagValues, opts: { detach: boolean }): BuiltConfig {
  const [image, ...cmd] = flags.args as [string, ...string[]];
  const attach = flags.list('attach').map((s) => s.toLowerCase());
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw new StatusError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`, 125);
  if (opts.detach && attach.length) throw new StatusError('Conflicting options: -a and -d', 125);
  const interactive = flags.bool('interactive');
  let attachStdin = false;
  let attachStdout = false;
  let attachStderr = false;
  if (!opts.detach) {
    if (attach.length) {
      attachStdin = attach.includes('stdin');
      attachStdout = attach.includes('stdout');
      attachStderr = attach.includes('stderr');
    } else {
      attachStdin = interactive;
      attachStdout = true;
      attachStderr = true;
    }
  }
  const tty = flags.bool('tty');
  const { binds, volumes } = splitVolumeFlags(flags.list('volume'));
  const mounts = flags.list('mount').map((v) => {
    try {
      return parseMountFlag(v);
    } catch (err) {
      throw new StatusError(`invalid argument "${v}" for "--mount" flag: ${(err as Error).message}`, 125);
    }
  });
  const tmpfs = tmpfsMap(flags.list('tmpfs'));
  const net = networkCreateOptions(flags);
  const network = net.networkMode;
  const restart = restartPolicy(flags.string('restart'));
  if (flags.bool('rm') && restart.Name !== 'no') throw new StatusError('conflicting options: cannot specify both --restart and --rm', 125);
  const hostConfig: HostConfig = {
    Binds: binds.length ? binds : null,
    NetworkMode: network,
    PortBindings: net.portBindings,
    PublishAllPorts: net.publishAll,
    Dns: net.dns,
    DnsOptions: net.dnsOptions,
    DnsSearch: net.dnsSearch,
    ExtraHosts: net.extraHosts,
    Links: net.links,
    RestartPolicy: restart,
    AutoRemove: flags.bool('rm'),
    CapAdd: flags.list('cap-add').length ? flags.list('cap-add') : null,
    CapDrop: flags.list('cap-drop').length ? flags.list('cap-drop') : null,
    Privileged: flags.bool('privileged'),
    ReadonlyRootfs: flags.bool('read-only'),
    LogConfig: { Type: flags.string('log-driver'), Config: logOpts(flags.list('log-opt')) },
  };
  if (flags.changed('init')) hostConfig.Init = flags.bool('init');
  if (flags.changed('runtime')) hostConfig.Runtime = flags.string('runtime');
  if (mounts.length) hostConfig.Mounts = mounts;
  if (Object.keys(tmpfs).length) hostConfig.Tmpfs = tmpfs;
  if (flags.list('volumes-from').length) hostConfig.VolumesFrom = flags.list('volumes-from');
  applyResourceFlags(flags, hostConfig as unknown as Record<string, unknown>);
  if (tty && ctx.stdout.isTTY && ctx.stdout.rows && ctx.stdout.columns) hostConfig.ConsoleSize = [ctx.stdout.rows, ctx.stdout.columns];
  const body: ContainerCreateRequest = {
    Hostname: flags.string('hostname'),
    Domainname: flags.string('domainname'),
    User: flags.string('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && attachStdin,
    Env: envList(flags, ctx.env),
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: Object.keys(volumes).length ? volumes : null,
    WorkingDir: flags.string('workdir'),
    Entrypoint: flags.changed('entrypoint') ? [flags.string('entrypoint')] : null,
    OnBuild: null,
    Labels: labelMap(flags),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: net.endpointsConfig },
  };
  if (Object.keys(net.exposedPorts).length) body.ExposedPorts = net.exposedPorts;
  if (flags.string('stop-signal')) body.StopSignal = flags.string('stop-signal');
  const healthcheck = healthcheckFromFlags(flags);
  if (healthcheck) (body as unknown as Record<string, unknown>)['Healthcheck'] = healthcheck;
  if (flags.changed('stop-timeout')) body.StopTimeout = flags.number('stop-timeout');
  return { body, image, name: flags.string('name'), platform: flags.string('platform'), attachStdin, attachStdout, attachStderr };
}

async function pullImage(ctx: CliContext, client: EngineClient, image: string, opts: { platform: string; quiet: boolean }): Promise<void> {
  const params = pullParams(image);
  const res = await client.pullImage({ fromImage: params.fromImage, tag: params.tag, registryAuth: registryAuthFor(ctx.env, image), ...(opts.platform ? { platform: opts.platform } : {}) });
  try {
    if (opts.quiet) {
      for await (const _ of res) { /* drain */ }
    } else {
      await displayJSONMessages(res, ctx.stderr);
    }
  } catch (err) {
    if (err instanceof JSONMessageError) throw new NotFoundError(err.message);
    throw err;
  }
}

/** create, pulling the image first when the daemon says it is missing (docker's createContainer). */
async function createWithPull(ctx: CliContext, client: EngineClient, built: BuiltConfig, flags: FlagValues): Promise<string> {
  const pull = flags.string('pull') || 'missing';
  if (!['always', 'missing', 'never'].includes(pull)) throw new StatusError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, 125);
  const quiet = flags.bool('quiet');
  const createOpts = { ...(built.name ? { name: built.name } : {}), ...(built.platform ? { platform: built.platform } : {}) };
  if (pull === 'always') await pullImage(ctx, client, built.image, { platform: built.platform, quiet });
  let res;
  try {
    res = await client.createContainer(built.body, createOpts);
  } catch (err) {
    if (!(err instanceof NotFoundError) || !/no such image/i.test(err.message) || pull !== 'missing') throw err;
    ctx.err(`Unable to find image '${familiarWithDefaultTag(built.image)}' locally`);
    await pullImage(ctx, client, built.image, { platform: built.platform, quiet });
    res = await client.createContainer(built.body, createOpts);
  }
  for (const w of res.Warnings ?? []) ctx.err(`WARNING: ${w}`);
  return res.Id;
}

/** Docker's toStatusError: 127 for missing executables, 126 for permission problems, else 125. */
export function runStatusError(err: unknown, commandPath: string): StatusError {
  if (err instanceof StatusError) return new StatusError(`berth: ${err.message}\n\nRun '${commandPath} --help' for more information`, err.status);
  const msg = describeError(err, daemonStatusOf(err));
  let status = 125;
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(msg)) status = 127;
  else if (/permission denied|is a directory/.test(msg)) status = 126;
  return new StatusError(`berth: ${msg}\n\nRun '${commandPath} --help' for more information`, status);
}

export const createCommand: CommandSpec = {
  name: 'create',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  interspersed: false,
  args: { min: 1 },
  flags: CONTAINER_FLAGS,
  async run(ctx, flags) {
    const built = buildCreateConfig(ctx, flags, { detach: false });
    const client = await ctx.client();
    const id = await createWithPull(ctx, client, built, flags);
    ctx.out(id);
  },
};

export const runCommand: CommandSpec = {
  name: 'run',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  interspersed: false,
  args: { min: 1 },
  flags: [...CONTAINER_FLAGS, ...RUN_ONLY_FLAGS],
  async run(ctx, flags) {
    const path = ctx.commandPath;
    try {
      return await runContainer(ctx, flags);
    } catch (err) {
      if (err instanceof StatusError && err.status !== 125) throw err;
      throw runStatusError(err, path);
    }
  },
};

async function runContainer(ctx: CliContext, flags: FlagValues): Promise<number> {
  const detach = flags.bool('detach');
  const built = buildCreateConfig(ctx, flags, { detach });
  const tty = flags.bool('tty');
  if (tty && built.attachStdin && !ctx.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
  const detachKeysSpec = flags.string('detach-keys');
  const detachKeys = parseDetachKeys(detachKeysSpec);
  if (!detachKeys) throw new StatusError(`Invalid detach keys (${detachKeysSpec}) provided`, 125);
  const client = await ctx.client();
  const id = await createWithPull(ctx, client, built, flags);

  let session: Promise<'eof' | 'detached'> | undefined;
  if (!detach && (built.attachStdin || built.attachStdout || built.attachStderr)) {
    const { socket } = await client.attachContainer(id, {
      stream: true,
      stdin: built.attachStdin,
      stdout: built.attachStdout,
      stderr: built.attachStderr,
      ...(detachKeysSpec ? { detachKeys: detachKeysSpec } : {}),
    });
    session = runAttachSession({
      socket,
      tty,
      stdin: built.attachStdin,
      streams: { ...ctx, stdout: built.attachStdout ? ctx.stdout : devNull(), stderr: built.attachStderr ? ctx.stderr : devNull() },
      detachKeys,
    });
    session.catch(() => undefined);
  }
  const wait = client.waitContainer(id, { condition: flags.bool('rm') ? 'removed' : 'next-exit' });
  await wait.ready;
  try {
    await client.startContainer(id);
  } catch (err) {
    if (session) session.catch(() => undefined);
    if (flags.bool('rm')) await wait.result.catch(() => undefined);
    else wait.cancel();
    throw err;
  }
  if (detach) {
    wait.cancel();
    ctx.out(id);
    return 0;
  }
  const stopResize = tty ? monitorTtySize(client, id, ctx) : () => undefined;
  const stopSignals = !tty && flags.bool('sig-proxy') ? proxySignals(client, id) : () => undefined;
  try {
    if (session) {
      const end = await session;
      if (end === 'detached') {
        wait.cancel();
        return 0;
      }
    }
    const status = await wait.result;
    if (status.Error?.Message) throw new StatusError(`berth: ${status.Error.Message}`, 125);
    return status.StatusCode;
  } finally {
    stopResize();
    stopSignals();
  }
}

function devNull(): Writable {
  return new Writable({ write(_c, _e, cb) { cb(); } });
}
