import type { CliContext, CommandSpec } from '../cli-context.js';
import { humanSize } from '../units.js';
import { filterArgs } from './filter-args.js';
import { confirm } from './volume-commands.js';

const filterFlag = { name: 'filter', type: 'stringArray' as const, valueName: 'filter', description: "Provide filter values (e.g. 'until=<timestamp>')" };
const forceFlag = { name: 'force', short: 'f', type: 'bool' as const, description: 'Do not prompt for confirmation' };

function encode(filters: Map<string, string[]>): string | undefined {
  if (filters.size === 0) return undefined;
  return JSON.stringify(Object.fromEntries([...filters].map(([k, vs]) => [k, Object.fromEntries(vs.map((v) => [v, true]))])));
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** Prunes one kind and prints its section; returns the space reclaimed. */
async function pruneSection(ctx: CliContext, kind: 'containers' | 'images' | 'networks' | 'build', filters: Map<string, string[]>, extra: Record<string, string> = {}): Promise<number> {
  const client = await ctx.client();
  const r = await client.prune(kind, { filters: encode(filters), ...extra });
  if (!r) return 0;
  let text = '';
  if (kind === 'containers' && list(r['ContainersDeleted']).length) text = `Deleted Containers:\n${list(r['ContainersDeleted']).join('\n')}\n\n`;
  if (kind === 'networks' && list(r['NetworksDeleted']).length) text = `Deleted Networks:\n${list(r['NetworksDeleted']).join('\n')}\n\n`;
  if (kind === 'build' && list(r['CachesDeleted']).length) text = `Deleted build cache objects:\n${list(r['CachesDeleted']).join('\n')}\n\n`;
  if (kind === 'images') {
    const items = (Array.isArray(r['ImagesDeleted']) ? r['ImagesDeleted'] : []) as Array<{ Untagged?: string; Deleted?: string }>;
    if (items.length) text = `Deleted Images:\n${items.map((i) => (i.Untagged ? `untagged: ${i.Untagged}` : `deleted: ${i.Deleted}`)).join('\n')}\n\n`;
  }
  ctx.stdout.write(text);
  return Number(r['SpaceReclaimed'] ?? 0);
}

export const containerPruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove all stopped containers',
  args: { exact: 0 },
  flags: [filterFlag, forceFlag],
  async run(ctx, flags) {
    const filters = filterArgs(flags.list('filter'));
    if (!flags.bool('force') && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))) return 0;
    const reclaimed = await pruneSection(ctx, 'containers', filters);
    ctx.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
};

export const systemPruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove unused data',
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images not just dangling ones' },
    filterFlag, forceFlag,
    { name: 'volumes', type: 'bool', description: 'Prune anonymous volumes' },
  ],
  async run(ctx, flags) {
    const filters = filterArgs(flags.list('filter'));
    const all = flags.bool('all');
    const volumes = flags.bool('volumes');
    if (!flags.bool('force')) {
      const lines = ['WARNING! This will remove:', '  - all stopped containers', '  - all networks not used by at least one container'];
      if (volumes) lines.push('  - all anonymous volumes not used by at least one container');
      lines.push(all ? '  - all images without at least one container associated to them' : '  - all dangling images');
      lines.push(all ? '  - all build cache' : '  - unused build cache');
      if (filters.size) {
        lines.push('', '  Items to be pruned will be filtered with:');
        for (const [k, vs] of filters) for (const v of vs) lines.push(`  - ${k}=${v}`);
      }
      lines.push('');
      if (!(await confirm(ctx, lines.join('\n')))) return 0;
    }
    let reclaimed = await pruneSection(ctx, 'containers', filters);
    reclaimed += await pruneSection(ctx, 'networks', filters);
    if (volumes) {
      const client = await ctx.client();
      const r = await client.pruneVolumes({ filters });
      if (r.VolumesDeleted?.length) ctx.stdout.write(`Deleted Volumes:\n${r.VolumesDeleted.join('\n')}\n\n`);
      reclaimed += r.SpaceReclaimed ?? 0;
    }
    const imageFilters = new Map(filters);
    if (all) imageFilters.set('dangling', ['false']);
    reclaimed += await pruneSection(ctx, 'images', imageFilters);
    reclaimed += await pruneSection(ctx, 'build', filters, all ? { all: 'true' } : {});
    ctx.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
};
