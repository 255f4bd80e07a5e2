import type { CommandSpec, CliContext } from '../cli-context.js';
import { StatusError, describeError } from '../cli-context.js';
import { daemonStatusOf } from '../../client/status-errors.js';

/** Runs `fn` for each argument, printing the name on success and collecting errors as docker does. */
async function forEach(ctx: CliContext, names: string[], fn: (name: string) => Promise<void>, opts: { echo?: boolean } = {}): Promise<void> {
  const errors: string[] = [];
  for (const name of names) {
    try {
      await fn(name);
      if (opts.echo !== false) ctx.out(name);
    } catch (err) {
      errors.push(describeError(err, daemonStatusOf(err)));
    }
  }
  if (errors.length) throw new StatusError(errors.join('\n'), 1);
}

function timeoutOpt(flags: { changed(n: string): boolean; number(n: string): number }): number | undefined {
  return flags.changed('timeout') ? flags.number('timeout') : undefined;
}

const timeoutFlag = { name: 'timeout', short: 't', type: 'int' as const, description: 'Seconds to wait before killing the container', aliases: ['time'] };

const signalFlag = { name: 'signal', short: 's', type: 'string' as const, description: 'Signal to send to the container' };

/** stop and restart differ only in the call they make for each container. */
function stopLike(
  name: 'stop' | 'restart',
  description: string,
  call: (client: Awaited<ReturnType<CliContext['client']>>, id: string, opts: { timeout?: number; signal?: string }) => Promise<void>,
): CommandSpec {
  return {
    name,
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description,
    args: { min: 1 },
    flags: [signalFlag, timeoutFlag],
    async run(ctx, flags) {
      const client = await ctx.client();
      const opts: { timeout?: number; signal?: string } = {};
      const t = timeoutOpt(flags);
      if (t !== undefined) opts.timeout = t;
      if (flags.string('signal')) opts.signal = flags.string('signal');
      await forEach(ctx, flags.args, (n) => call(client, n, opts));
    },
  };
}

export const stopCommand = stopLike('stop', 'Stop one or more running containers', (c, id, o) => c.stopContainer(id, o));
export const restartCommand = stopLike('restart', 'Restart one or more containers', (c, id, o) => c.restartContainer(id, o));

export const killCommand: CommandSpec = {
  name: 'kill',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  args: { min: 1 },
  flags: [signalFlag],
  async run(ctx, flags) {
    const client = await ctx.client();
    const signal = flags.string('signal');
    await forEach(ctx, flags.args, (n) => client.killContainer(n, signal ? { signal } : {}));
  },
};

export const rmCommand: CommandSpec = {
  name: 'rm',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: 'bool', description: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: 'bool', description: 'Remove anonymous volumes associated with the container' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    await forEach(ctx, flags.args, (n) => {
      const name = n.replace(/^\/+/, '');
      if (!name) return Promise.reject(new StatusError('Container name cannot be empty', 1));
      return client.removeContainer(name, { force: flags.bool('force'), volumes: flags.bool('volumes'), link: flags.bool('link') });
    });
  },
};

export const waitCommand: CommandSpec = {
  name: 'wait',
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  args: { min: 1 },
  flags: [],
  async run(ctx, flags) {
    const client = await ctx.client();
    const errors: string[] = [];
    for (const name of flags.args) {
      try {
        const r = await client.waitContainer(name).result;
        ctx.out(String(r.StatusCode));
      } catch (err) {
        errors.push(describeError(err, daemonStatusOf(err)));
      }
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
  },
};

export const renameCommand: CommandSpec = {
  name: 'rename',
  usage: 'CONTAINER NEW_NAME',
  description: 'Rename a container',
  args: { exact: 2 },
  flags: [],
  async run(ctx, flags) {
    const [oldName, newName] = (flags.args as [string, string]).map((s) => s.trim()) as [string, string];
    if (!oldName || !newName) throw new StatusError('Error: Neither old nor new names may be empty', 1);
    const client = await ctx.client();
    try {
      await client.renameContainer(oldName, newName);
    } catch (err) {
      throw new StatusError(`${describeError(err, daemonStatusOf(err))}\nError: failed to rename container named ${oldName}`, 1);
    }
  },
};
