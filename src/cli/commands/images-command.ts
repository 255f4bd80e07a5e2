import type { CommandSpec } from '../cli-context.js';
import { renderRows } from '../template-format.js';
import { DEFAULT_IMAGES_DIGEST_FORMAT, DEFAULT_IMAGES_FORMAT, IMAGE_HEADERS, imageRows } from '../image-row.js';
import { filterArgs } from './filter-args.js';

export const imagesCommand: CommandSpec = {
  name: 'images',
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  args: { max: 1 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', description: 'Show digests' },
    { name: 'filter', short: 'f', type: 'stringArray', valueName: 'filter', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
    { name: 'tree', type: 'bool', hidden: true },
  ],
  async run(ctx, flags) {
    const filters = filterArgs(flags.list('filter'));
    const ref = flags.args[0];
    if (ref) filters.set('reference', [...(filters.get('reference') ?? []), ref]);
    const client = await ctx.client();
    const images = await client.listImages({ all: flags.bool('all'), filters, digests: flags.bool('digests') });
    const trunc = !flags.bool('no-trunc');
    let format = flags.string('format');
    if (flags.bool('quiet')) format = '{{.ID}}';
    const rows = imageRows(images, { trunc, digests: flags.bool('digests') || format.includes('.Digest') });
    ctx.stdout.write(renderRows({
      format,
      defaultFormat: flags.bool('digests') ? DEFAULT_IMAGES_DIGEST_FORMAT : DEFAULT_IMAGES_FORMAT,
      headers: IMAGE_HEADERS,
      rows,
    }));
  },
};
