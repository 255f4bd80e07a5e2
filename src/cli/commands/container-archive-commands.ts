import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import { commitContainer, containerChanges, exportContainer } from '../../client/archive-client.js';
import { parseImageReference } from '../image-reference.js';
import { refuseTerminal, writeArchive } from './archive-output.js';

const KIND_LETTER: Record<number, string> = { 0: 'C', 1: 'A', 2: 'D' };

export const diffCommand: CommandSpec = {
  name: 'diff',
  usage: 'CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  args: { exact: 1 },
  flags: [],
  async run(ctx, flags) {
    const client = await ctx.client();
    const changes = await containerChanges(client, flags.args[0] as string);
    for (const c of changes) ctx.out(`${KIND_LETTER[c.Kind] ?? '?'} ${c.Path}`);
  },
};

export const exportCommand: CommandSpec = {
  name: 'export',
  usage: '[OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  args: { exact: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }],
  async run(ctx, flags) {
    const output = flags.string('output');
    refuseTerminal(ctx, output);
    const client = await ctx.client();
    const res = await exportContainer(client, flags.args[0] as string);
    await writeArchive(ctx, res, output);
  },
};

export const commitCommand: CommandSpec = {
  name: 'commit',
  usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  description: "Create a new image from a container's changes",
  args: { min: 1, max: 2 },
  flags: [
    { name: 'author', short: 'a', type: 'string', description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'stringArray', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Commit message' },
    { name: 'pause', short: 'p', type: 'bool', default: true, description: 'Pause container during commit' },
  ],
  async run(ctx, flags) {
    const [container, target] = flags.args as [string, string | undefined];
    let repo: string | undefined;
    let tag: string | undefined;
    if (target) {
      const ref = parseImageReference(target);
      if (ref.digest) throw new StatusError('refusing to create a tag with a digest reference', 1);
      repo = ref.name;
      tag = ref.tag;
    }
    const client = await ctx.client();
    const res = await commitContainer(client, {
      container,
      ...(repo ? { repo } : {}),
      ...(tag ? { tag } : {}),
      comment: flags.string('message'),
      author: flags.string('author'),
      pause: flags.bool('pause'),
      changes: flags.list('change'),
    });
    ctx.out(res.Id);
  },
};
