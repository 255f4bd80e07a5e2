import type { CommandSpec, CliContext } from '../cli-context.js';
import { StatusError, describeError } from '../cli-context.js';
import { daemonStatusOf } from '../../client/status-errors.js';
import { tabulate } from '../tab-writer.js';
import { parseNanoCpus, parseRamBytes, parseSwapBytes } from '../resource-flags.js';
import { restartPolicy } from './run-command.js';

async function each(ctx: CliContext, names: string[], fn: (name: string) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  for (const name of names) {
    try {
      await fn(name);
      ctx.out(name);
    } catch (err) {
      errors.push(describeError(err, daemonStatusOf(err)));
    }
  }
  if (errors.length) throw new StatusError(errors.join('\n'), 1);
}

export const topCommand: CommandSpec = {
  name: 'top',
  usage: 'CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  interspersed: false,
  args: { min: 1 },
  flags: [],
  async run(ctx, flags) {
    const [name, ...psArgs] = flags.args as string[];
    const client = await ctx.client();
    const top = await client.topContainer(name!, psArgs.join(' '));
    let text = top.Titles.join('\t') + '\n';
    for (const p of top.Processes) text += p.join('\t') + '\n';
    ctx.stdout.write(tabulate(text));
  },
};

export const pauseCommand: CommandSpec = {
  name: 'pause',
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Pause all processes within one or more containers',
  args: { min: 1 },
  flags: [],
  async run(ctx, flags) {
    const client = await ctx.client();
    await each(ctx, flags.args as string[], (n) => client.pauseContainer(n));
  },
};

export const unpauseCommand: CommandSpec = {
  name: 'unpause',
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Unpause all processes within one or more containers',
  args: { min: 1 },
  flags: [],
  async run(ctx, flags) {
    const client = await ctx.client();
    await each(ctx, flags.args as string[], (n) => client.unpauseContainer(n));
  },
};

export const updateCommand: CommandSpec = {
  name: 'update',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  args: { min: 1 },
  flags: [
    { name: 'blkio-weight', type: 'int', description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable' },
    { name: 'cpu-period', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
    { name: 'cpu-quota', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
    { name: 'cpu-shares', short: 'c', type: 'int', description: 'CPU shares (relative weight)' },
    { name: 'cpus', type: 'string', description: 'Number of CPUs' },
    { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
    { name: 'cpuset-mems', type: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
    { name: 'memory', short: 'm', type: 'string', description: 'Memory limit' },
    { name: 'memory-reservation', type: 'string', description: 'Memory soft limit' },
    { name: 'memory-swap', type: 'string', description: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
    { name: 'pids-limit', type: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
    { name: 'restart', type: 'string', description: 'Restart policy to apply when a container exits' },
  ],
  async run(ctx, flags) {
    const body: Record<string, unknown> = {};
    if (flags.changed('blkio-weight')) body['BlkioWeight'] = flags.number('blkio-weight');
    if (flags.changed('cpu-period')) body['CpuPeriod'] = flags.number('cpu-period');
    if (flags.changed('cpu-quota')) body['CpuQuota'] = flags.number('cpu-quota');
    if (flags.changed('cpu-shares')) body['CpuShares'] = flags.number('cpu-shares');
    if (flags.changed('cpus')) body['NanoCpus'] = parseNanoCpus(flags.string('cpus') ?? '');
    if (flags.changed('cpuset-cpus')) body['CpusetCpus'] = flags.string('cpuset-cpus');
    if (flags.changed('cpuset-mems')) body['CpusetMems'] = flags.string('cpuset-mems');
    if (flags.changed('memory')) body['Memory'] = parseRamBytes(flags.string('memory') ?? '', '--memory');
    if (flags.changed('memory-reservation')) body['MemoryReservation'] = parseRamBytes(flags.string('memory-reservation') ?? '', '--memory-reservation');
    if (flags.changed('memory-swap')) body['MemorySwap'] = parseSwapBytes(flags.string('memory-swap') ?? '', '--memory-swap');
    if (flags.changed('pids-limit')) body['PidsLimit'] = flags.number('pids-limit');
    if (flags.changed('restart')) body['RestartPolicy'] = restartPolicy(flags.string('restart') ?? '');
    if (Object.keys(body).length === 0) throw new StatusError('you must provide one or more flags when using this command', 1);
    const client = await ctx.client();
    await each(ctx, flags.args as string[], async (n) => { await client.updateContainer(n, body); });
  },
};
