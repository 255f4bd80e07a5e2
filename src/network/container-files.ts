import { readFile, writeFile } from 'node:fs/promises';

const HOSTS_BASE = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
`;

export interface ContainerNetFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

export interface NetFileOptions {
  hostname: string;
  domainname: string;
  hostNetwork: boolean;
  /** The container's own addresses, each written with its host name. */
  address?: string;
  addresses?: string[];
  /** `--add-host` entries, already resolved (host-gateway replaced). */
  extraHosts?: Array<{ host: string; ip: string }>;
  /** `--link` entries: address and the names it answers to. */
  links?: Array<{ ip: string; names: string[] }>;
  /** `--dns`, `--dns-search`, `--dns-option`. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** Resolvers inside berth's networks (aardvark-dns on the gateways); they come first. */
  networkResolvers?: string[];
}

/**
 * Writes /etc/hostname, /etc/hosts and /etc/resolv.conf for a container into its directory.
 * They are made anew at every start, so a plain write is enough (no fsync on the start path).
 */
export async function writeContainerNetFiles(paths: ContainerNetFiles, opts: NetFileOptions): Promise<void> {
  await Promise.all([
    writeFile(paths.hostname, `${opts.hostname}\n`),
    containerHosts(opts).then((h) => writeFile(paths.hosts, h)),
    containerResolvConf(opts).then((r) => writeFile(paths.resolvConf, r)),
  ]);
}

export async function containerHosts(opts: NetFileOptions): Promise<string> {
  let hosts: string;
  if (opts.hostNetwork) {
    hosts = await readFile('/etc/hosts', 'utf8').catch(() => HOSTS_BASE);
    if (hosts && !hosts.endsWith('\n')) hosts += '\n';
  } else {
    hosts = HOSTS_BASE;
  }
  for (const e of opts.extraHosts ?? []) hosts += `${e.ip}\t${e.host}\n`;
  for (const l of opts.links ?? []) hosts += `${l.ip}\t${l.names.join(' ')}\n`;
  if (!opts.hostNetwork) {
    const fqdn = opts.domainname ? `${opts.hostname}.${opts.domainname} ${opts.hostname}` : opts.hostname;
    const addrs = [...(opts.address ? [opts.address] : []), ...(opts.addresses ?? [])];
    for (const a of new Set(addrs)) hosts += `${a}\t${fqdn}\n`;
  }
  return hosts;
}

/**
 * The container's resolv.conf: the host's, minus loopback resolvers a container cannot reach
 * (Google's as fallback, as Docker), with `--dns*` overrides; on networks with name resolution the
 * network's resolver comes first (it forwards other names to the upstream servers).
 */
export async function containerResolvConf(opts: Partial<NetFileOptions> & { hostNetwork: boolean }): Promise<string> {
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const noCustom = !opts.dns?.length && !opts.dnsSearch?.length && !opts.dnsOptions?.length && !opts.networkResolvers?.length;
  if (opts.hostNetwork && noCustom) return host;
  const lines = host.split('\n');
  const hostServers = lines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => Boolean(s));
  const hostSearch = lines.map((l) => /^\s*(?:search|domain)\s+(.*)$/.exec(l)?.[1]).filter((s): s is string => Boolean(s)).flatMap((s) => s.trim().split(/\s+/));
  const hostOptions = lines.map((l) => /^\s*options\s+(.*)$/.exec(l)?.[1]).filter((s): s is string => Boolean(s)).flatMap((s) => s.trim().split(/\s+/));
  let servers: string[];
  if (opts.networkResolvers?.length) {
    servers = opts.networkResolvers;
  } else if (opts.dns?.length) {
    servers = opts.dns;
  } else {
    servers = opts.hostNetwork ? hostServers : hostServers.filter((s) => !/^127\./.test(s) && s !== '::1');
    if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
  }
  const search = opts.dnsSearch?.length ? opts.dnsSearch.filter((s) => s !== '.') : hostSearch;
  const options = opts.dnsOptions?.length ? opts.dnsOptions : hostOptions;
  let out = '';
  if (search.length) out += `search ${search.join(' ')}\n`;
  for (const s of servers) out += `nameserver ${s}\n`;
  if (options.length) out += `options ${options.join(' ')}\n`;
  return out;
}
