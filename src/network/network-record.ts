/** One network as berthd keeps it (a JSON document in the `networks` table). */
export interface NetworkRecord {
  id: string;
  name: string;
  /** `bridge` for the default and user networks; `host` and `null` for the predefined ones. */
  driver: 'bridge' | 'host' | 'null';
  created: string;
  /** The bridge device netavark creates (`berth0`, `br-<id12>`); empty for host and none. */
  bridge: string;
  subnet: string;
  gateway: string;
  ipRange: string;
  internal: boolean;
  attachable: boolean;
  ipv6: boolean;
  /** The IPv6 pool (`--ipv6`); absent or '' when the network has none. Used only when `ipv6`. */
  subnet6?: string;
  gateway6?: string;
  ipRange6?: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** bridge, host and none: made by berthd, never removed. */
  predefined: boolean;
  /** Names resolve through aardvark-dns (user-defined bridge networks). */
  dns: boolean;
}

/** What a container asked for on one network (create's EndpointsConfig, connect's EndpointConfig). */
export interface EndpointConfig {
  aliases: string[];
  ipv4Address: string;
  /** `--ip6` (IPAMConfig.IPv6Address); absent in records made before IPv6 networks. */
  ipv6Address?: string;
  macAddress: string;
  links: string[];
}

/** A container's membership of one network; `ip` is set while its sandbox is up (the lease). */
export interface EndpointRow {
  containerId: string;
  networkId: string;
  config: EndpointConfig;
  ip: string | null;
  /** The IPv6 lease while the sandbox is up, on IPv6 networks. */
  ip6: string | null;
  mac: string | null;
  iface: string | null;
  seq: number;
}

/** The container fields networking reads (kept narrow: the container model lives above). */
export interface NetContainer {
  id: string;
  name: string;
  config: {
    Hostname: string;
    Domainname: string;
    ExposedPorts?: Record<string, object>;
    MacAddress?: string;
  };
  hostConfig: {
    NetworkMode: string;
    PortBindings?: unknown;
    PublishAllPorts?: unknown;
    Dns?: unknown;
    DnsSearch?: unknown;
    DnsOptions?: unknown;
    ExtraHosts?: unknown;
    Links?: unknown;
  };
}

/** How the network service looks up other containers (links, `container:` mode). */
export interface ContainerLookup {
  find(idOrName: string): { id: string; name: string; pid: number; running: boolean; networkMode: string } | undefined;
  /** A running container and its /etc files (for containers already running when berthd started). */
  runFiles?(id: string): { container: NetContainer; files: ContainerNetFilePaths } | undefined;
}

/** Where a container's /etc/hostname, /etc/hosts and /etc/resolv.conf are kept. */
export interface ContainerNetFilePaths {
  hostname: string;
  hosts: string;
  resolvConf: string;
}
