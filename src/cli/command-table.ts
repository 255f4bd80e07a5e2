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
  // Reached only through `berth volume X` (names with a space stay out of the top-level help).
  'volume create': async () => (await import('./commands/volume-commands.js')).volumeCreateCommand,
  'volume ls': async () => (await import('./commands/volume-commands.js')).volumeLsCommand,
  'volume inspect': async () => (await import('./commands/volume-commands.js')).volumeInspectCommand,
  'volume rm': async () => (await import('./commands/volume-commands.js')).volumeRmCommand,
  'volume prune': async () => (await import('./commands/volume-commands.js')).volumePruneCommand,
  build: async () => (await import('./commands/build-command.js')).buildCommand,
  'builder prune': async () => (await import('./commands/builder-command.js')).builderPruneCommand,
  'container prune': async () => (await import('./commands/prune-commands.js')).containerPruneCommand,
  'system prune': async () => (await import('./commands/prune-commands.js')).systemPruneCommand,
  exec: async () => (await import('./commands/exec-command.js')).execCommand,
  cp: async () => (await import('./commands/cp-command.js')).cpCommand,
  top: async () => (await import('./commands/process-commands.js')).topCommand,
  pause: async () => (await import('./commands/process-commands.js')).pauseCommand,
  unpause: async () => (await import('./commands/process-commands.js')).unpauseCommand,
  update: async () => (await import('./commands/process-commands.js')).updateCommand,
  events: async () => (await import('./commands/events-command.js')).eventsCommand,
  stats: async () => (await import('./commands/stats-command.js')).statsCommand,
  commit: async () => (await import('./commands/container-archive-commands.js')).commitCommand,
  diff: async () => (await import('./commands/container-archive-commands.js')).diffCommand,
  export: async () => (await import('./commands/container-archive-commands.js')).exportCommand,
  save: async () => (await import('./commands/image-archive-commands.js')).saveCommand,
  load: async () => (await import('./commands/image-archive-commands.js')).loadCommand,
};

/** `berth container X` and `berth image X`: sub-name -> top-level command. */
export const MANAGEMENT_COMMANDS: Record<string, Record<string, string>> = {
  container: {
    ls: 'ps', list: 'ps', ps: 'ps', create: 'create', run: 'run', start: 'start', stop: 'stop', kill: 'kill',
    restart: 'restart', rm: 'rm', remove: 'rm', logs: 'logs', wait: 'wait', rename: 'rename', attach: 'attach',
    inspect: 'inspect:container', prune: 'container prune',
    exec: 'exec', cp: 'cp', stats: 'stats', top: 'top', pause: 'pause', unpause: 'unpause', update: 'update',
    commit: 'commit', diff: 'diff', export: 'export',
  },
  builder: { build: 'build', prune: 'builder prune' },
  image: {
    build: 'build', ls: 'images', list: 'images', rm: 'rmi', remove: 'rmi', tag: 'tag', history: 'history', import: 'import',
    inspect: 'inspect:image',
    save: 'save', load: 'load',
  },
  volume: {
    create: 'volume create', ls: 'volume ls', list: 'volume ls', inspect: 'volume inspect', rm: 'volume rm',
    remove: 'volume rm', prune: 'volume prune',
  },
  system: { prune: 'system prune', info: 'info', events: 'events' },
};

/** One line per command for `berth --help` (the commands themselves load lazily). */
export const OTHER_COMMAND_SUMMARIES: Record<string, string> = {
  build: 'Build an image from a Dockerfile',
  attach: "Connect this terminal to a running container's input and output",
  cp: 'Copy files/folders between a container and the local filesystem',
  create: 'Create a container without starting it',
  events: 'Get real time events from the server',
  pause: 'Pause all processes within one or more containers',
  stats: 'Display a live stream of container(s) resource usage statistics',
  top: 'Display the running processes of a container',
  unpause: 'Unpause all processes within one or more containers',
  update: 'Update configuration of one or more containers',
  commit: "Create a new image from a container's changes",
  diff: "Inspect changes to files or directories on a container's filesystem",
  export: "Export a container's filesystem as a tar archive",
  history: 'Show the layers an image was built from',
  import: 'Create an image from a root filesystem tarball',
  inspect: 'Show low-level details of containers or images',
  kill: 'Send a signal to one or more running containers',
  load: 'Load an image from a tar archive or STDIN',
  logs: "Show a container's output",
  rename: 'Give a container a new name',
  restart: 'Stop and start one or more containers',
  rm: 'Remove one or more containers',
  rmi: 'Remove one or more images',
  save: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  start: 'Start one or more stopped containers',
  stop: 'Stop one or more running containers',
  tag: 'Give an image another name',
  wait: 'Wait until containers stop, then print their exit codes',
};

export const COMMAND_SUMMARIES: Array<[string, string]> = [
  ['run', 'Create and run a new container from an image'],
  ['exec', 'Execute a command in a running container'],
  ['ps', 'List containers'],
  ['images', 'List images'],
  ['version', 'Show the berth version information'],
  ['info', 'Display system-wide information'],
];
