import type { CommandSpec } from '../cli-context.js';
import { demuxStdcopy } from '../../client/stdcopy.js';
import { StatusError } from '../cli-context.js';

const DURATION = /^(?:(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns))+$/;
const UNIT_MS: Record<string, number> = { h: 3600e3, m: 60e3, s: 1e3, ms: 1, us: 1e-3, 'µs': 1e-3, ns: 1e-6 };

/** docker's timetypes.GetTimestamp: durations are relative to now; unix and RFC3339 stamps pass. */
export function timestampParam(value: string, now: number = Date.now()): string {
  if (!value) return '';
  if (DURATION.test(value)) {
    let ms = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    const t = now - ms;
    const secs = Math.floor(t / 1000);
    const nanos = Math.round((t - secs * 1000) * 1e6);
    return `${secs}.${String(nanos).padStart(9, '0')}`;
  }
  if (/^\d+(\.\d{1,9})?$/.test(value)) return value;
  let v = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) v += 'T00:00:00';
  const parsed = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(v) || !v.includes('T') ? v : v);
  if (Number.isNaN(parsed)) throw new StatusError(`invalid value for "since": failed to parse value as time or duration: "${value}"`, 1);
  const secs = Math.floor(parsed / 1000);
  return `${secs}.${String((parsed - secs * 1000) * 1e6).padStart(9, '0')}`;
}

export const logsCommand: CommandSpec = {
  name: 'logs',
  usage: '[OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  args: { exact: 1 },
  flags: [
    { name: 'details', type: 'bool', description: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
    { name: 'since', type: 'string', description: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', default: 'all', description: 'Number of lines to show from the end of the logs' },
    { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
    { name: 'until', type: 'string', description: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const c = await client.inspectContainer(flags.args[0] as string);
    const res = await client.logs(c.Id, {
      stdout: true,
      stderr: true,
      follow: flags.bool('follow'),
      since: timestampParam(flags.string('since')),
      until: timestampParam(flags.string('until')),
      timestamps: flags.bool('timestamps'),
      tail: flags.string('tail'),
      details: flags.bool('details'),
    });
    if (c.Config?.Tty) {
      for await (const chunk of res) ctx.stdout.write(chunk as Buffer);
    } else {
      await demuxStdcopy(res, { stdout: ctx.stdout, stderr: ctx.stderr });
    }
  },
};
