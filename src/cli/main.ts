import { parseFlags, FlagError, FlagValues, flagUsages, type FlagSpec } from './flag-parser.js';
import { StatusError, describeError, type CliContext, type CommandSpec, type CliStreams } from './cli-context.js';
import { COMMAND_SUMMARIES, MANAGEMENT_COMMANDS, OTHER_COMMAND_SUMMARIES, TOP_COMMANDS } from './command-table.js';
import type { EngineClient } from '../client/engine-client.js';

export const CLI_NAME = 'berth';
export const CLI_VERSION = '0.1.0';

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'host', short: 'H', type: 'stringArray', description: 'Daemon socket to connect to', valueName: 'list' },
  { name: 'debug', short: 'D', type: 'bool', description: 'Enable debug mode' },
  { name: 'log-level', short: 'l', type: 'string', default: 'info', description: 'Set the logging level ("debug", "info", "warn", "error", "fatal")' },
  { name: 'version', short: 'v', type: 'bool', description: 'Print version information and quit' },
  { name: 'config', type: 'string', description: 'Location of client config files' },
  { name: 'context', short: 'c', type: 'string', description: 'Name of the context to use to connect to the daemon' },
  { name: 'tls', type: 'bool', description: 'Use TLS; implied by --tlsverify' },
  { name: 'tlsverify', type: 'bool', description: 'Use TLS and verify the remote' },
  { name: 'tlscacert', type: 'string', description: 'Trust certs signed only by this CA', valueName: 'string' },
  { name: 'tlscert', type: 'string', description: 'Path to TLS certificate file', valueName: 'string' },
  { name: 'tlskey', type: 'string', description: 'Path to TLS key file', valueName: 'string' },
];

function topUsage(): string {
  const lines = [
    '',
    `Usage:  ${CLI_NAME} [OPTIONS] COMMAND`,
    '',
    'The berth container engine client, with docker\'s verbs and flags',
    '',
    'Common Commands:',
    ...COMMAND_SUMMARIES.map(([n, d]) => `  ${n.padEnd(11)} ${d}`),
    '',
    'Management Commands:',
    '  container   Manage containers',
    '  image       Manage images',
    '  network     Manage networks',
    '  system      Manage the engine (disk usage)',
    '  volume      Manage volumes',
    '',
    'Commands:',
    ...Object.keys(TOP_COMMANDS).filter((n) => !n.includes(' ') && !COMMAND_SUMMARIES.some(([c]) => c === n)).sort()
      .map((n) => `  ${n.padEnd(11)} ${OTHER_COMMAND_SUMMARIES[n] ?? ''}`.trimEnd()),
    '',
    'Global Options:',
    flagUsages(GLOBAL_FLAGS),
    '',
    `Run '${CLI_NAME} COMMAND --help' for more information on a command.`,
    '',
  ];
  return lines.join('\n');
}

function commandHelp(spec: CommandSpec, path: string): string {
  const lines = ['', `Usage:  ${path} ${spec.usage}`.trimEnd(), '', spec.description, ''];
  if (spec.aliases?.length) lines.push('Aliases:', `  ${spec.aliases.join(', ')}`, '');
  lines.push('Options:', flagUsages(spec.flags), '');
  return lines.join('\n');
}

function argsError(spec: CommandSpec, path: string, n: number): string | undefined {
  const rule = spec.args;
  if (!rule) return undefined;
  const plural = (k: number): string => (k === 1 ? 'argument' : 'arguments');
  const tail = (verb: string): string => `\n\nUsage:  ${path} ${spec.usage}\n\n${verb} '${path} --help' for more information`;
  if (rule.exact !== undefined && n !== rule.exact) {
    return rule.exact === 0
      ? `${CLI_NAME}: '${path}' accepts no arguments${tail('Run')}`
      : `${CLI_NAME}: '${path}' requires ${rule.exact} ${plural(rule.exact)}${tail('Run')}`;
  }
  if (rule.min !== undefined && n < rule.min) return `${CLI_NAME}: '${path}' requires at least ${rule.min} ${plural(rule.min)}${tail('See')}`;
  if (rule.max !== undefined && n > rule.max) return `${CLI_NAME}: '${path}' requires at most ${rule.max} ${plural(rule.max)}${tail('See')}`;
  return undefined;
}

export interface MainOptions {
  streams?: CliStreams;
  env?: Record<string, string | undefined>;
}

/** Runs the CLI and returns the exit status (the caller exits with it). */
export async function runCli(argv: string[], options: MainOptions = {}): Promise<number> {
  const streams: CliStreams = options.streams ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  const env = options.env ?? process.env;
  const writeErr = (s: string): void => { streams.stderr.write(s.endsWith('\n') ? s : `${s}\n`); };

  let globals;
  try {
    globals = parseFlags(argv, GLOBAL_FLAGS, { interspersed: false });
  } catch (err) {
    if (err instanceof FlagError) {
      writeErr(`${err.message}\n\nUsage:  ${CLI_NAME} [OPTIONS] COMMAND [ARG...]\n\nRun '${CLI_NAME} --help' for more information`);
      return 125;
    }
    throw err;
  }
  const g = new FlagValues(globals);
  if (g.bool('version')) {
    streams.stdout.write(`${CLI_NAME} version ${CLI_VERSION}, build unknown\n`);
    return 0;
  }
  let rest = globals.args;
  if (globals.help || rest.length === 0 || (rest[0] === 'help' && rest.length === 1)) {
    streams.stdout.write(topUsage());
    return 0;
  }
  if (rest[0] === 'help') rest = [...rest.slice(1), '--help'];

  let name = rest[0] as string;
  let path = `${CLI_NAME} ${name}`;
  let args = rest.slice(1);
  let forcedType: string | undefined;
  const mgmt = MANAGEMENT_COMMANDS[name];
  if (mgmt) {
    const sub = args[0];
    if (sub === undefined || sub.startsWith('-')) {
      streams.stdout.write(`\nUsage:  ${CLI_NAME} ${name} COMMAND\n\nManage ${name}s\n\nCommands:\n  ${Object.keys(mgmt).join('\n  ')}\n\nRun '${CLI_NAME} ${name} COMMAND --help' for more information on a command.\n`);
      return 0;
    }
    const target = mgmt[sub];
    if (!target) {
      writeErr(`${CLI_NAME}: unknown command: ${CLI_NAME} ${name} ${sub}\n\nRun '${CLI_NAME} ${name} --help' for more information`);
      return 1;
    }
    path = `${CLI_NAME} ${name} ${sub}`;
    [name, forcedType] = target.split(':') as [string, string | undefined];
    args = args.slice(1);
  }
  const loader = TOP_COMMANDS[name];
  if (!loader) {
    writeErr(`${CLI_NAME}: unknown command: ${CLI_NAME} ${name}\n\nRun '${CLI_NAME} --help' for more information`);
    return 1;
  }
  const spec = await loader();

  let parsed;
  try {
    parsed = parseFlags(args, spec.flags, { interspersed: spec.interspersed ?? true });
  } catch (err) {
    if (err instanceof FlagError) {
      writeErr(`${err.message}\n\nUsage:  ${path} ${spec.usage}\n\nRun '${path} --help' for more information`);
      return 125;
    }
    throw err;
  }
  if (parsed.help) {
    streams.stdout.write(commandHelp(spec, path));
    return 0;
  }
  const argErr = argsError(spec, path, parsed.args.length);
  if (argErr) {
    writeErr(argErr);
    return 1;
  }
  if (forcedType && !parsed.changed.has('type')) {
    parsed.values.set('type', forcedType);
    parsed.changed.add('type');
  }

  let client: EngineClient | undefined;
  const hosts = g.list('host');
  const ctx: CliContext = {
    ...streams,
    env,
    commandPath: path,
    client: async () => {
      if (!client) {
        const { EngineClient } = await import('../client/engine-client.js');
        const { clientTls } = await import('./client-tls.js');
        const opts: { host?: string; apiVersion?: string; tls?: Awaited<ReturnType<typeof clientTls>> } = {};
        const host = hosts[hosts.length - 1] ?? env['DOCKER_HOST'];
        if (host) opts.host = host;
        const tls = await clientTls(g, env);
        if (tls) opts.tls = tls;
        if (env['DOCKER_API_VERSION']) opts.apiVersion = env['DOCKER_API_VERSION'];
        client = new EngineClient(opts);
      }
      return client;
    },
    out: (s) => { streams.stdout.write(`${s}\n`); },
    err: (s) => { streams.stderr.write(`${s}\n`); },
  };
  try {
    const code = await spec.run(ctx, new FlagValues(parsed));
    return code ?? 0;
  } catch (err) {
    if (err instanceof StatusError) {
      if (err.message) writeErr(err.message);
      return err.status;
    }
    const { daemonStatusOf } = await import('../client/status-errors.js');
    writeErr(describeError(err, daemonStatusOf(err)));
    return 1;
  } finally {
    client?.close();
  }
}

/** Entry point for bin/berth. */
export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv);
  process.exit(code);
}
