import type { CommandSpec } from '../cli-context.js';
import { StatusError } from '../cli-context.js';
import { jsonLines } from '../../client/json-lines.js';
import { parseTemplate, templateText } from '../template-format.js';
import { timestampParam } from './logs-command.js';

interface WireEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  time: number;
  timeNano: number;
  [k: string]: unknown;
}

/** docker's default line: `<RFC3339Nano local> <type> <action> <id> (k=v, ...)`. */
export function eventLine(e: WireEvent): string {
  const ns = BigInt(e.timeNano);
  const d = new Date(Number(ns / 1_000_000n));
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const tz = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  const time = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${frac}${tz}`;
  const attrs = Object.entries(e.Actor.Attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  return `${time} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}

export const eventsCommand: CommandSpec = {
  name: 'events',
  usage: '[OPTIONS]',
  description: 'Get real time events from the server',
  args: { exact: 0 },
  flags: [
    { name: 'filter', short: 'f', type: 'stringArray', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template." },
    { name: 'since', type: 'string', description: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', description: 'Stream events until this timestamp' },
  ],
  async run(ctx, flags) {
    const filters = new Map<string, string[]>();
    for (const f of flags.list('filter')) {
      const eq = f.indexOf('=');
      if (eq <= 0) throw new StatusError(`bad format of filter (expected name=value)`, 1);
      const k = f.slice(0, eq).toLowerCase();
      filters.set(k, [...(filters.get(k) ?? []), f.slice(eq + 1)]);
    }
    const format = flags.string('format');
    const tmpl = format && format !== 'json' ? parseTemplate(templateText(format, '').text) : undefined;
    const client = await ctx.client();
    const res = await client.events({
      since: timestampParam(flags.string('since') ?? ''),
      until: timestampParam(flags.string('until') ?? ''),
      filters,
    });
    for await (const e of jsonLines<WireEvent>(res)) {
      if (format === 'json') ctx.out(JSON.stringify(e));
      else if (tmpl) ctx.out(tmpl.execute(e, {}));
      else ctx.out(eventLine(e));
    }
  },
};
