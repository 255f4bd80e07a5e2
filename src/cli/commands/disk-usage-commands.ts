import type { CliContext, CommandSpec } from '../cli-context.js';
import { pruneImages, systemDf } from '../../client/archive-client.js';
import { tabulate } from '../tab-writer.js';
import { humanSize, humanSizeWithPrecision, timeAgo } from '../units.js';
import { contextJSON, ellipsis, renderRows } from '../template-format.js';
import type { TemplateObject } from '../go-template.js';
import { filterArgs } from './filter-args.js';

/** Reads one line from stdin and says whether it was a yes, as docker's prompts do. */
async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  ctx.stdout.write(`${question} [y/N] `);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const done = (text: string): void => {
      ctx.stdin.off('data', onData);
      ctx.stdin.off('end', onEnd);
      ctx.stdin.pause();
      resolve(text);
    };
    const onEnd = (): void => done(buf);
    ctx.stdin.on('data', onData);
    ctx.stdin.once('end', onEnd);
    ctx.stdin.resume();
  });
  return ['y', 'yes'].includes(line.trim().toLowerCase());
}

export const imagePruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove unused images',
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images, not just dangling ones' },
    { name: 'filter', type: 'stringArray', valueName: 'filter', description: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, flags) {
    const all = flags.bool('all');
    const filters = filterArgs(flags.list('filter'));
    filters.set('dangling', [all ? 'false' : 'true']);
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!flags.bool('force') && !(await confirm(ctx, `${warning}\nAre you sure you want to continue?`))) return;
    const client = await ctx.client();
    const report = await pruneImages(client, filters);
    let output = '';
    if (report.ImagesDeleted && report.ImagesDeleted.length > 0) {
      output = 'Deleted Images:\n';
      for (const st of report.ImagesDeleted) output += st.Untagged ? `untagged: ${st.Untagged}\n` : `deleted: ${st.Deleted}\n`;
      ctx.out(output);
    }
    ctx.out(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}`);
  },
};

interface DfImage { Id: string; RepoTags: string[] | null; Created: number; Size: number; SharedSize: number; Containers: number }
interface DfContainer { Id: string; Image: string; Command: string; Mounts?: unknown[]; SizeRw?: number; Created: number; State: string; Status: string; Names: string[] }
interface DfBuildCache { ID: string; Type: string; Size: number; CreatedAt: string; LastUsedAt?: string | null; UsageCount: number; InUse: boolean; Shared: boolean }
interface DfVolume { Name: string; UsageData?: { Size: number; RefCount: number } | null }

/** One row of `system df` (formatter.diskUsage*Context): what `--format` templates see. */
class DfRow implements TemplateObject {
  readonly goType = '*formatter.diskUsageContext';
  constructor(private readonly f: { type: string; total: number; active: number; size: string; reclaimable: string }) {}
  Type(): string { return this.f.type; }
  TotalCount(): string { return String(this.f.total); }
  Active(): string { return String(this.f.active); }
  Size(): string { return this.f.size; }
  Reclaimable(): string { return this.f.reclaimable; }
  toJSON(): Record<string, unknown> {
    return contextJSON({ Active: this.Active(), Reclaimable: this.Reclaimable(), Size: this.Size(), TotalCount: this.TotalCount(), Type: this.Type() });
  }
}

const DF_FORMAT = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const DF_HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

function withPercent(reclaimable: number, total: number): string {
  return total > 0 ? `${humanSize(reclaimable)} (${Math.floor((reclaimable * 100) / total)}%)` : humanSize(reclaimable);
}

export const systemDfCommand: CommandSpec = {
  name: 'df',
  usage: '[OPTIONS]',
  description: 'Show docker disk usage',
  args: { exact: 0 },
  flags: [
    { name: 'verbose', short: 'v', type: 'bool', description: 'Show detailed information on space usage' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const du = await systemDf(client);
    const images = (du['Images'] as DfImage[] | null) ?? [];
    const containers = (du['Containers'] as DfContainer[] | null) ?? [];
    const volumes = (du['Volumes'] as DfVolume[] | null) ?? [];
    const layersSize = (du['LayersSize'] as number | undefined) ?? 0;
    const cache = (du['BuildCache'] as DfBuildCache[] | null) ?? [];
    // What the cache alone holds: entries shared with images do not count, as docker shows it.
    const cacheSize = cache.filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
    const cacheInUse = cache.filter((b) => b.InUse && !b.Shared).reduce((n, b) => n + b.Size, 0);
    if (!flags.bool('verbose')) {
      let used = 0;
      for (const i of images) if (i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1) used += i.Size - i.SharedSize;
      const cSize = containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
      const cReclaim = containers.filter((c) => c.State !== 'running').reduce((n, c) => n + (c.SizeRw ?? 0), 0);
      const vSize = volumes.reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
      const vReclaim = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
      const rows = [
        new DfRow({ type: 'Images', total: images.length, active: images.filter((i) => i.Containers > 0).length, size: humanSize(layersSize), reclaimable: withPercent(layersSize - used, layersSize) }),
        new DfRow({ type: 'Containers', total: containers.length, active: containers.filter((c) => c.State === 'running').length, size: humanSize(cSize), reclaimable: withPercent(cReclaim, cSize) }),
        new DfRow({ type: 'Local Volumes', total: volumes.length, active: volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, size: humanSize(vSize), reclaimable: withPercent(vReclaim, vSize) }),
        new DfRow({ type: 'Build Cache', total: cache.length, active: cache.filter((b) => b.InUse).length, size: humanSize(cacheSize), reclaimable: humanSize(cacheSize - cacheInUse) }),
      ];
      ctx.stdout.write(renderRows({ format: flags.string('format'), defaultFormat: DF_FORMAT, headers: DF_HEADERS, rows }));
      return;
    }
    const out: string[] = [];
    out.push('Images space usage:\n');
    const imgLines = ['REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS'];
    for (const i of images) {
      const tags = i.RepoTags && i.RepoTags.length && i.RepoTags[0] !== '<none>:<none>' ? i.RepoTags : ['<none>:<none>'];
      for (const t of tags) {
        const colon = t.lastIndexOf(':');
        imgLines.push([
          t.slice(0, colon), t.slice(colon + 1), i.Id.replace(/^sha256:/, '').slice(0, 12), timeAgo(i.Created),
          humanSize(i.Size), humanSize(i.SharedSize), humanSize(i.Size - i.SharedSize), String(i.Containers),
        ].join('\t'));
      }
    }
    out.push(tabulate(imgLines.join('\n') + '\n'));
    out.push('\nContainers space usage:\n');
    const cLines = ['CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES'];
    for (const c of containers) {
      cLines.push([
        c.Id.slice(0, 12), c.Image, JSON.stringify(ellipsis(c.Command, 20)), String(c.Mounts?.length ?? 0), humanSize(c.SizeRw ?? 0),
        timeAgo(c.Created), c.Status, (c.Names[0] ?? '').replace(/^\//, ''),
      ].join('\t'));
    }
    out.push(tabulate(cLines.join('\n') + '\n'));
    out.push('\nLocal Volumes space usage:\n');
    const vLines = ['VOLUME NAME\tLINKS\tSIZE'];
    for (const v of volumes) vLines.push(`${v.Name}\t${v.UsageData?.RefCount ?? 0}\t${humanSize(Math.max(0, v.UsageData?.Size ?? 0))}`);
    out.push(tabulate(vLines.join('\n') + '\n'));
    out.push(`\nBuild cache usage: ${humanSize(cacheSize)}\n`);
    const bLines = ['CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED'];
    const since = (iso: string | null | undefined): string => {
      const t = iso ? Date.parse(iso) : NaN;
      return Number.isFinite(t) ? timeAgo(Math.floor(t / 1000)) : '';
    };
    for (const b of cache) {
      bLines.push([
        b.ID.slice(0, 12) + (b.InUse ? '*' : ''), b.Type, humanSizeWithPrecision(b.Size, 3), since(b.CreatedAt), since(b.LastUsedAt),
        String(b.UsageCount), String(b.Shared),
      ].join('\t'));
    }
    out.push(tabulate(bLines.join('\n') + '\n'));
    ctx.stdout.write(out.join('\n'));
  },
};
