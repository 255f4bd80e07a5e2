import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import { loadImages, saveImages } from '../../client/archive-client.js';
import { displayJSONMessages, JSONMessageError } from '../json-message-display.js';
import { refuseTerminal, writeArchive } from './archive-output.js';

export const saveCommand: CommandSpec = {
  name: 'save',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  args: { min: 1 },
  flags: [
    { name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' },
    { name: 'platform', type: 'string', description: 'Save only the given platform variant' },
  ],
  async run(ctx, flags) {
    const output = flags.string('output');
    refuseTerminal(ctx, output);
    const client = await ctx.client();
    const res = await saveImages(client, flags.args);
    await writeArchive(ctx, res, output);
  },
};

export const loadCommand: CommandSpec = {
  name: 'load',
  usage: '[OPTIONS]',
  description: 'Load an image from a tar archive or STDIN',
  args: { exact: 0 },
  flags: [
    { name: 'input', short: 'i', type: 'string', description: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the load output' },
    { name: 'platform', type: 'string', description: 'Load only the given platform variant' },
  ],
  async run(ctx, flags) {
    const input = flags.string('input');
    let source: Readable;
    if (input) {
      source = createReadStream(input);
      await new Promise<void>((resolve, reject) => {
        source.once('open', () => resolve());
        source.once('error', (err: NodeJS.ErrnoException) => reject(new StatusError(`open ${input}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`, 1)));
      });
    } else {
      if (ctx.stdin.isTTY) throw new StatusError('requested load from stdin, but stdin is empty', 1);
      source = ctx.stdin;
    }
    const client = await ctx.client();
    // Docker's CLI asks for quiet output whenever its own output is not a terminal.
    const quiet = flags.bool('quiet') || !ctx.stdout.isTTY;
    const res = await loadImages(client, source, quiet);
    try {
      await displayJSONMessages(res, ctx.stdout);
    } catch (err) {
      if (err instanceof JSONMessageError) throw new StatusError(err.message, 1);
      throw err;
    }
  },
};
