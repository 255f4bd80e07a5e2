import type { CommandSpec } from '../cli-context.js';
import { humanSize } from '../units.js';

/** `berth builder prune`: drops the build cache. */
export const builderPruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove build cache',
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused build cache, not just dangling ones' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
    { name: 'filter', type: 'stringArray', description: 'Provide filter values (e.g. "until=24h")' },
  ],
  async run(ctx, flags) {
    if (!flags.bool('force')) {
      const warning = flags.bool('all')
        ? 'WARNING! This will remove all build cache.'
        : 'WARNING! This will remove all dangling build cache.';
      ctx.stdout.write(`${warning} Are you sure you want to continue? [y/N] `);
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        const onData = (b: Buffer): void => {
          text += b.toString();
          if (text.includes('\n')) { ctx.stdin.off('data', onData); ctx.stdin.pause(); resolve(text); }
        };
        ctx.stdin.on('data', onData);
        ctx.stdin.once('end', () => resolve(text));
      });
      if (!/^\s*y(es)?\s*$/i.test(answer.split('\n')[0] ?? '')) return;
    }
    const client = await ctx.client();
    const res = await client.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', {
      query: { all: flags.bool('all') ? '1' : undefined },
    });
    if (res.CachesDeleted?.length) {
      ctx.out('Deleted build cache objects:');
      for (const id of res.CachesDeleted) ctx.out(id);
      ctx.out('');
    }
    ctx.out(`Total reclaimed space: ${humanSize(res.SpaceReclaimed)}`);
  },
};
