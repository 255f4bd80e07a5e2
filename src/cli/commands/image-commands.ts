import type { CommandSpec } from '../cli-context.js';
import { StatusError, describeError } from '../cli-context.js';
import { daemonStatusOf } from '../../client/status-errors.js';
import { parseImageReference } from '../image-reference.js';

export const tagCommand: CommandSpec = {
  name: 'tag',
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  args: { exact: 2 },
  flags: [],
  async run(ctx, flags) {
    const [source, target] = flags.args as [string, string];
    const ref = parseImageReference(target);
    const repoPath = ref.name.slice(ref.name.indexOf('/') + 1);
    if (repoPath !== repoPath.toLowerCase()) {
      throw new StatusError(`Error parsing reference: "${target}" is not a valid repository/tag: invalid reference format: repository name (${repoPath}) must be lowercase`, 1);
    }
    if (ref.digest) throw new StatusError('refusing to create a tag with a digest reference', 1);
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(ref.name.slice(ref.name.indexOf('/') + 1))
      || (ref.tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(ref.tag))) {
      throw new StatusError(`Error parsing reference: "${target}" is not a valid repository/tag: invalid reference format`, 1);
    }
    const client = await ctx.client();
    await client.tagImage(source, { repo: ref.name, tag: ref.tag ?? 'latest' });
  },
};

export const rmiCommand: CommandSpec = {
  name: 'rmi',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', description: 'Do not delete untagged parents' },
    { name: 'platform', type: 'stringArray', hidden: true },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const errors: string[] = [];
    for (const name of flags.args) {
      try {
        const items = await client.removeImage(name, { force: flags.bool('force'), noPrune: flags.bool('no-prune') });
        for (const it of items ?? []) {
          if (it.Untagged) ctx.out(`Untagged: ${it.Untagged}`);
          else if (it.Deleted) ctx.out(`Deleted: ${it.Deleted}`);
        }
      } catch (err) {
        errors.push(describeError(err, daemonStatusOf(err)));
      }
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
  },
};
