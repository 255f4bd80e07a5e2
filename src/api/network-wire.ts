import type { ContainerRecord } from '../container/index.js';
import { isActive } from '../container/index.js';
import { portsSummary, portsWire, type NetworkRecord, type NetworkService } from '../network/index.js';
import type { ContainerNetWire } from './container-wire.js';

function emptyEndpoint(): Record<string, unknown> {
  return {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, NetworkID: '', EndpointID: '',
    Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}

/** NetworkSettings of inspect and the network parts of a ps summary. */
export function containerNetWire(net: NetworkService, rec: ContainerRecord, opts: { apiAtLeast145: boolean }): ContainerNetWire {
  const running = isActive(rec.state.status);
  const mode = rec.hostConfig.NetworkMode;
  const networks: Record<string, Record<string, unknown>> = {};
  let top = { IPAddress: '', IPPrefixLen: 0, Gateway: '', MacAddress: '', EndpointID: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPv6Gateway: '' };
  if (mode === 'host' || mode === 'none') {
    const n = net.find(mode);
    networks[mode] = { ...emptyEndpoint(), NetworkID: n?.id ?? '', EndpointID: running && n ? net.endpointId(rec.id, n.id) : '' };
  }
  for (const { network: n, row } of net.endpointsView(rec.id)) {
    const up = running && Boolean(row.ip);
    const user = !n.predefined;
    const aliases = user ? [...row.config.aliases, ...(opts.apiAtLeast145 ? [] : [rec.id.slice(0, 12)])] : null;
    const ep: Record<string, unknown> = {
      IPAMConfig: row.config.ipv4Address || row.config.ipv6Address
        ? { ...(row.config.ipv4Address ? { IPv4Address: row.config.ipv4Address } : {}), ...(row.config.ipv6Address ? { IPv6Address: row.config.ipv6Address } : {}) }
        : null,
      Links: row.config.links.length ? row.config.links : null,
      Aliases: aliases && aliases.length ? aliases : user ? [] : null,
      MacAddress: up ? row.mac ?? '' : '',
      DriverOpts: null,
      NetworkID: n.id,
      EndpointID: up ? net.endpointId(rec.id, n.id) : '',
      Gateway: up ? n.gateway : '',
      IPAddress: up ? row.ip : '',
      IPPrefixLen: up ? net.prefixOf(n) : 0,
      IPv6Gateway: up && row.ip6 ? n.gateway6 ?? '' : '',
      GlobalIPv6Address: up && row.ip6 ? row.ip6 : '',
      GlobalIPv6PrefixLen: up && row.ip6 ? net.prefix6Of(n) : 0,
      DNSNames: user ? [rec.name, ...row.config.aliases, rec.id.slice(0, 12)] : null,
    };
    networks[n.name] = ep;
    if (n.name === 'bridge' && up) {
      top = {
        IPAddress: row.ip!, IPPrefixLen: net.prefixOf(n), Gateway: n.gateway, MacAddress: row.mac ?? '', EndpointID: ep['EndpointID'] as string,
        GlobalIPv6Address: ep['GlobalIPv6Address'] as string, GlobalIPv6PrefixLen: ep['GlobalIPv6PrefixLen'] as number, IPv6Gateway: ep['IPv6Gateway'] as string,
      };
    }
  }
  const ports = net.portsOf(rec.id, running);
  const shownPorts = running ? ports : [];
  const settings: Record<string, unknown> = {
    Bridge: '',
    SandboxID: running && net.sandboxKey(rec.id) ? net.endpointId(rec.id, 'sandbox') : '',
    SandboxKey: running ? net.sandboxKey(rec.id) : '',
    Ports: portsWire(shownPorts, rec.config.ExposedPorts),
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: top.EndpointID,
    Gateway: top.Gateway,
    GlobalIPv6Address: top.GlobalIPv6Address,
    GlobalIPv6PrefixLen: top.GlobalIPv6PrefixLen,
    IPAddress: top.IPAddress,
    IPPrefixLen: top.IPPrefixLen,
    IPv6Gateway: top.IPv6Gateway,
    MacAddress: top.MacAddress,
    Networks: networks,
  };
  return { settings, summaryPorts: portsSummary(shownPorts, rec.config.ExposedPorts), summaryNetworks: networks };
}

/** A network as GET /networks and /networks/{id} send it. */
export function networkWire(net: NetworkService, n: NetworkRecord, withContainers: boolean): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  if (withContainers) {
    for (const c of net.containersOn(n.id)) {
      containers[c.containerId] = {
        Name: c.name,
        EndpointID: net.endpointId(c.containerId, n.id),
        MacAddress: c.mac ?? '',
        IPv4Address: c.ip ? `${c.ip}/${c.prefix}` : '',
        IPv6Address: c.ip6 ? `${c.ip6}/${c.prefix6}` : '',
      };
    }
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: n.ipv6,
    IPAM: {
      Driver: 'default',
      Options: n.predefined ? null : {},
      Config: [
        ...(n.subnet ? [{ Subnet: n.subnet, ...(n.ipRange ? { IPRange: n.ipRange } : {}), Gateway: n.gateway }] : []),
        ...(n.subnet6 ? [{ Subnet: n.subnet6, ...(n.ipRange6 ? { IPRange: n.ipRange6 } : {}), Gateway: n.gateway6 ?? '' }] : []),
      ],
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: n.labels,
  };
}
