import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import { displayJSONMessages, JSONMessageError } from '../json-message-display.js';
import { parseImageReference } from '../image-reference.js';

export const importCommand: CommandSpec = {
  name: 'import',
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  args: { min: 1, max: 2 },
  flags: [
    { name: 'change', short: 'c', type: 'stringArray', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  ],
  async run(ctx, flags) {
    const [src, target] = flags.args as [string, string | undefined];
    let repo: string | undefined;
    if (target) {
      const r = parseImageReference(target);
      if (r.digest) throw new StatusError('refusing to create a tag with a digest reference', 1);
      repo = target;
    }
    let source: Readable | undefined;
    if (src === '-') {
      source = ctx.stdin;
    } else if (/^https?:\/\//.test(src)) {
      source = undefined; // the daemon fetches it
    } else {
      const file = createReadStream(src);
      source = file;
      await new Promise<void>((resolve, reject) => {
        file.once('open', () => resolve());
        file.once('error', (err: NodeJS.ErrnoException) => reject(new StatusError(`open ${src}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`, 1)));
      });
    }
    const client = await ctx.client();
    const opts: Parameters<typeof client.importImage>[0] = { changes: flags.list('change'), ...(source ? { source } : { fromSrc: src }) };
    if (repo) opts.repo = repo;
    if (flags.string('message')) opts.message = flags.string('message');
    if (flags.string('platform')) opts.platform = flags.string('platform');
    const res = await client.importImage(opts);
    try {
      await displayJSONMessages(res, ctx.stdout);
    } catch (err) {
      if (err instanceof JSONMessageError) throw new StatusError(err.message, 1);
      throw err;
    }
  },
};
