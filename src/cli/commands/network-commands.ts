import type { CommandSpec, CliContext } from '../cli-context.js';
import { StatusError, describeError } from '../cli-context.js';
import type { TemplateObject } from '../go-template.js';
import { TemplateError } from '../go-template.js';
import { contextJSON, parseTemplate, renderRows, templateText, truncateId } from '../template-format.js';
import { goTimeString } from '../units.js';
import { daemonStatusOf } from '../../client/status-errors.js';
import { encodeFilters } from '../../client/engine-client.js';
import { filterArgs } from './filter-args.js';

interface NetworkWire {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  Labels: Record<string, string> | null;
}

const NETWORK_HEADERS: Record<string, string> = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL',
  Labels: 'LABELS', CreatedAt: 'CREATED AT',
};

/** A `network ls` row (formatter.networkContext). */
class NetworkRow implements TemplateObject {
  readonly goType = '*formatter.networkContext';
  constructor(private readonly n: NetworkWire, private readonly trunc: boolean) {}
  ID(): string { return this.trunc ? truncateId(this.n.Id) : this.n.Id; }
  Name(): string { return this.n.Name; }
  Driver(): string { return this.n.Driver; }
  Scope(): string { return this.n.Scope; }
  IPv6(): string { return String(this.n.EnableIPv6); }
  Internal(): string { return String(this.n.Internal); }
  Labels(): string { return Object.entries(this.n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','); }
  Label(name: string): string { return this.n.Labels?.[name] ?? ''; }
  CreatedAt(): string { return goTimeString(Math.floor(Date.parse(this.n.Created) / 1000)); }
  toJSON(): Record<string, unknown> {
    return contextJSON({
      CreatedAt: this.CreatedAt(), Driver: this.Driver(), ID: this.ID(), IPv6: this.IPv6(), Internal: this.Internal(),
      Labels: this.Labels(), Name: this.Name(), Scope: this.Scope(),
    });
  }
}

function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0) throw new StatusError(`invalid ${what}: ${item}`, 125);
    if (eq < 0) out[item] = ''; else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

const enc = encodeURIComponent;

export const networkCreateCommand: CommandSpec = {
  name: 'create',
  usage: '[OPTIONS] NETWORK',
  description: 'Create a network',
  args: { exact: 1 },
  flags: [
    { name: 'attachable', type: 'bool', description: 'Enable manual container attachment' },
    { name: 'driver', short: 'd', type: 'string', default: 'bridge', description: 'Driver to manage the Network' },
    { name: 'gateway', type: 'stringArray', description: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'internal', type: 'bool', description: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'stringArray', description: 'Allocate container ip from a sub-range' },
    { name: 'ipam-driver', type: 'string', default: 'default', description: 'IP Address Management Driver' },
    { name: 'ipam-opt', type: 'stringArray', description: 'Set IPAM driver specific options' },
    { name: 'ipv6', type: 'bool', description: 'Enable or disable IPv6 networking' },
    { name: 'label', type: 'stringArray', description: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'stringArray', description: 'Set driver specific options' },
    { name: 'subnet', type: 'stringArray', description: 'Subnet in CIDR format that represents a network segment' },
  ],
  async run(ctx, flags) {
    const subnets = flags.list('subnet');
    const ranges = flags.list('ip-range');
    const gateways = flags.list('gateway');
    if (ranges.length > subnets.length || gateways.length > subnets.length) throw new StatusError('every ip-range or gateway must have a corresponding subnet', 125);
    const config = subnets.map((s, i) => ({
      Subnet: s, ...(ranges[i] ? { IPRange: ranges[i] } : {}), ...(gateways[i] ? { Gateway: gateways[i] } : {}),
    }));
    const client = await ctx.client();
    const res = await client.json<{ Id: string; Warning?: string }>('POST', '/networks/create', {
      body: {
        Name: flags.args[0], Driver: flags.string('driver'), Scope: '',
        IPAM: { Driver: flags.string('ipam-driver'), Options: keyValues(flags.list('ipam-opt'), 'ipam option'), Config: config },
        Internal: flags.bool('internal'), Attachable: flags.bool('attachable'), Ingress: false, ConfigOnly: false, ConfigFrom: null,
        EnableIPv6: flags.bool('ipv6'),
        Options: keyValues(flags.list('opt'), 'option'), Labels: keyValues(flags.list('label'), 'label'),
      },
    });
    ctx.out(res.Id);
  },
};

export const networkLsCommand: CommandSpec = {
  name: 'ls',
  usage: '[OPTIONS]',
  description: 'List networks',
  aliases: ['list'],
  args: { max: 0 },
  flags: [
    { name: 'filter', short: 'f', type: 'stringArray', valueName: 'filter', description: "Provide filter values (e.g. 'driver=bridge')" },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-trunc', type: 'bool', description: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display network IDs' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const list = await client.json<NetworkWire[]>('GET', '/networks', { query: { filters: encodeFilters(filterArgs(flags.list('filter'))) } });
    list.sort((a, b) => a.Name.localeCompare(b.Name));
    let format = flags.string('format');
    if (flags.bool('quiet')) format = '{{.ID}}';
    ctx.stdout.write(renderRows({
      format,
      defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
      headers: NETWORK_HEADERS,
      rows: list.map((n) => new NetworkRow(n, !flags.bool('no-trunc'))),
    }));
  },
};

export const networkInspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' },
    { name: 'verbose', short: 'v', type: 'bool', description: 'Verbose output for diagnostics' },
  ],
  async run(ctx, flags) {
    const client = await ctx.client();
    const format = flags.string('format');
    const tmpl = format && format !== 'json' ? parseTemplate(templateText(format, '').text) : undefined;
    const found: unknown[] = [];
    const errors: string[] = [];
    let out = '';
    for (const name of flags.args) {
      try {
        const n = await client.json<unknown>('GET', `/networks/${enc(name)}`);
        if (tmpl) {
          try {
            out += tmpl.execute(n, { missingKey: 'error' }) + '\n';
          } catch (err) {
            if (!(err instanceof TemplateError)) throw err;
            throw new StatusError(`template parsing error: ${err.message}`, 1);
          }
        }
        found.push(n);
      } catch (err) {
        if (err instanceof StatusError) throw err;
        errors.push(describeError(err, daemonStatusOf(err)));
      }
    }
    if (tmpl) ctx.stdout.write(out);
    else ctx.stdout.write(JSON.stringify(found, null, 4) + '\n');
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
  },
};

async function eachName(ctx: CliContext, names: string[], fn: (name: string) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  for (const n of names) {
    try {
      await fn(n);
    } catch (err) {
      errors.push(describeError(err, daemonStatusOf(err)));
    }
  }
  if (errors.length) throw new StatusError(errors.join('\n'), 1);
  void ctx;
}

export const networkRmCommand: CommandSpec = {
  name: 'rm',
  usage: 'NETWORK [NETWORK...]',
  description: 'Remove one or more networks',
  aliases: ['remove'],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Do not error if the network does not exist' }],
  async run(ctx, flags) {
    const client = await ctx.client();
    await eachName(ctx, flags.args, async (name) => {
      try {
        await client.empty('DELETE', `/networks/${enc(name)}`);
      } catch (err) {
        if (flags.bool('force') && daemonStatusOf(err) === 404) return;
        throw err;
      }
      ctx.out(name);
    });
  },
};

export const networkPruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove all unused networks',
  args: { max: 0 },
  flags: [
    { name: 'filter', type: 'stringArray', valueName: 'filter', description: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, flags) {
    if (!flags.bool('force')) {
      ctx.stdout.write('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
      const answer = await readLine(ctx);
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const client = await ctx.client();
    const res = await client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: encodeFilters(filterArgs(flags.list('filter'))) } });
    const deleted = res.NetworksDeleted ?? [];
    if (deleted.length) ctx.out(`Deleted Networks:\n${deleted.join('\n')}\n`);
  },
};

function readLine(ctx: CliContext): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (b: Buffer): void => {
      buf += b.toString();
      if (buf.includes('\n')) { ctx.stdin.off('data', onData); ctx.stdin.pause(); resolve(buf.split('\n')[0]!); }
    };
    ctx.stdin.on('data', onData);
    ctx.stdin.once('end', () => resolve(buf));
  });
}

export const networkConnectCommand: CommandSpec = {
  name: 'connect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  args: { exact: 2 },
  flags: [
    { name: 'alias', type: 'stringArray', description: 'Add network-scoped alias for the container' },
    { name: 'driver-opt', type: 'stringArray', description: 'driver options for the network' },
    { name: 'ip', type: 'string', description: 'IPv4 address (e.g., "172.30.100.104")' },
    { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., "2001:db8::33")' },
    { name: 'link', type: 'stringArray', description: 'Add link to another container' },
    { name: 'link-local-ip', type: 'stringArray', description: 'Add a link-local address for the container' },
  ],
  async run(ctx, flags) {
    const [network, container] = flags.args as [string, string];
    const client = await ctx.client();
    const ip = flags.string('ip');
    const ip6 = flags.string('ip6');
    await client.empty('POST', `/networks/${enc(network)}/connect`, {
      body: {
        Container: container,
        EndpointConfig: {
          IPAMConfig: ip || ip6 ? { ...(ip ? { IPv4Address: ip } : {}), ...(ip6 ? { IPv6Address: ip6 } : {}) } : null,
          Aliases: flags.list('alias').length ? flags.list('alias') : null,
          Links: flags.list('link').length ? flags.list('link') : null,
        },
      },
    });
  },
};

export const networkDisconnectCommand: CommandSpec = {
  name: 'disconnect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Disconnect a container from a network',
  args: { exact: 2 },
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the container to disconnect from a network' }],
  async run(ctx, flags) {
    const [network, container] = flags.args as [string, string];
    const client = await ctx.client();
    await client.empty('POST', `/networks/${enc(network)}/disconnect`, { body: { Container: container, Force: flags.bool('force') } });
  },
};

/** `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`. */
export const portCommand: CommandSpec = {
  name: 'port',
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  args: { min: 1, max: 2 },
  flags: [],
  async run(ctx, flags) {
    const [container, want] = flags.args as [string, string?];
    const client = await ctx.client();
    const c = await client.json<{ NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null } }>('GET', `/containers/${enc(container)}/json`);
    const ports = c.NetworkSettings.Ports ?? {};
    const fmt = (b: { HostIp: string; HostPort: string }): string => `${b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp}:${b.HostPort}`;
    if (want) {
      const [p, proto = 'tcp'] = want.split('/') as [string, string?];
      if (!/^\d+$/.test(p)) throw new StatusError(`Error: invalid port (${p}): strconv.ParseUint: parsing "${p}": invalid syntax`, 1);
      const list = ports[`${p}/${proto}`];
      if (!list) throw new StatusError(`Error: No public port '${p}/${proto}' published for ${container}`, 1);
      for (const b of list) ctx.out(fmt(b));
      return;
    }
    const keys = Object.keys(ports).sort((a, b) => Number(a.split('/')[0]) - Number(b.split('/')[0]) || a.localeCompare(b));
    for (const k of keys) for (const b of ports[k] ?? []) ctx.out(`${k} -> ${fmt(b)}`);
  },
};
