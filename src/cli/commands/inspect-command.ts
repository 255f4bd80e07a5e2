import type { CommandSpec } from '../cli-context.js';
import { StatusError, describeError } from '../cli-context.js';
import { daemonStatusOf } from '../../client/status-errors.js';
import { NotFoundError } from '../../common/errors.js';
import { TemplateError } from '../go-template.js';
import { parseTemplate, templateText } from '../template-format.js';

const TYPES = ['config', 'container', 'image', 'network', 'node', 'plugin', 'secret', 'service', 'task', 'volume'];

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on Docker objects',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', description: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template." },
    { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', description: 'Only inspect objects of the given type' },
  ],
  async run(ctx, flags) {
    const type = flags.string('type');
    if (type && !TYPES.includes(type)) {
      throw new StatusError(`unknown type: "${type}": must be one of ${TYPES.map((t) => `"${t}"`).join(', ')}`, 1);
    }
    const format = flags.string('format');
    const tmpl = format && format !== 'json' ? parseTemplate(templateText(format, '').text) : undefined;
    const client = await ctx.client();
    const results: unknown[] = [];
    const errors: string[] = [];
    let out = '';
    const templateErrors: string[] = [];
    for (const name of flags.args) {
      let raw: string | undefined;
      let lastErr: unknown;
      const kinds: Array<'containers' | 'images' | 'networks' | 'volumes'> = type === 'container' ? ['containers'] : type === 'image' ? ['images']
        : type === 'network' ? ['networks'] : type === 'volume' ? ['volumes'] : type ? [] : ['containers', 'images', 'networks', 'volumes'];
      for (const kind of kinds) {
        try {
          raw = kind === 'volumes' ? await client.inspectVolumeRaw(name)
            : kind === 'networks' ? JSON.stringify(await client.json<unknown>('GET', `/networks/${encodeURIComponent(name)}`))
            : await client.inspectRaw(kind, name, { size: kind === 'containers' && flags.bool('size') });
          break;
        } catch (err) {
          lastErr = err;
          if (!(err instanceof NotFoundError)) break;
        }
      }
      if (raw === undefined) {
        if (lastErr instanceof NotFoundError || lastErr === undefined) {
          if (!type) errors.push(`Error: No such object: ${name}`);
          else errors.push(describeError(lastErr ?? new NotFoundError(`No such ${type}: ${name}`), type && lastErr ? daemonStatusOf(lastErr) : undefined));
        } else {
          errors.push(describeError(lastErr, daemonStatusOf(lastErr)));
        }
        continue;
      }
      const value = JSON.parse(raw) as unknown;
      if (tmpl) {
        try {
          out += tmpl.execute(value, { missingKey: 'error' }) + '\n';
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          templateErrors.push(`template parsing error: ${err.message}`);
        }
      } else {
        results.push(value);
      }
    }
    if (tmpl) ctx.stdout.write(templateErrors.length ? `${out}\n` : out);
    else if (results.length === 0) ctx.stdout.write('[]\n');
    else ctx.stdout.write(`${JSON.stringify(results, null, 4)}\n`);
    errors.push(...templateErrors);
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
  },
};
