import type { CommandSpec, CliContext } from '../cli-context.js';
import { StatusError, describeError } from '../cli-context.js';
import { daemonStatusOf } from '../../client/status-errors.js';
import type { VolumeSummary } from '../../engine-api/volume-models.js';
import type { TemplateObject } from '../go-template.js';
import { TemplateError } from '../go-template.js';
import { contextJSON, parseTemplate, renderRows, templateText } from '../template-format.js';
import { humanSize } from '../units.js';
import { filterArgs } from './filter-args.js';

export const VOLUME_HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE',
  Availability: 'AVAILABILITY', Group: 'GROUP', Status: 'STATUS',
};
export const DEFAULT_VOLUME_FORMAT = 'table {{.Driver}}\t{{.Name}}';

/** A `docker volume ls` row (formatter.volumeContext). */
export class VolumeRow implements TemplateObject {
  readonly goType = '*formatter.volumeContext';
  constructor(private readonly v: VolumeSummary) {}

  Name(): string { return this.v.Name; }
  Driver(): string { return this.v.Driver; }
  Scope(): string { return this.v.Scope; }
  Mountpoint(): string { return this.v.Mountpoint; }
  Labels(): string {
    return Object.entries(this.v.Labels ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',');
  }
  Label(name: string): string { return (this.v.Labels ?? {})[name] ?? ''; }
  Links(): string { return this.v.UsageData ? String(this.v.UsageData.RefCount) : 'N/A'; }
  Size(): string { return this.v.UsageData && this.v.UsageData.Size >= 0 ? humanSize(this.v.UsageData.Size) : 'N/A'; }
  Availability(): string { return 'N/A'; }
  Group(): string { return 'N/A'; }
  Status(): string { return 'N/A'; }

  toJSON(): Record<string, unknown> {
    return contextJSON({
      Availability: this.Availability(), Driver: this.Driver(), Group: this.Group(), Labels: this.Labels(), Links: this.Links(),
      Mountpoint: this.Mountpoint(), Name: this.Name(), Scope: this.Scope(), Size: this.Size(), Status: this.Status(),
    });
  }
}

function keyValues(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export const volumeCreateCommand: CommandSpec = {
  name: 'create',
  usage: '[OPTIONS] [VOLUME]',
  description: 'Create a volume',
  args: { max: 1 },
  flags: [
    { name: 'driver', short: 'd', type: 'string', default: 'local', description: 'Specify volume driver name' },
    { name: 'label', type: 'stringArray', description: 'Set metadata for a volume' },
    { name: 'name', type: 'string', hidden: true, description: 'Specify volume name' },
    { name: 'opt', short: 'o', type: 'stringArray', valueName: 'map', description: 'Set driver specific options' },
  ],
  async run(ctx, flags) {
    let name = flags.string('name');
    const arg = flags.args[0];
    if (arg !== undefined) {
      if (name && name !== arg) throw new StatusError('conflicting options: cannot specify a volume-name through both --name and as a positional arg', 1);
      name = arg;
    }
    const client = await ctx.client();
    const vol = await client.createVolume({
      Driver: flags.string('driver') || 'local', DriverOpts: keyValues(flags.list('opt')), Labels: keyValues(flags.list('label')), Name: name,
    });
    ctx.out(vol.Name);
  },
};

export const volumeLsCommand: CommandSpec = {
  name: 'ls',
  usage: '[OPTIONS]',
  description: 'List volumes',
  aliases: ['ls', 'list'],
  args: { exact: 0 },
  flags: [
    { name: 'cluster', type: 'bool', hidden: true },
    { name: 'filter', short: 'f', type: 'stringArray', valueName: 'filter', description: "Provide filter values (e.g. 'dangling=true')" },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display volume names' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const res = await client.listVolumes({ filters: filterArgs(flags.list('filter')) });
    for (const w of res.Warnings ?? []) ctx.err(w);
    const vols = [...(res.Volumes ?? [])].sort((a, b) => a.Name.localeCompare(b.Name));
    let format = flags.string('format');
    if (flags.bool('quiet') && !format) format = '{{.Name}}';
    ctx.stdout.write(renderRows({ format, defaultFormat: DEFAULT_VOLUME_FORMAT, headers: VOLUME_HEADERS, rows: vols.map((v) => new VolumeRow(v)) }));
  },
};

export const volumeInspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', description: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template." },
  ],
  async run(ctx, flags) {
    const format = flags.string('format');
    const tmpl = format && format !== 'json' ? parseTemplate(templateText(format, '').text) : undefined;
    const client = await ctx.client();
    const results: unknown[] = [];
    const errors: string[] = [];
    let out = '';
    for (const name of flags.args) {
      let value: unknown;
      try {
        value = JSON.parse(await client.inspectVolumeRaw(name)) as unknown;
      } catch (err) {
        errors.push(describeError(err, daemonStatusOf(err)));
        continue;
      }
      if (tmpl) {
        try {
          out += tmpl.execute(value, { missingKey: 'error' }) + '\n';
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          errors.push(`template parsing error: ${err.message}`);
        }
      } else {
        results.push(value);
      }
    }
    if (tmpl) ctx.stdout.write(out);
    else ctx.stdout.write(results.length ? `${JSON.stringify(results, null, 4)}\n` : '[]\n');
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
  },
};

export const volumeRmCommand: CommandSpec = {
  name: 'rm',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Remove one or more volumes',
  aliases: ['rm', 'remove'],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the removal of one or more volumes' }],
  async run(ctx, flags) {
    const client = await ctx.client();
    const errors: string[] = [];
    for (const name of flags.args) {
      try {
        await client.removeVolume(name, { force: flags.bool('force') });
        ctx.out(name);
      } catch (err) {
        errors.push(describeError(err, daemonStatusOf(err)));
      }
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
  },
};

export async function confirm(ctx: CliContext, message: string): Promise<boolean> {
  ctx.stdout.write(`${message}\nAre you sure you want to continue? [y/N] `);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer | string): void => {
      buf += c.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) { done(buf.slice(0, i)); }
    };
    const done = (s: string): void => {
      ctx.stdin.off('data', onData);
      ctx.stdin.off('end', onEnd);
      ctx.stdin.pause();
      resolve(s);
    };
    const onEnd = (): void => done(buf);
    ctx.stdin.on('data', onData);
    ctx.stdin.once('end', onEnd);
    ctx.stdin.resume();
  });
  return ['y', 'yes'].includes(line.trim().toLowerCase());
}

export const volumePruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove unused local volumes',
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused volumes, not just anonymous ones' },
    { name: 'filter', type: 'stringArray', valueName: 'filter', description: "Provide filter values (e.g. 'label=<label>')" },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, flags) {
    const filters = filterArgs(flags.list('filter'));
    const all = flags.bool('all');
    if (all) filters.set('all', ['true']);
    if (!flags.bool('force')) {
      const what = all ? 'all local volumes' : 'anonymous local volumes';
      if (!(await confirm(ctx, `WARNING! This will remove ${what} not used by at least one container.`))) return 0;
    }
    const client = await ctx.client();
    const r = await client.pruneVolumes({ filters });
    let text = '';
    if (r.VolumesDeleted?.length) text += `Deleted Volumes:\n${r.VolumesDeleted.join('\n')}\n\n`;
    text += `Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`;
    ctx.stdout.write(text);
    return 0;
  },
};
