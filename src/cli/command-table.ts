import type { CommandSpec } from './cli-context.js';

type Loader = () => Promise<CommandSpec>;

/** Top-level commands, loaded lazily so `berth version` stays fast. */
export const TOP_COMMANDS: Record<string, Loader> = {
  version: async () => (await import('./commands/version-command.js')).versionCommand,
  info: async () => (await import('./commands/info-command.js')).infoCommand,
  images: async () => (await import('./commands/images-command.js')).imagesCommand,
  import: async () => (await import('./commands/import-command.js')).importCommand,
  tag: async () => (await import('./commands/image-commands.js')).tagCommand,
  rmi: async () => (await import('./commands/image-commands.js')).rmiCommand,
  history: async () => (await import('./commands/history-command.js')).historyCommand,
  inspect: async () => (await import('./commands/inspect-command.js')).inspectCommand,
  create: async () => (await import('./commands/run-command.js')).createCommand,
  run: async () => (await import('./commands/run-command.js')).runCommand,
  start: async () => (await import('./commands/start-command.js')).startCommand,
  attach: async () => (await import('./commands/attach-command.js')).attachCommand,
  stop: async () => (await import('./commands/lifecycle-commands.js')).stopCommand,
  kill: async () => (await import('./commands/lifecycle-commands.js')).killCommand,
  restart: async () => (await import('./commands/lifecycle-commands.js')).restartCommand,
  rm: async () => (await import('./commands/lifecycle-commands.js')).rmCommand,
  wait: async () => (await import('./commands/lifecycle-commands.js')).waitCommand,
  rename: async () => (await import('./commands/lifecycle-commands.js')).renameCommand,
  ps: async () => (await import('./commands/ps-command.js')).psCommand,
  logs: async () => (await import('./commands/logs-command.js')).logsCommand,
};

/** `berth container X` and `berth image X`: sub-name -> top-level command. */
export const MANAGEMENT_COMMANDS: Record<string, Record<string, string>> = {
  container: {
    ls: 'ps', list: 'ps', ps: 'ps', create: 'create', run: 'run', start: 'start', stop: 'stop', kill: 'kill',
    restart: 'restart', rm: 'rm', remove: 'rm', logs: 'logs', wait: 'wait', rename: 'rename', attach: 'attach',
    inspect: 'inspect:container',
  },
  image: {
    ls: 'images', list: 'images', rm: 'rmi', remove: 'rmi', tag: 'tag', history: 'history', import: 'import',
    inspect: 'inspect:image',
  },
};

export const COMMAND_SUMMARIES: Array<[string, string]> = [
  ['run', 'Create and run a new container from an image'],
  ['ps', 'List containers'],
  ['images', 'List images'],
  ['version', 'Show the berth version information'],
  ['info', 'Display system-wide information'],
];
