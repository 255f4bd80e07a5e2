import { StatusError } from './cli-context.js';
import type { FlagSpec, FlagValues } from './flag-parser.js';
import type { EndpointSettings, PortBinding } from '../engine-api/container-models.js';
import { parsePortSpecs } from './port-spec.js';

/** run/create flags for networking, with docker's names. */
export const NETWORK_FLAGS: FlagSpec[] = [
  { name: 'publish', short: 'p', type: 'stringArray', valueName: 'list', description: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', description: 'Publish all exposed ports to random ports' },
  { name: 'expose', type: 'stringArray', valueName: 'list', description: 'Expose a port or a range of ports' },
  { name: 'network-alias', type: 'stringArray', valueName: 'list', description: 'Add network-scoped alias for the container' },
  { name: 'ip', type: 'string', description: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'dns', type: 'stringArray', valueName: 'list', description: 'Set custom DNS servers' },
  { name: 'dns-search', type: 'stringArray', valueName: 'list', description: 'Set custom DNS search domains' },
  { name: 'dns-option', type: 'stringArray', valueName: 'list', description: 'Set DNS options' },
  { name: 'add-host', type: 'stringArray', valueName: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'mac-address', type: 'string', description: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { name: 'link', type: 'stringArray', valueName: 'list', description: 'Add link to another container' },
];

export interface NetworkCreateOptions {
  networkMode: string;
  portBindings: Record<string, PortBinding[]>;
  exposedPorts: Record<string, Record<string, never>>;
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  extraHosts: string[];
  links: string[] | null;
  endpointsConfig: Record<string, EndpointSettings>;
}

/** The networking part of the create body, as docker's CLI builds it. */
export function networkCreateOptions(flags: FlagValues): NetworkCreateOptions {
  const networkMode = flags.string('network') || 'default';
  const { exposed, bindings } = parsePortSpecs(flags.list('publish'), flags.list('expose'));
  for (const h of flags.list('add-host')) {
    if (!/^[^:=]+[:=].+$/.test(h)) throw new StatusError(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`, 125);
  }
  const mac = flags.string('mac-address');
  if (mac && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new StatusError(`${mac} is not a valid mac address`, 125);
  const ip = flags.string('ip');
  if (ip && !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new StatusError(`invalid argument "${ip}" for "--ip" flag: invalid string being converted to IP address: ${ip}`, 125);
  const ip6 = flags.string('ip6');
  if (ip6 && !/^[0-9a-fA-F:]+$/.test(ip6)) throw new StatusError(`invalid argument "${ip6}" for "--ip6" flag: invalid string being converted to IP address: ${ip6}`, 125);
  const aliases = flags.list('network-alias');
  const links = flags.list('link');
  const ep: EndpointSettings = {};
  if (aliases.length) ep.Aliases = aliases;
  if (ip || ip6) ep.IPAMConfig = { ...(ip ? { IPv4Address: ip } : {}), ...(ip6 ? { IPv6Address: ip6 } : {}) };
  if (mac) ep.MacAddress = mac;
  if (links.length) ep.Links = links;
  const isContainerMode = networkMode.startsWith('container:');
  if (isContainerMode && (Object.keys(bindings).length || flags.bool('publish-all'))) {
    throw new StatusError('conflicting options: port publishing and the container type network mode', 125);
  }
  return {
    networkMode,
    portBindings: bindings,
    exposedPorts: exposed,
    publishAll: flags.bool('publish-all'),
    dns: flags.list('dns'),
    dnsSearch: flags.list('dns-search'),
    dnsOptions: flags.list('dns-option'),
    extraHosts: flags.list('add-host'),
    links: links.length ? links : null,
    endpointsConfig: isContainerMode ? {} : { [networkMode]: ep },
  };
}
