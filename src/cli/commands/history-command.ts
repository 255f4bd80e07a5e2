import type { CommandSpec } from '../cli-context.js';
import { renderRows } from '../template-format.js';
import { DEFAULT_HISTORY_FORMAT, HISTORY_HEADERS, HistoryRow } from '../image-row.js';

export const historyCommand: CommandSpec = {
  name: 'history',
  usage: '[OPTIONS] IMAGE',
  description: 'Show the history of an image',
  args: { exact: 1 },
  flags: [
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'human', short: 'H', type: 'bool', default: true, description: 'Print sizes and dates in human readable format' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
    { name: 'platform', type: 'string', description: 'Show history for the given platform' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const history = await client.imageHistory(flags.args[0] as string);
    const opts = { trunc: !flags.bool('no-trunc'), human: flags.bool('human') };
    const format = flags.bool('quiet') ? '{{.ID}}' : flags.string('format');
    ctx.stdout.write(renderRows({
      format,
      defaultFormat: DEFAULT_HISTORY_FORMAT,
      headers: opts.human ? HISTORY_HEADERS : { ...HISTORY_HEADERS, CreatedSince: 'CREATED AT' },
      rows: history.map((h) => new HistoryRow(h, opts)),
    }));
  },
};
