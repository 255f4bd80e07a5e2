import type { CommandSpec } from '../cli-context.js';
import type { TemplateObject } from '../go-template.js';
import { renderRows, truncateId } from '../template-format.js';
import { bytesSize, humanSizeWithPrecision } from '../units.js';
import { jsonLines } from '../../client/json-lines.js';

interface CpuStats { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number }
interface StatsSample {
  name?: string;
  id?: string;
  read?: string;
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  pids_stats?: { current?: number };
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
}

/** One row of the stats table, computed as docker's CLI computes it. */
export class StatsRow implements TemplateObject {
  readonly goType = 'formatter.statsContext';
  constructor(private readonly id: string, private readonly name: string, private readonly s: StatsSample | undefined, private readonly trunc: boolean) {}

  private cpu(): number {
    const c = this.s?.cpu_stats, p = this.s?.precpu_stats;
    const cpuDelta = (c?.cpu_usage?.total_usage ?? 0) - (p?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (c?.system_cpu_usage ?? 0) - (p?.system_cpu_usage ?? 0);
    if (cpuDelta <= 0 || sysDelta <= 0) return 0;
    return (cpuDelta / sysDelta) * (c?.online_cpus ?? 1) * 100;
  }

  private mem(): { used: number; limit: number } {
    const m = this.s?.memory_stats;
    const usage = m?.usage ?? 0;
    const st = m?.stats ?? {};
    const inactive = st['total_inactive_file'] ?? st['inactive_file'];
    return { used: inactive !== undefined && inactive < usage ? usage - inactive : usage, limit: m?.limit ?? 0 };
  }

  Container(): string { return this.trunc ? truncateId(this.id) : this.id; }
  ID(): string { return this.trunc ? truncateId(this.id) : this.id; }
  Name(): string { return this.name.replace(/^\//, '') || '--'; }
  CPUPerc(): string { return this.s ? `${this.cpu().toFixed(2)}%` : '--'; }
  MemUsage(): string {
    if (!this.s) return '-- / --';
    const { used, limit } = this.mem();
    return `${bytesSize(used)} / ${bytesSize(limit)}`;
  }
  MemPerc(): string {
    const { used, limit } = this.mem();
    return this.s ? `${(limit ? (used / limit) * 100 : 0).toFixed(2)}%` : '--';
  }
  NetIO(): string {
    if (!this.s) return '--';
    let rx = 0, tx = 0;
    for (const n of Object.values(this.s.networks ?? {})) { rx += n.rx_bytes; tx += n.tx_bytes; }
    return `${humanSizeWithPrecision(rx, 3)} / ${humanSizeWithPrecision(tx, 3)}`;
  }
  BlockIO(): string {
    if (!this.s) return '--';
    let r = 0, w = 0;
    for (const b of this.s.blkio_stats?.io_service_bytes_recursive ?? []) {
      if (b.op.toLowerCase() === 'read') r += b.value;
      else if (b.op.toLowerCase() === 'write') w += b.value;
    }
    return `${humanSizeWithPrecision(r, 3)} / ${humanSizeWithPrecision(w, 3)}`;
  }
  PIDs(): string { return this.s ? String(this.s.pids_stats?.current ?? 0) : '--'; }
}

const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const HEADERS = {
  Container: 'CONTAINER', ID: 'CONTAINER ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

export const statsCommand: CommandSpec = {
  name: 'stats',
  usage: '[OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-stream', type: 'bool', description: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', description: 'Do not truncate output' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const names = flags.args as string[];
    const targets: Array<{ id: string; name: string }> = [];
    if (names.length) {
      for (const n of names) {
        const c = await client.inspectContainer(n);
        targets.push({ id: c.Id, name: c.Name ?? n });
      }
    } else {
      for (const c of await client.listContainers({ all: flags.bool('all') })) targets.push({ id: c.Id, name: c.Names?.[0] ?? '' });
    }
    const format = flags.string('format');
    const trunc = !flags.bool('no-trunc');
    const latest = new Map<string, StatsSample>();
    const render = (): string => renderRows({
      format, defaultFormat: DEFAULT_FORMAT, headers: HEADERS,
      rows: targets.map((t) => new StatsRow(t.id, latest.get(t.id)?.name ?? t.name, latest.get(t.id), trunc)),
    });
    if (flags.bool('no-stream')) {
      await Promise.all(targets.map(async (t) => {
        const res = await client.request('GET', `/containers/${encodeURIComponent(t.id)}/stats`, { query: { stream: '0' } });
        for await (const s of jsonLines<StatsSample>(res)) latest.set(t.id, s);
      }));
      ctx.stdout.write(render());
      return 0;
    }
    for (const t of targets) {
      void (async () => {
        const res = await client.request('GET', `/containers/${encodeURIComponent(t.id)}/stats`, { query: { stream: '1' } });
        for await (const s of jsonLines<StatsSample>(res)) latest.set(t.id, s);
      })().catch(() => undefined);
    }
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      ctx.stdout.write('\x1b[2J\x1b[H' + render());
    }
  },
};
