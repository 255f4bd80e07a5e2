import type { CommandSpec } from '../cli-context.js';
import { renderRows } from '../template-format.js';
import { CONTAINER_HEADERS, ContainerRow, DEFAULT_PS_FORMAT } from '../container-row.js';
import { filterArgs } from './filter-args.js';

export const psCommand: CommandSpec = {
  name: 'ps',
  usage: '[OPTIONS]',
  description: 'List containers',
  aliases: ['berth container ls', 'berth container list', 'berth container ps', 'berth ps'],
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', type: 'stringArray', valueName: 'filter', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'last', short: 'n', type: 'int', default: -1, description: 'Show n last created containers (includes all states)' },
    { name: 'latest', short: 'l', type: 'bool', description: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
    { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
  ],
  async run(ctx, flags) {
    let format = flags.string('format');
    if (flags.bool('quiet')) format = '{{.ID}}';
    let size = flags.bool('size');
    if (format && (format.includes('.Size') || format === 'json' || /json\s+\.\s*\}\}/.test(format))) size = true;
    let limit = flags.number('last');
    if (flags.bool('latest')) limit = 1;
    const client = await ctx.client();
    const list = await client.listContainers({
      all: flags.bool('all') || limit > 0,
      limit,
      size,
      filters: filterArgs(flags.list('filter')),
    });
    const trunc = !flags.bool('no-trunc');
    let def = DEFAULT_PS_FORMAT;
    if (size && !flags.changed('format')) def += '\t{{.Size}}';
    ctx.stdout.write(renderRows({
      format,
      defaultFormat: def,
      headers: CONTAINER_HEADERS,
      rows: list.map((c) => new ContainerRow(c, { trunc })),
      execErrorPrefix: 'failed to execute template: ',
    }));
  },
};
