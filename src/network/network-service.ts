import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import type { Db } from '../store/metadata-db.js';
import { KeyedMutex } from '../store/keyed-mutex.js';
import {
  ConflictError, ForbiddenError, InvalidParameterError, NotFoundError, SystemError, errorMessage,
} from '../common/errors.js';
import { randomId } from '../common/ids.js';
import type { Logger } from '../common/log.js';
import type { EventBus } from '../events/event-bus.js';
import { runCommand } from '../sys/run-command.js';
import { BridgeIsolation, dropEmptyPortChain } from './bridge-isolation.js';
import { dropLeftoverNatChain } from './nat-leftovers.js';
import { writeContainerNetFiles, type ContainerNetFiles, type NetFileOptions } from './container-files.js';
import {
  contains, formatCidr, formatIpv4, macForIpv4, overlaps, parseCidr, parseIpv4, sizeOf, type Ipv4Subnet,
} from './ipv4.js';
import {
  contains6, formatCidr6, formatIpv6, lastOf6, overlaps6, parseCidr6, parseIpv6, randomUla64, type Ipv6Subnet,
} from './ipv6.js';
import { NetavarkDriver, type NetavarkConfig } from './netavark-driver.js';
import { NetavarkGate } from './netavark-gate.js';
import { plumbNamespace } from './veth-plumbing.js';
import { createNetns, deleteNetns, netnsExists, netnsName, netnsPath } from './netns.js';
import type {
  ContainerLookup, EndpointConfig, EndpointRow, NetContainer, NetworkRecord,
} from './network-record.js';
import { portRequests, type PortBindingMap, type PortMapping, type PortRequest } from './port-bindings.js';
import { UserlandProxies } from './userland-proxy.js';

export interface AddressPool {
  base: string;
  size: number;
}

export interface NetworkServiceOptions {
  db: Db;
  events: EventBus;
  logger: Logger;
  /** netavark's config dir (aardvark-dns state) goes under it. */
  execRoot: string;
  netavarkPath: string;
  aardvarkPath: string;
  /** The default network's bridge device. */
  bridgeName: string;
  /** The default bridge's gateway address and prefix (`--bip`), or undefined to choose a free /16. */
  bip?: string;
  /** `--ipv6`: the default bridge's IPv6 subnet (`--fixed-cidr-v6`), '' for a unique local /64. */
  bridgeIpv6?: string;
  /** Where user networks without --subnet get theirs. */
  addressPools: AddressPool[];
  iptables: boolean;
  /** `--icc`: containers on the default bridge reach each other (default true). */
  icc?: boolean;
  /** The daemon's `dns`, `dns-search`, `dns-opts`: used by containers that set none of their own. */
  dnsDefaults?: { dns: string[]; dnsSearch: string[]; dnsOptions: string[] };
}

export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string }> | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Inspect's view of one container on one network. */
export interface EndpointView {
  network: NetworkRecord;
  row: EndpointRow;
}

/** Start result: how the runtime joins the namespace, and a promise that the interfaces are up. */
export interface SandboxStart {
  network: { mode: 'new' } | { mode: 'host' } | { mode: 'path'; path: string };
  ready: Promise<void>;
}

interface SandboxRow {
  containerId: string;
  netns: string;
  ports: PortMapping[];
  active: boolean;
}

const DEFAULT_POOLS: AddressPool[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];

export function parseAddressPool(s: string): AddressPool {
  const kv = Object.fromEntries(s.split(',').map((p) => p.split('=', 2) as [string, string]));
  if (!kv['base'] || !kv['size']) throw new InvalidParameterError(`invalid default address pool: ${s}`);
  const size = Number(kv['size']);
  const base = parseCidr(kv['base']);
  if (!(size >= base.prefix && size <= 30)) throw new InvalidParameterError(`invalid default address pool: ${s}`);
  return { base: kv['base'], size };
}

/**
 * The network model (SQLite), IPAM, published ports and the netavark driver. One object per
 * daemon; containers call start/stop around their runs.
 */
export class NetworkService {
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly mutex = new KeyedMutex();
  private readonly netavark: NetavarkDriver;
  private readonly isolation: BridgeIsolation;
  /** Host ports in use: `proto:port` -> holders. */
  private readonly reserved = new Map<string, Array<{ hostIp: string; containerId: string }>>();
  /** Teardowns in flight, so a new run of the same ports or addresses waits for them. */
  private readonly stopping = new Map<string, Promise<void>>();
  /** The /etc files of running containers, rewritten on connect and disconnect. */
  private readonly runFiles = new Map<string, { files: ContainerNetFiles; opts: NetFileOptions; container: NetContainer }>();
  /** netavark setups in flight (a teardown waits for them). */
  private readonly settingUp = new Map<string, Promise<void>>();
  private lookup: ContainerLookup = { find: () => undefined };
  private readonly gate = new NetavarkGate();
  private warm = false;
  /** iptables=false: published ports go through userland proxies, not firewall rules. */
  private readonly proxies: UserlandProxies | undefined;

  constructor(private readonly o: NetworkServiceOptions) {
    this.netavark = new NetavarkDriver({
      binary: o.netavarkPath, aardvarkBinary: o.aardvarkPath, configDir: `${o.execRoot}/netavark`,
      ...(o.iptables ? {} : { noFirewallDir: `${o.execRoot}/no-firewall` }),
    });
    this.isolation = new BridgeIsolation(o.iptables);
    if (!o.iptables) this.proxies = new UserlandProxies({ dir: `${o.execRoot}/userland-proxy` });
  }

  /** The published ports netavark forwards (none when the userland proxy does). */
  private firewallPorts(ports: PortMapping[]): PortMapping[] {
    return this.proxies ? [] : ports;
  }

  setContainerLookup(l: ContainerLookup): void { this.lookup = l; }

  // ---- start-up ------------------------------------------------------------------------------

  /** Loads networks, makes the predefined ones, and re-reserves the ports of running sandboxes. */
  async init(): Promise<void> {
    for (const r of this.o.db.prepare('SELECT record FROM networks').all() as Array<{ record: string }>) {
      const rec = JSON.parse(r.record) as NetworkRecord;
      this.networks.set(rec.id, rec);
    }
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const) {
      if (!this.findByName(name)) this.insert(this.blankRecord(name, driver, true));
    }
    await this.ensureDefaultBridge();
    for (const s of this.sandboxes()) if (s.active) this.reservePorts(s.containerId, s.ports);
    if (this.proxies) await this.restoreProxies();
    for (const n of this.networks.values()) {
      if (n.predefined && n.bridge && (await netnsExists(this.anchorNetns(n)))) {
        this.anchors.set(n.id, Promise.resolve());
        this.anchorUp.add(n.id);
      }
    }
  }

  /** Start-up with iptables=false: a running sandbox whose proxy is gone gets it back. */
  private async restoreProxies(): Promise<void> {
    for (const s of this.sandboxes()) {
      if (!s.active || !s.ports.length || (await this.proxies!.running(s.containerId))) continue;
      const ip = this.endpointsOf(s.containerId).find((e) => e.ip)?.ip;
      if (!ip) continue;
      await this.proxies!.start(s.containerId, UserlandProxies.mappings(s.ports, ip))
        .catch((err) => this.o.logger.warn('restarting a userland proxy failed', { id: s.containerId, err: errorMessage(err) }));
    }
  }

  /**
   * Once berthd serves: isolation rules for every bridge network, and the default bridge comes up
   * (in the background), as docker0 does. Nothing is changed on the host before this, so a daemon
   * that fails to start leaves nothing behind.
   */
  async warmUp(): Promise<void> {
    this.warm = true;
    await Promise.all([...this.networks.values()].filter((n) => n.bridge).map((n) => this.isolation.add(n.bridge, iccOf(n))));
    const bridge = this.findByName('bridge');
    if (bridge) void this.ensureAnchor(bridge);
  }

  /** Removes berthd's isolation rules (containers keep their networks). */
  async shutdown(): Promise<void> {
    await Promise.allSettled([...this.stopping.values()]);
    await Promise.allSettled([...this.settingUp.values()]);
    for (const id of [...this.anchors.keys()]) await this.dropAnchor(id);
    if (this.o.iptables) {
      for (const n of this.networks.values()) {
        if (n.bridge && n.subnet && !n.predefined) await dropLeftoverNatChain(n.id, n.subnet, n.bridge);
      }
    }
    if (!this.warm) return;
    await Promise.all([...this.networks.values()].filter((n) => n.bridge).map((n) => this.isolation.remove(n.bridge).catch(() => undefined)));
  }

  private blankRecord(name: string, driver: NetworkRecord['driver'], predefined: boolean): NetworkRecord {
    return {
      id: randomId(), name, driver, created: new Date().toISOString(), bridge: '', subnet: '', gateway: '', ipRange: '',
      internal: false, attachable: false, ipv6: false, labels: {}, options: {}, predefined, dns: false,
    };
  }

  private async ensureDefaultBridge(): Promise<void> {
    const cur = this.findByName('bridge');
    let subnet: string;
    let gateway: string;
    if (this.o.bip) {
      const c = parseCidr(this.o.bip);
      subnet = formatCidr(c);
      gateway = formatIpv4(c.addr);
      if (c.addr === c.base) throw new InvalidParameterError(`invalid bip: ${this.o.bip}: it must be an address with its prefix, as 172.17.0.1/16`);
    } else if (cur && cur.subnet) {
      subnet = cur.subnet;
      gateway = cur.gateway;
    } else {
      const used = await this.usedSubnets();
      const pick = DEFAULT_POOLS.map((p) => parseCidr(p.base)).filter((p) => p.prefix === 16).find((p) => !used.some((u) => overlaps(u, p)));
      if (!pick) throw new SystemError('could not find a free address range for the default bridge network; set --bip');
      subnet = formatCidr(pick);
      gateway = formatIpv4(pick.base + 1);
    }
    const v6 = this.defaultBridgeIpv6(cur);
    const options = {
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.enable_icc': String(this.o.icc !== false),
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
      'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      'com.docker.network.bridge.name': this.o.bridgeName,
      'com.docker.network.driver.mtu': '1500',
    };
    if (cur) {
      if (cur.bridge !== this.o.bridgeName || cur.subnet !== subnet || cur.ipv6 !== v6.ipv6 || (cur.subnet6 ?? '') !== v6.subnet6) {
        if (this.endpointsOn(cur.id).some((e) => e.ip)) {
          this.o.logger.warn('default bridge settings changed while containers use it; keeping the old ones until they stop');
          return;
        }
        await this.isolation.remove(cur.bridge).catch(() => undefined);
        Object.assign(cur, { bridge: this.o.bridgeName, subnet, gateway, options, ...v6 });
        this.save(cur);
      } else if (cur.options['com.docker.network.bridge.enable_icc'] !== options['com.docker.network.bridge.enable_icc']) {
        // --icc changed: only the option (and the rule warmUp applies from it) follows.
        cur.options = { ...cur.options, 'com.docker.network.bridge.enable_icc': options['com.docker.network.bridge.enable_icc'] };
        this.save(cur);
      }
      return;
    }
    const rec = this.blankRecord('bridge', 'bridge', true);
    Object.assign(rec, { bridge: this.o.bridgeName, subnet, gateway, options, ...v6 });
    this.insert(rec);
  }

  /** `--ipv6 [--fixed-cidr-v6]`: the default bridge's IPv6 pool (a chosen ULA /64 is kept). */
  private defaultBridgeIpv6(cur: NetworkRecord | undefined): { ipv6: boolean; subnet6: string; gateway6: string } {
    const want = this.o.bridgeIpv6;
    if (want === undefined) return { ipv6: false, subnet6: '', gateway6: '' };
    let s: Ipv6Subnet;
    if (want) {
      s = parseCidr6(want);
      if (s.prefix > 126) throw new InvalidParameterError(`invalid fixed-cidr-v6: ${want}: too small`);
    } else if (cur?.ipv6 && cur.subnet6) {
      return { ipv6: true, subnet6: cur.subnet6, gateway6: cur.gateway6 ?? '' };
    } else {
      s = randomUla64();
    }
    return { ipv6: true, subnet6: formatCidr6(s), gateway6: formatIpv6(s.base + 1n) };
  }

  /** Subnets routed on the host and those of berth's own networks. */
  private async usedSubnets(): Promise<Ipv4Subnet[]> {
    const out: Ipv4Subnet[] = [];
    try {
      const { stdout } = await runCommand(['ip', '-4', 'route', 'show', 'table', 'all'], { timeoutMs: 10_000 });
      for (const line of stdout.split('\n')) {
        const dst = line.split(' ')[0] ?? '';
        if (/^(local|broadcast|unreachable|blackhole|prohibit)$/.test(dst)) {
          const d = line.split(' ')[1] ?? '';
          if (/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(d) && !d.startsWith('127.')) out.push(parseCidr(d.includes('/') ? d : `${d}/32`));
          continue;
        }
        if (/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dst)) out.push(parseCidr(dst.includes('/') ? dst : `${dst}/32`));
      }
    } catch (err) {
      this.o.logger.warn('could not read the routing table', { err: errorMessage(err) });
    }
    for (const n of this.networks.values()) if (n.subnet) out.push(parseCidr(n.subnet));
    return out;
  }

  // ---- persistence ---------------------------------------------------------------------------

  private insert(rec: NetworkRecord): void {
    this.o.db.prepare('INSERT INTO networks (id, name, record, created_at) VALUES (?, ?, ?, ?)').run(rec.id, rec.name, JSON.stringify(rec), rec.created);
    this.networks.set(rec.id, rec);
  }

  private save(rec: NetworkRecord): void {
    this.o.db.prepare('UPDATE networks SET record = ?, name = ? WHERE id = ?').run(JSON.stringify(rec), rec.name, rec.id);
  }

  private endpointRows(where: string, ...args: unknown[]): EndpointRow[] {
    const ip6 = '(SELECT v.ip6 FROM network_endpoint_ipv6 v WHERE v.container_id = network_endpoints.container_id AND v.network_id = network_endpoints.network_id) AS ip6';
    const rows = this.o.db.prepare(`SELECT rowid AS seq, container_id, network_id, config, ip, ${ip6}, mac, iface FROM network_endpoints WHERE ${where} ORDER BY rowid`).all(...args) as Array<{
      seq: number; container_id: string; network_id: string; config: string; ip: string | null; ip6: string | null; mac: string | null; iface: string | null;
    }>;
    return rows.map((r) => ({
      seq: r.seq, containerId: r.container_id, networkId: r.network_id, config: JSON.parse(r.config) as EndpointConfig, ip: r.ip, ip6: r.ip6, mac: r.mac, iface: r.iface,
    }));
  }

  private endpointsOf(containerId: string): EndpointRow[] {
    return this.endpointRows('container_id = ?', containerId).filter((e) => this.networks.has(e.networkId));
  }

  private endpointsOn(networkId: string): EndpointRow[] {
    return this.endpointRows('network_id = ?', networkId);
  }

  private sandbox(containerId: string): SandboxRow | undefined {
    const r = this.o.db.prepare('SELECT container_id, netns, ports, active FROM network_sandboxes WHERE container_id = ?').get(containerId) as
      { container_id: string; netns: string; ports: string; active: number } | undefined;
    return r ? { containerId: r.container_id, netns: r.netns, ports: JSON.parse(r.ports) as PortMapping[], active: r.active === 1 } : undefined;
  }

  private sandboxes(): SandboxRow[] {
    const rows = this.o.db.prepare('SELECT container_id, netns, ports, active FROM network_sandboxes').all() as Array<{ container_id: string; netns: string; ports: string; active: number }>;
    return rows.map((r) => ({ containerId: r.container_id, netns: r.netns, ports: JSON.parse(r.ports) as PortMapping[], active: r.active === 1 }));
  }

  // ---- lookups -------------------------------------------------------------------------------

  private findByName(name: string): NetworkRecord | undefined {
    for (const n of this.networks.values()) if (n.name === name) return n;
    return undefined;
  }

  /** By full id, full name, then unique id prefix (as Docker). */
  find(idOrName: string): NetworkRecord | undefined {
    const byId = this.networks.get(idOrName);
    if (byId) return byId;
    const byName = this.findByName(idOrName);
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(idOrName)) {
      const m = [...this.networks.values()].filter((n) => n.id.startsWith(idOrName));
      if (m.length === 1) return m[0];
      if (m.length > 1) throw new InvalidParameterError(`network ${idOrName} is ambiguous (${m.length} matches found based on ID prefix)`);
    }
    return undefined;
  }

  get(idOrName: string): NetworkRecord {
    const n = this.find(idOrName);
    if (!n) throw new NotFoundError(`network ${idOrName} not found`);
    return n;
  }

  all(): NetworkRecord[] {
    return [...this.networks.values()].sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.name.localeCompare(b.name)));
  }

  list(filters: Map<string, string[]>): NetworkRecord[] {
    for (const k of filters.keys()) {
      if (!['name', 'id', 'driver', 'label', 'type', 'scope', 'dangling'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    }
    let list = this.all();
    const f = (k: string): string[] | undefined => { const v = filters.get(k); return v && v.length ? v : undefined; };
    const names = f('name');
    if (names) list = list.filter((n) => names.some((x) => n.name.includes(x)));
    const ids = f('id');
    if (ids) list = list.filter((n) => ids.some((x) => n.id.includes(x)));
    const drivers = f('driver');
    if (drivers) list = list.filter((n) => drivers.includes(n.driver));
    const labels = f('label');
    if (labels) {
      list = list.filter((n) => labels.every((l) => {
        const eq = l.indexOf('=');
        return eq < 0 ? l in n.labels : n.labels[l.slice(0, eq)] === l.slice(eq + 1);
      }));
    }
    const types = f('type');
    if (types) {
      for (const t of types) if (t !== 'custom' && t !== 'builtin') throw new InvalidParameterError(`invalid filter: 'type'='${t}'`);
      list = list.filter((n) => types.includes(n.predefined ? 'builtin' : 'custom'));
    }
    const scopes = f('scope');
    if (scopes) list = list.filter((n) => scopes.includes('local'));
    const dangling = f('dangling');
    if (dangling) {
      const want = dangling[0] === 'true' || dangling[0] === '1';
      list = list.filter((n) => !n.predefined && (this.endpointsOn(n.id).length === 0) === want);
    }
    return list;
  }

  /** Containers on a network, with their leases (inspect's Containers). */
  containersOn(networkId: string): Array<{ containerId: string; name: string; ip: string | null; ip6: string | null; mac: string | null; prefix: number; prefix6: number }> {
    const n = this.networks.get(networkId);
    const prefix = n?.subnet ? parseCidr(n.subnet).prefix : 0;
    const prefix6 = n ? this.prefix6Of(n) : 0;
    return this.endpointsOn(networkId).filter((e) => e.ip).map((e) => ({
      containerId: e.containerId, name: this.lookup.find(e.containerId)?.name ?? '', ip: e.ip, ip6: e.ip6, mac: e.mac, prefix, prefix6,
    }));
  }

  // ---- network create / remove / prune -------------------------------------------------------

  async create(req: NetworkCreateRequest): Promise<{ id: string; warning: string }> {
    const name = req.Name;
    if (!name || typeof name !== 'string') throw new InvalidParameterError('network name must not be empty');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new InvalidParameterError(`invalid network name "${name}": it must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
    const driver = req.Driver || 'bridge';
    if (['host', 'none', 'bridge', 'default'].includes(name) && this.findByName(name)?.predefined) {
      throw new ForbiddenError(`${name} is a pre-defined network and cannot be created`);
    }
    if (driver !== 'bridge') {
      if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
      throw new NotFoundError(`plugin "${driver}" not found`);
    }
    return this.mutex.run('networks', async () => {
      if (this.findByName(name)) throw new ConflictError(`network with name ${name} already exists`);
      const all = req.IPAM?.Config ?? [];
      const isV6 = (c: { Subnet?: string; Gateway?: string; IPRange?: string }): boolean => (c.Subnet || c.Gateway || c.IPRange || '').includes(':');
      const configs = all.filter((c) => !isV6(c));
      const configs6 = all.filter(isV6);
      if (configs.length > 1) throw new InvalidParameterError('only one IPv4 subnet per network is supported');
      if (configs6.length > 1) throw new InvalidParameterError('only one IPv6 subnet per network is supported');
      const v6 = this.ipv6Pool(configs6[0], Boolean(req.EnableIPv6));
      const cfg = configs[0] ?? {};
      let subnet: Ipv4Subnet;
      const used = await this.usedSubnets();
      if (cfg.Subnet) {
        subnet = parseCidr(cfg.Subnet);
        if (subnet.prefix > 30) throw new InvalidParameterError(`invalid subnet ${cfg.Subnet}: too small`);
        const clash = [...this.networks.values()].find((n) => n.subnet && overlaps(parseCidr(n.subnet), subnet));
        if (clash) throw new ForbiddenError(`Pool overlaps with other one on this address space`);
      } else {
        if (cfg.IPRange || cfg.Gateway) throw new InvalidParameterError('invalid pool request: an ip-range or gateway needs a subnet');
        const pick = this.pickSubnet(used);
        if (!pick) throw new ForbiddenError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
        subnet = pick;
      }
      let gateway = subnet.base + 1;
      if (cfg.Gateway) {
        const g = parseIpv4(cfg.Gateway);
        if (g === undefined || !contains(subnet, g)) throw new InvalidParameterError(`Invalid gateway address ${cfg.Gateway}: it is not in subnet ${formatCidr(subnet)}`);
        gateway = g;
      }
      let ipRange = '';
      if (cfg.IPRange) {
        const r = parseCidr(cfg.IPRange);
        if (!overlaps(r, subnet) || r.prefix < subnet.prefix) throw new InvalidParameterError(`Invalid ip-range ${cfg.IPRange}: it is not in subnet ${formatCidr(subnet)}`);
        ipRange = formatCidr(r);
      }
      const id = randomId();
      const options = { ...(req.Options ?? {}) };
      const bridge = options['com.docker.network.bridge.name'] || `br-${id.slice(0, 12)}`;
      if (bridge.length > 15) throw new InvalidParameterError(`bridge name ${bridge} is longer than 15 characters`);
      if ([...this.networks.values()].some((n) => n.bridge === bridge)) throw new ConflictError(`bridge name ${bridge} is already in use by another network`);
      const rec: NetworkRecord = {
        ...this.blankRecord(name, 'bridge', false),
        id, bridge, subnet: formatCidr(subnet), gateway: formatIpv4(gateway), ipRange,
        internal: Boolean(req.Internal), attachable: Boolean(req.Attachable),
        labels: { ...(req.Labels ?? {}) }, options, dns: true,
        ipv6: Boolean(req.EnableIPv6), ...v6,
      };
      await this.isolation.add(bridge, iccOf(rec));
      this.insert(rec);
      this.o.events.publish('network', 'create', id, { name, type: 'bridge' });
      return { id, warning: '' };
    });
  }

  /**
   * The IPv6 pool of a new network: the given subnet (gateway, range), or with `--ipv6` and none
   * given a random unique local /64, as Docker. Without `--ipv6` a given subnet is kept (inspect
   * shows it) but no container gets an address from it, as Docker.
   */
  private ipv6Pool(cfg: { Subnet?: string; IPRange?: string; Gateway?: string } | undefined, enabled: boolean): { subnet6?: string; gateway6?: string; ipRange6?: string } {
    const others = [...this.networks.values()].filter((n) => n.subnet6).map((n) => parseCidr6(n.subnet6!));
    let subnet: Ipv6Subnet;
    if (cfg?.Subnet) {
      subnet = parseCidr6(cfg.Subnet, { strict: true });
      if (subnet.prefix > 126) throw new InvalidParameterError(`invalid subnet ${cfg.Subnet}: too small`);
      if (others.some((o) => overlaps6(o, subnet))) throw new ForbiddenError('Pool overlaps with other one on this address space');
    } else if (cfg && (cfg.IPRange || cfg.Gateway)) {
      throw new InvalidParameterError('invalid pool request: an ip-range or gateway needs a subnet');
    } else if (enabled) {
      let pick = randomUla64();
      for (let i = 0; i < 10 && others.some((o) => overlaps6(o, pick)); i++) pick = randomUla64();
      subnet = pick;
    } else {
      return {};
    }
    let gateway = subnet.base + 1n;
    if (cfg?.Gateway) {
      const g = parseIpv6(cfg.Gateway);
      if (g === undefined || !contains6(subnet, g)) throw new InvalidParameterError(`Invalid gateway address ${cfg.Gateway}: it is not in subnet ${formatCidr6(subnet)}`);
      gateway = g;
    }
    let ipRange6 = '';
    if (cfg?.IPRange) {
      const r = parseCidr6(cfg.IPRange);
      if (r.prefix < subnet.prefix || !contains6(subnet, r.base)) throw new InvalidParameterError(`Invalid ip-range ${cfg.IPRange}: it is not in subnet ${formatCidr6(subnet)}`);
      ipRange6 = formatCidr6(r);
    }
    return { subnet6: formatCidr6(subnet), gateway6: formatIpv6(gateway), ipRange6 };
  }

  /** Whether containers on the network get IPv6 addresses. */
  private hasIpv6(n: NetworkRecord): boolean {
    return n.ipv6 && Boolean(n.subnet6);
  }

  private pickSubnet(used: Ipv4Subnet[]): Ipv4Subnet | undefined {
    const pools = this.o.addressPools.length ? this.o.addressPools : DEFAULT_POOLS;
    for (const p of pools) {
      const base = parseCidr(p.base);
      const step = 2 ** (32 - p.size);
      for (let a = base.base; contains(base, a) && a < base.base + sizeOf(base); a += step) {
        const cand = { base: a >>> 0, prefix: p.size };
        if (!used.some((u) => overlaps(u, cand))) return cand;
      }
    }
    return undefined;
  }

  async remove(idOrName: string): Promise<void> {
    const n = this.get(idOrName);
    if (n.predefined) throw new ForbiddenError(`${n.name} is a pre-defined network and cannot be removed`);
    await this.mutex.run('networks', async () => {
      const users = this.endpointsOn(n.id);
      if (users.length) {
        const names = users.map((u) => this.lookup.find(u.containerId)?.name ?? u.containerId).join(', ');
        throw new ForbiddenError(`error while removing network: network ${n.name} id ${n.id} has active endpoints (${names})`);
      }
      this.o.db.prepare('DELETE FROM networks WHERE id = ?').run(n.id);
      this.networks.delete(n.id);
      await this.isolation.remove(n.bridge).catch((err) => this.o.logger.warn('isolation rule removal failed', { err: errorMessage(err) }));
      if (this.o.iptables) {
        await dropEmptyPortChain(n.id);
        await dropLeftoverNatChain(n.id, n.subnet, n.bridge);
      }
      this.o.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
    });
  }

  async prune(filters: Map<string, string[]>): Promise<string[]> {
    for (const k of filters.keys()) if (!['label', 'label!', 'until'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const out: string[] = [];
    for (const n of this.all()) {
      if (n.predefined || this.endpointsOn(n.id).length) continue;
      if (!labelsMatch(n.labels, filters.get('label') ?? [], filters.get('label!') ?? [])) continue;
      const until = filters.get('until')?.[0];
      if (until && Date.parse(n.created) >= untilTime(until)) continue;
      try {
        await this.remove(n.id);
        out.push(n.name);
      } catch (err) {
        this.o.logger.warn('prune: network not removed', { name: n.name, err: errorMessage(err) });
      }
    }
    return out;
  }

  // ---- container membership ------------------------------------------------------------------

  /** Which network a NetworkMode names; undefined for host, none and container:<x>. */
  private primaryNetwork(mode: string): NetworkRecord | undefined {
    if (mode === '' || mode === 'default' || mode === 'bridge') return this.get('bridge');
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return undefined;
    const n = this.get(mode);
    if (n.driver === 'host' || n.driver === 'null') return undefined;
    return n;
  }

  /**
   * Validates a new container's networking and records its memberships (create). Throws
   * Docker's errors for unknown networks and bad options.
   */
  registerContainer(id: string, hostConfig: NetContainer['hostConfig'], endpointsConfig: unknown): void {
    const mode = hostConfig.NetworkMode || 'default';
    if (mode.startsWith('container:')) {
      const target = mode.slice('container:'.length);
      const t = this.lookup.find(target);
      if (!t) throw new NotFoundError(`No such container: ${target}`);
      if (t.id === id) throw new InvalidParameterError('cannot join own network namespace');
    }
    const primary = this.primaryNetwork(mode);
    const eps = (endpointsConfig && typeof endpointsConfig === 'object' ? endpointsConfig : {}) as Record<string, Record<string, unknown> | null>;
    const hc = hostConfig;
    if (!primary) {
      const bad = (['PortBindings', 'PublishAllPorts'] as const).filter((k) => k === 'PortBindings' ? Object.keys((hc.PortBindings as object) ?? {}).length : hc.PublishAllPorts);
      if ((mode === 'host' || mode === 'none') && bad.length && mode === 'none') {
        throw new InvalidParameterError('conflicting options: port publishing and the container type network mode');
      }
      if (mode.startsWith('container:') && Object.keys((hc.PortBindings as object) ?? {}).length) {
        throw new InvalidParameterError('conflicting options: port publishing and the container type network mode');
      }
    }
    portRequests(hc.PortBindings as PortBindingMap, undefined, false);
    const links = strList(hc.Links);
    for (const l of links) {
      const target = l.split(':')[0]!.replace(/^\//, '');
      if (!this.lookup.find(target)) throw new InvalidParameterError(`could not get container for ${target}`);
    }
    for (const e of strList(hc.ExtraHosts)) parseExtraHost(e, '0.0.0.0');
    const rows: Array<{ network: NetworkRecord; config: EndpointConfig }> = [];
    if (primary) {
      const key = Object.keys(eps).find((k) => k === primary.name || k === primary.id || (primary.name === 'bridge' && k === 'default'))
        ?? Object.keys(eps).find((k) => { try { return this.get(k).id === primary.id; } catch { return false; } });
      rows.push({ network: primary, config: this.endpointConfig(primary, key ? eps[key] : null) });
      for (const [k, v] of Object.entries(eps)) {
        if (k === key) continue;
        const n = this.get(k);
        if (n.id === primary.id || n.driver !== 'bridge') continue;
        if (n.predefined) continue;
        rows.push({ network: n, config: this.endpointConfig(n, v) });
      }
    }
    const ins = this.o.db.prepare('INSERT INTO network_endpoints (container_id, network_id, config) VALUES (?, ?, ?)');
    this.o.db.transaction(() => { for (const r of rows) ins.run(id, r.network.id, JSON.stringify(r.config)); })();
  }

  private endpointConfig(n: NetworkRecord, raw: Record<string, unknown> | null | undefined): EndpointConfig {
    const ipam = (raw?.['IPAMConfig'] ?? null) as { IPv4Address?: string; IPv6Address?: string } | null;
    const ipv4 = ipam?.IPv4Address ?? '';
    const ipv6 = ipam?.IPv6Address ?? '';
    if (ipv6) {
      if (n.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
      const ip = parseIpv6(ipv6);
      if (ip === undefined) throw new InvalidParameterError(`invalid IPv6 address: ${ipv6}`);
      if (!this.hasIpv6(n)) throw new InvalidParameterError(`invalid endpoint settings: IPv6 address ${ipv6} given, but network ${n.name} does not have IPv6 enabled`);
      if (!contains6(parseCidr6(n.subnet6!), ip)) throw new InvalidParameterError(`no configured subnet or ip-range contain the IP address ${ipv6}`);
    }
    if (ipv4) {
      if (n.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
      const ip = parseIpv4(ipv4);
      if (ip === undefined) throw new InvalidParameterError(`invalid IPv4 address: ${ipv4}`);
      if (!contains(parseCidr(n.subnet), ip)) throw new InvalidParameterError(`no configured subnet or ip-range contain the IP address ${ipv4}`);
    }
    const aliases = strList(raw?.['Aliases']);
    if (aliases.length && n.predefined) throw new InvalidParameterError('network-scoped alias is supported only for containers in user defined networks');
    const mac = typeof raw?.['MacAddress'] === 'string' ? raw['MacAddress'] : '';
    if (mac && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new InvalidParameterError(`invalid MAC address: ${mac}`);
    return { aliases, ipv4Address: ipv4, ...(ipv6 ? { ipv6Address: formatIpv6(parseIpv6(ipv6)!) } : {}), macAddress: mac.toLowerCase(), links: strList(raw?.['Links']) };
  }

  /**
   * Start-up: drops memberships and sandboxes of containers that no longer exist (a crash between
   * two steps of a removal), tearing down what they still hold on the host.
   */
  async sweep(existing: Set<string>): Promise<number> {
    const ids = new Set([
      ...(this.o.db.prepare('SELECT DISTINCT container_id AS id FROM network_endpoints').all() as Array<{ id: string }>).map((r) => r.id),
      ...this.sandboxes().map((s) => s.containerId),
    ]);
    let n = 0;
    for (const id of ids) {
      if (existing.has(id)) continue;
      await this.stop(id).catch((err) => this.o.logger.warn('teardown of a removed container failed', { id, err: errorMessage(err) }));
      this.forgetContainer(id);
      n++;
    }
    return n;
  }

  /** The container is gone: forget its memberships and remembered ports. */
  forgetContainer(id: string): void {
    this.o.db.prepare('DELETE FROM network_endpoints WHERE container_id = ?').run(id);
    this.o.db.prepare('DELETE FROM network_endpoint_ipv6 WHERE container_id = ?').run(id);
    this.o.db.prepare('DELETE FROM network_sandboxes WHERE container_id = ?').run(id);
  }

  // ---- run: sandbox setup / teardown ---------------------------------------------------------

  /**
   * Prepares a run's network: leases, host ports, the namespace and the container's /etc files;
   * netavark's setup runs in the background (`ready`), alongside the runtime's create.
   */
  /** `userns`: the container's pinned user namespace (userns-remap), which its network namespace must belong to. */
  async start(c: NetContainer, files: ContainerNetFiles, opts: { userns?: string } = {}): Promise<SandboxStart> {
    const prior = this.stopping.get(c.id);
    if (prior) await prior.catch(() => undefined);
    const mode = c.hostConfig.NetworkMode || 'default';
    const fileOpts = this.fileOptions(c);
    if (mode === 'host') {
      await writeContainerNetFiles(files, fileOpts);
      return { network: { mode: 'host' }, ready: Promise.resolve() };
    }
    if (mode === 'none') {
      await writeContainerNetFiles(files, fileOpts);
      return { network: { mode: 'new' }, ready: Promise.resolve() };
    }
    if (mode.startsWith('container:')) {
      const target = mode.slice('container:'.length);
      const t = this.lookup.find(target);
      if (!t) throw new NotFoundError(`No such container: ${target}`);
      if (!t.running || !t.pid) throw new ConflictError(`cannot join network namespace of a non running container: ${t.id}`);
      const resolvers = this.endpointsOf(t.id).map((e) => this.networks.get(e.networkId)!).filter((n) => n.dns).map((n) => n.gateway);
      const addrs = this.endpointsOf(t.id).map((e) => e.ip).filter((x): x is string => Boolean(x));
      await writeContainerNetFiles(files, { ...fileOpts, addresses: addrs, networkResolvers: resolvers, hostNetwork: t.networkMode === 'host' });
      return { network: t.networkMode === 'host' ? { mode: 'host' } : { mode: 'path', path: `/proc/${t.pid}/ns/net` }, ready: Promise.resolve() };
    }
    return this.mutex.run(`c:${c.id}`, () => this.startBridged(c, files, fileOpts, opts.userns));
  }

  private async startBridged(c: NetContainer, files: ContainerNetFiles, fileOpts: NetFileOptions, userns: string | undefined): Promise<SandboxStart> {
    const eps = this.endpointsOf(c.id);
    if (!eps.length) {
      // Disconnected from every network: loopback only, as Docker.
      await writeContainerNetFiles(files, fileOpts);
      return { network: { mode: 'new' }, ready: Promise.resolve() };
    }
    const ns = netnsName(c.id);
    const previous = this.sandbox(c.id);
    const requests = portRequests(c.hostConfig.PortBindings as PortBindingMap, c.config.ExposedPorts, Boolean(c.hostConfig.PublishAllPorts));
    // Leases and ports are taken synchronously (no await in between), so parallel starts cannot
    // take the same ones; the row marks the sandbox active before anything exists on the host.
    let ports: PortMapping[] = [];
    this.o.db.transaction(() => {
      this.lease(c, eps);
      ports = this.allocatePorts(c.id, requests, previous?.ports ?? []);
      this.o.db.prepare('INSERT OR REPLACE INTO network_sandboxes (container_id, netns, ports, active) VALUES (?, ?, ?, 1)').run(c.id, ns, JSON.stringify(ports));
    })();
    let undo = async (): Promise<void> => { this.releaseRun(c.id); };
    try {
      const before = JSON.stringify(ports);
      await this.checkHostPorts(c.id, ports, requests);
      if (JSON.stringify(ports) !== before) {
        this.o.db.prepare('UPDATE network_sandboxes SET ports = ? WHERE container_id = ?').run(JSON.stringify(ports), c.id);
      }
      const leased = this.endpointsOf(c.id);
      this.runFiles.set(c.id, { files, opts: fileOpts, container: c });
      const nets = leased.map((e) => this.networks.get(e.networkId)!);
      const n0 = nets[0]!;
      if (this.proxies && ports.length) {
        // Ports listen before the container exists: a taken port fails the start with nothing up.
        await this.proxies.start(c.id, UserlandProxies.mappings(ports, leased[0]!.ip!));
        const release = undo;
        undo = async () => { await this.proxies!.stop(c.id).catch(() => undefined); await release(); };
      }
      if (nets.length === 1 && this.firewallPorts(ports).length === 0 && !n0.dns && !n0.internal && this.anchorUp.has(n0.id)) {
        // The common case (default bridge, no published ports) skips netavark: see plumbNamespace.
        const e = leased[0]!;
        const release = undo;
        undo = async () => { await deleteNetns(ns).catch(() => undefined); await release(); };
        await Promise.all([
          plumbNamespace({
            netns: ns, bridge: n0.bridge, ip: e.ip!, prefix: parseCidr(n0.subnet).prefix, gateway: n0.gateway, mac: e.mac!,
            ...(e.ip6 ? { ipv6: { ip: e.ip6, prefix: this.prefix6Of(n0), gateway: n0.gateway6! } } : {}),
            ...(userns ? { userns } : {}),
          }),
          this.writeFiles(c.id),
        ]);
        this.o.events.publish('network', 'connect', n0.id, { container: c.id, name: n0.name, type: n0.driver });
        return { network: { mode: 'path', path: netnsPath(ns) }, ready: Promise.resolve() };
      }
      const [path] = await Promise.all([createNetns(ns, userns), this.writeFiles(c.id)]);
      const cfg = this.netavarkConfig(c, leased, this.firewallPorts(ports));
      const release = undo;
      undo = async () => {
        await this.gate.run(() => this.netavark.teardown(path, cfg)).catch(() => undefined);
        await deleteNetns(ns).catch(() => undefined);
        await release();
      };
      const anchored = Promise.all(nets.filter((n) => n.predefined).map((n) => this.ensureAnchor(n)));
      const ready = anchored.then(() => this.gate.run(() => this.netavark.setup(path, cfg))).then(() => {
        for (const e of leased) {
          const n = this.networks.get(e.networkId)!;
          this.o.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
        }
      });
      // A failed setup is undone by the caller's stop() (the run fails and is cleaned up), not
      // here: the runtime may be using the namespace at this moment.
      ready.catch(() => undefined);
      this.settingUp.set(c.id, ready);
      void ready.catch(() => undefined).finally(() => { if (this.settingUp.get(c.id) === ready) this.settingUp.delete(c.id); });
      return { network: { mode: 'path', path }, ready };
    } catch (err) {
      await undo();
      throw err;
    }
  }

  /** The /etc files' settings of a container: its own, or the daemon's DNS defaults where it sets none. */
  private fileOptions(c: NetContainer): NetFileOptions {
    const d = this.o.dnsDefaults;
    const own = (v: unknown, dflt: string[] | undefined): string[] => {
      const l = strList(v);
      return l.length ? l : [...(dflt ?? [])];
    };
    return {
      hostname: c.config.Hostname, domainname: c.config.Domainname, hostNetwork: (c.hostConfig.NetworkMode || 'default') === 'host',
      extraHosts: strList(c.hostConfig.ExtraHosts).map((e) => parseExtraHost(e, this.findByName('bridge')?.gateway ?? '')),
      dns: own(c.hostConfig.Dns, d?.dns), dnsSearch: own(c.hostConfig.DnsSearch, d?.dnsSearch), dnsOptions: own(c.hostConfig.DnsOptions, d?.dnsOptions),
    };
  }

  /** Writes a running container's /etc/hosts and resolv.conf from its current networks. */
  private async writeFiles(containerId: string): Promise<void> {
    let rf = this.runFiles.get(containerId);
    if (!rf) {
      // A container that was already running when berthd started: its files are found again.
      const run = this.lookup.runFiles?.(containerId);
      if (!run) return;
      rf = { files: run.files, opts: this.fileOptions(run.container), container: run.container };
      this.runFiles.set(containerId, rf);
    }
    const leased = this.endpointsOf(containerId).filter((e) => e.ip);
    await writeContainerNetFiles(rf.files, {
      ...rf.opts,
      addresses: [...leased.map((e) => e.ip!), ...leased.map((e) => e.ip6).filter((x): x is string => Boolean(x))],
      links: this.linkEntries(rf.container),
      networkResolvers: leased.map((e) => this.networks.get(e.networkId)!).filter((n) => n.dns).map((n) => n.gateway),
    });
  }

  private linkEntries(c: NetContainer): Array<{ ip: string; names: string[] }> {
    const out: Array<{ ip: string; names: string[] }> = [];
    for (const l of strList(c.hostConfig.Links)) {
      const [target, alias] = l.replace(/^\//, '').split(':') as [string, string?];
      const t = this.lookup.find(target);
      if (!t) continue;
      const ep = this.endpointsOf(t.id).find((e) => e.ip);
      if (!ep?.ip) continue;
      const a = alias ? alias.split('/').pop()! : '';
      out.push({ ip: ep.ip, names: [...(a && a !== t.name ? [a] : []), t.id.slice(0, 12), t.name] });
    }
    return out;
  }

  /** Assigns an address (and MAC) on every network of the container. Runs inside a transaction. */
  private lease(c: NetContainer, eps: EndpointRow[]): void {
    const upd = this.o.db.prepare('UPDATE network_endpoints SET ip = ?, mac = ?, iface = ? WHERE container_id = ? AND network_id = ?');
    eps.forEach((e, i) => {
      const n = this.networks.get(e.networkId)!;
      const subnet = parseCidr(n.subnet);
      const used = new Set((this.o.db.prepare('SELECT ip FROM network_endpoints WHERE network_id = ? AND ip IS NOT NULL').all(n.id) as Array<{ ip: string }>).map((r) => r.ip));
      let ip: string | undefined;
      if (e.config.ipv4Address) {
        if (used.has(e.config.ipv4Address) || e.config.ipv4Address === n.gateway) {
          throw new ConflictError(`Address already in use`);
        }
        ip = e.config.ipv4Address;
      } else {
        const range = n.ipRange ? parseCidr(n.ipRange) : subnet;
        const first = range.base + (range.base === subnet.base ? 1 : 0);
        let last = range.base + sizeOf(range) - 1 - (range.base + sizeOf(range) === subnet.base + sizeOf(subnet) ? 1 : 0);
        if (n.predefined && last === this.anchorIp(n)) last--;
        const gw = n.gateway;
        for (let a = first; a <= last; a++) {
          const s = formatIpv4(a >>> 0);
          if (s !== gw && !used.has(s)) { ip = s; break; }
        }
        if (!ip) throw new ForbiddenError(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`);
      }
      const mac = (i === 0 && c.config.MacAddress) || e.config.macAddress || macForIpv4(parseIpv4(ip)!);
      upd.run(ip, mac, `eth${i}`, c.id, n.id);
      if (this.hasIpv6(n)) this.lease6(c.id, n, e.config.ipv6Address ?? '');
    });
  }

  /** Assigns an IPv6 address on an IPv6 network: the requested one, or the first free one. */
  private lease6(containerId: string, n: NetworkRecord, wanted: string): void {
    const used = new Set((this.o.db.prepare('SELECT ip6 FROM network_endpoint_ipv6 WHERE network_id = ? AND container_id != ?').all(n.id, containerId) as Array<{ ip6: string }>).map((r) => r.ip6));
    let ip6: string | undefined;
    if (wanted) {
      if (used.has(wanted) || wanted === n.gateway6) throw new ConflictError('Address already in use');
      ip6 = wanted;
    } else {
      const subnet = parseCidr6(n.subnet6!);
      const range = n.ipRange6 ? parseCidr6(n.ipRange6) : subnet;
      const first = range.base === subnet.base ? range.base + 1n : range.base;
      const last = lastOf6(range);
      const anchor = n.predefined ? this.anchorIp6(n) : '';
      for (let a = first, k = 0; a <= last && k < 65536; a++, k++) {
        const s = formatIpv6(a);
        if (s !== n.gateway6 && s !== anchor && !used.has(s)) { ip6 = s; break; }
      }
      if (!ip6) throw new ForbiddenError(`no available IPv6 addresses on this network's address pools: ${n.name} (${n.id})`);
    }
    // A plain insert: a clash with another container's lease fails rather than taking it over.
    this.o.db.prepare('DELETE FROM network_endpoint_ipv6 WHERE container_id = ? AND network_id = ?').run(containerId, n.id);
    this.o.db.prepare('INSERT INTO network_endpoint_ipv6 (container_id, network_id, ip6) VALUES (?, ?, ?)').run(containerId, n.id, ip6);
  }

  private allocatePorts(containerId: string, requests: PortRequest[], previous: PortMapping[], also: PortMapping[] = []): PortMapping[] {
    const out: PortMapping[] = [];
    const taken = (proto: string, port: number, hostIp: string): boolean => {
      const list = this.reserved.get(`${proto}:${port}`) ?? [];
      if (list.some((r) => r.containerId !== containerId && (!r.hostIp || !hostIp || r.hostIp === hostIp))) return true;
      return [...out, ...also].some((m) => m.protocol === proto && m.hostPort === port && (!m.hostIp || !hostIp || m.hostIp === hostIp));
    };
    const [lo, hi] = ephemeralRange();
    for (const r of requests) {
      let port = 0;
      if (r.hostPortLow && r.hostPortLow === r.hostPortHigh) {
        if (taken(r.protocol, r.hostPortLow, r.hostIp)) {
          throw new ConflictError(`driver failed programming external connectivity on endpoint: Bind for ${r.hostIp || '0.0.0.0'}:${r.hostPortLow} failed: port is already allocated`);
        }
        port = r.hostPortLow;
      } else {
        const from = r.hostPortLow || lo;
        const to = r.hostPortHigh || hi;
        const prev = previous.find((p) => p.containerPort === r.containerPort && p.protocol === r.protocol && p.hostIp === r.hostIp);
        if (prev && prev.hostPort >= from && prev.hostPort <= to && !taken(r.protocol, prev.hostPort, r.hostIp)) {
          port = prev.hostPort;
        } else {
          const span = to - from + 1;
          const start = from + Math.floor(Math.random() * span);
          for (let k = 0; k < span; k++) {
            const p = from + ((start - from + k) % span);
            if (!taken(r.protocol, p, r.hostIp)) { port = p; break; }
          }
          if (!port) throw new ConflictError(`driver failed programming external connectivity on endpoint: Bind for ${r.hostIp || '0.0.0.0'}:${from}-${to} failed: port is already allocated`);
        }
      }
      out.push({ containerPort: r.containerPort, protocol: r.protocol, hostIp: r.hostIp, hostPort: port });
    }
    this.reservePorts(containerId, out);
    return out;
  }

  private reservePorts(containerId: string, ports: PortMapping[]): void {
    for (const p of ports) {
      const key = `${p.protocol}:${p.hostPort}`;
      const list = this.reserved.get(key) ?? [];
      list.push({ hostIp: p.hostIp, containerId });
      this.reserved.set(key, list);
    }
  }

  private unreservePort(containerId: string, p: PortMapping): void {
    const key = `${p.protocol}:${p.hostPort}`;
    const list = this.reserved.get(key) ?? [];
    const i = list.findIndex((r) => r.containerId === containerId && r.hostIp === p.hostIp);
    if (i >= 0) list.splice(i, 1);
    if (list.length) this.reserved.set(key, list); else this.reserved.delete(key);
  }

  private unreservePorts(containerId: string): void {
    for (const [k, list] of this.reserved) {
      const rest = list.filter((r) => r.containerId !== containerId);
      if (rest.length) this.reserved.set(k, rest); else this.reserved.delete(k);
    }
  }

  /** A port some host process already listens on cannot be forwarded: say so before setup. */
  private async checkHostPorts(containerId: string, ports: PortMapping[], requests: PortRequest[]): Promise<void> {
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i]!;
      const r = requests[i]!;
      if (p.protocol === 'sctp') continue;
      const flexible = !(r.hostPortLow && r.hostPortLow === r.hostPortHigh);
      for (let attempt = 0; ; attempt++) {
        const err = await tryBind(p.protocol, p.hostIp || '0.0.0.0', p.hostPort);
        if (!err) break;
        if (!flexible || attempt >= 20) {
          throw new ConflictError(`driver failed programming external connectivity on endpoint: Error starting userland proxy: listen ${p.protocol}4 ${p.hostIp || '0.0.0.0'}:${p.hostPort}: bind: ${err}`);
        }
        // A port chosen by berthd that a host process holds: choose another.
        const [next] = this.allocatePorts(containerId, [{ ...r }], [], ports);
        this.unreservePort(containerId, p);
        ports[i] = next!;
        Object.assign(p, next);
      }
    }
  }

  private netavarkConfig(c: NetContainer, eps: EndpointRow[], ports: PortMapping[]): NetavarkConfig {
    const cfg: NetavarkConfig = { container_id: c.id, container_name: c.name, networks: {}, network_info: {} };
    for (const e of eps) {
      const n = this.networks.get(e.networkId)!;
      const aliases = n.dns ? [...new Set([c.name, ...e.config.aliases, c.id.slice(0, 12)])] : undefined;
      // netavark names its firewall chains and aardvark-dns files after the network's name: the
      // id keeps them apart from other daemons' networks of the same name.
      const v6 = this.hasIpv6(n) && e.ip6;
      cfg.networks[n.id] = {
        interface_name: e.iface ?? 'eth0', static_ips: [e.ip!, ...(v6 ? [e.ip6!] : [])], static_mac: e.mac ?? undefined,
        ...(aliases ? { aliases } : {}),
      };
      const subnets: NetavarkConfig['network_info'][string]['subnets'] = [{ subnet: n.subnet, ...(n.internal && !n.dns ? {} : { gateway: n.gateway }) }];
      if (v6) subnets.push({ subnet: n.subnet6!, ...(n.internal && !n.dns ? {} : { gateway: n.gateway6! }) });
      cfg.network_info[n.id] = {
        name: n.id, id: n.id, driver: 'bridge', network_interface: n.bridge, subnets,
        ipv6_enabled: Boolean(v6), internal: n.internal, dns_enabled: n.dns, ipam_options: { driver: 'host-local' },
      };
    }
    if (ports.length) {
      cfg.port_mappings = ports.map((p) => ({ host_ip: p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.protocol }));
    }
    const own = strList(c.hostConfig.Dns);
    const dns = (own.length ? own : this.o.dnsDefaults?.dns ?? []).filter((s) => parseIpv4(s) !== undefined);
    if (dns.length) cfg.dns_servers = dns;
    return cfg;
  }

  /** Gives back leases and ports of a run (DB first, then memory). */
  private releaseRun(containerId: string): void {
    this.o.db.transaction(() => {
      this.o.db.prepare('UPDATE network_endpoints SET ip = NULL, iface = NULL WHERE container_id = ?').run(containerId);
      this.o.db.prepare('DELETE FROM network_endpoint_ipv6 WHERE container_id = ?').run(containerId);
      this.o.db.prepare('UPDATE network_sandboxes SET active = 0 WHERE container_id = ?').run(containerId);
    })();
    this.unreservePorts(containerId);
  }

  /**
   * Tears a run's network down (netavark teardown, namespace, leases, ports). Idempotent; also used
   * at start-up for containers that ended while berthd was down.
   */
  async stop(containerId: string, name = ''): Promise<void> {
    const setup = this.settingUp.get(containerId);
    if (setup) await setup.catch(() => undefined);
    const cur = this.stopping.get(containerId);
    if (cur) return cur;
    const sb = this.sandbox(containerId);
    if (!sb || !sb.active) {
      if (this.endpointsOf(containerId).some((e) => e.ip)) this.releaseRun(containerId);
      return this.proxies ? this.proxies.stop(containerId) : Promise.resolve();
    }
    const p = this.mutex.run(`c:${containerId}`, async () => {
      const eps = this.endpointsOf(containerId).filter((e) => e.ip);
      const path = netnsPath(sb.netns);
      // With no published ports, on networks without DNS whose bridge stays up (anchored),
      // netavark's teardown would change nothing on the host: removing the namespace removes the
      // veth pair, and the network's rules stay for the others.
      const trivial = this.firewallPorts(sb.ports).length === 0 && eps.every((e) => {
        const n = this.networks.get(e.networkId);
        return n && !n.dns && this.anchorUp.has(n.id);
      });
      if (eps.length && !trivial) {
        const cfg = this.netavarkConfig({ id: containerId, name: name || (this.lookup.find(containerId)?.name ?? ''), config: { Hostname: '', Domainname: '' }, hostConfig: { NetworkMode: '' } }, eps, this.firewallPorts(sb.ports));
        await this.gate.run(() => this.netavark.teardown(path, cfg))
          .catch((err) => this.o.logger.warn('netavark teardown failed', { id: containerId, err: errorMessage(err) }));
      }
      await deleteNetns(sb.netns).catch((err) => this.o.logger.warn('netns removal failed', { id: containerId, err: errorMessage(err) }));
      if (this.proxies) await this.proxies.stop(containerId).catch((err) => this.o.logger.warn('userland proxy stop failed', { id: containerId, err: errorMessage(err) }));
      this.releaseRun(containerId);
      this.runFiles.delete(containerId);
      for (const e of eps) {
        const n = this.networks.get(e.networkId);
        if (n) this.o.events.publish('network', 'disconnect', n.id, { container: containerId, name: n.name, type: n.driver });
      }
    }).finally(() => this.stopping.delete(containerId));
    this.stopping.set(containerId, p);
    return p;
  }

  // ---- anchors -------------------------------------------------------------------------------
  //
  // netavark creates a network's bridge and chains with its first container and removes them with
  // its last, which makes a lone `run --rm` pay for both every time (about 150 ms of iptables
  // calls). berthd keeps the default bridge up while it runs, as Docker keeps docker0: a small
  // namespace holds one endpoint on it (the subnet's last address, never leased to containers).

  private readonly anchors = new Map<string, Promise<void>>();
  private readonly anchorUp = new Set<string>();

  private anchorIp(n: NetworkRecord): number {
    const s = parseCidr(n.subnet);
    return s.base + sizeOf(s) - 2;
  }

  /** The anchor's IPv6 address: the pool's last one, never leased to containers. */
  private anchorIp6(n: NetworkRecord): string {
    return formatIpv6(lastOf6(parseCidr6(n.subnet6!)));
  }

  private anchorConfig(n: NetworkRecord): NetavarkConfig {
    const id = `berth-anchor-${n.id.slice(0, 12)}`;
    return {
      container_id: id, container_name: id,
      networks: { [n.id]: { interface_name: 'eth0', static_ips: [formatIpv4(this.anchorIp(n)), ...(this.hasIpv6(n) ? [this.anchorIp6(n)] : [])] } },
      network_info: {
        [n.id]: {
          name: n.id, id: n.id, driver: 'bridge', network_interface: n.bridge,
          subnets: [{ subnet: n.subnet, gateway: n.gateway }, ...(this.hasIpv6(n) ? [{ subnet: n.subnet6!, gateway: n.gateway6! }] : [])],
          ipv6_enabled: this.hasIpv6(n), internal: n.internal, dns_enabled: false, ipam_options: { driver: 'host-local' },
        },
      },
    };
  }

  private anchorNetns(n: NetworkRecord): string {
    return `berth-anchor-${n.id.slice(0, 12)}`;
  }

  private ensureAnchor(n: NetworkRecord): Promise<void> {
    let p = this.anchors.get(n.id);
    if (!p) {
      p = (async () => {
        const ns = this.anchorNetns(n);
        if (await netnsExists(ns)) { this.anchorUp.add(n.id); return; } // left by an earlier run of berthd
        const path = await createNetns(ns);
        await this.gate.run(() => this.netavark.setup(path, this.anchorConfig(n)));
        this.anchorUp.add(n.id);
      })().catch((err) => {
        this.o.logger.warn('bridge anchor setup failed', { network: n.name, err: errorMessage(err) });
        this.anchors.delete(n.id);
      });
      this.anchors.set(n.id, p);
    }
    return p;
  }

  private async dropAnchor(networkId: string): Promise<void> {
    const p = this.anchors.get(networkId);
    this.anchors.delete(networkId);
    this.anchorUp.delete(networkId);
    const n = this.networks.get(networkId);
    if (!p || !n) return;
    await p;
    const ns = this.anchorNetns(n);
    if (!(await netnsExists(ns))) return;
    await this.gate.run(() => this.netavark.teardown(netnsPath(ns), this.anchorConfig(n)))
      .catch((err) => this.o.logger.warn('bridge anchor teardown failed', { network: n.name, err: errorMessage(err) }));
    await deleteNetns(ns).catch(() => undefined);
    if (this.o.iptables) {
      await dropEmptyPortChain(n.id);
      await dropLeftoverNatChain(n.id, n.subnet, n.bridge);
    }
  }

  /** Waits for teardowns in flight (tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.stopping.values()]);
  }

  // ---- connect / disconnect ------------------------------------------------------------------

  async connect(netIdOrName: string, c: NetContainer & { running: boolean }, raw: Record<string, unknown> | null): Promise<void> {
    const n = this.get(netIdOrName);
    const mode = c.hostConfig.NetworkMode || 'default';
    if (n.driver !== 'bridge' || mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      if (mode === 'host' || n.driver === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
      throw new ForbiddenError(`container sharing network namespace with another container or host cannot be connected to any other network`);
    }
    await this.mutex.run(`c:${c.id}`, async () => {
      if (this.endpointsOf(c.id).some((e) => e.networkId === n.id)) {
        throw new ForbiddenError(`endpoint with name ${c.name} already exists in network ${n.name}`);
      }
      const config = this.endpointConfig(n, raw);
      const insert = (): void => {
        this.o.db.prepare('INSERT INTO network_endpoints (container_id, network_id, config) VALUES (?, ?, ?)').run(c.id, n.id, JSON.stringify(config));
      };
      const sb = this.sandbox(c.id);
      if (!c.running || !sb?.active) {
        insert();
        this.o.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
        return;
      }
      const ifaces = new Set(this.endpointsOf(c.id).map((e) => e.iface).filter(Boolean));
      let k = 0;
      while (ifaces.has(`eth${k}`)) k++;
      try {
        // The row, its lease and its interface name appear together: a crash never leaves a
        // running container's endpoint without an address.
        this.o.db.transaction(() => {
          insert();
          const ep = this.endpointsOf(c.id).find((e) => e.networkId === n.id)!;
          this.lease(c, [ep]);
          this.o.db.prepare('UPDATE network_endpoints SET iface = ? WHERE container_id = ? AND network_id = ?').run(`eth${k}`, c.id, n.id);
        })();
        const leased = this.endpointsOf(c.id).filter((e) => e.networkId === n.id);
        await this.gate.run(() => this.netavark.setup(netnsPath(sb.netns), this.netavarkConfig(c, leased, [])));
      } catch (err) {
        this.o.db.prepare('DELETE FROM network_endpoints WHERE container_id = ? AND network_id = ?').run(c.id, n.id);
        this.o.db.prepare('DELETE FROM network_endpoint_ipv6 WHERE container_id = ? AND network_id = ?').run(c.id, n.id);
        throw err;
      }
      await this.writeFiles(c.id).catch((err) => this.o.logger.warn('rewriting /etc files failed', { err: errorMessage(err) }));
      this.o.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  /**
   * Start-up: the networks a running container's endpoint is recorded on but not plumbed for (a
   * connect cut short between its row and netavark's setup): no address, or no interface in the
   * namespace. The caller disconnects them so that a new connect works.
   */
  async unplumbedEndpoints(containerId: string): Promise<string[]> {
    const sb = this.sandbox(containerId);
    if (!sb?.active) return [];
    const out: string[] = [];
    for (const ep of this.endpointsOf(containerId)) {
      if (!this.networks.get(ep.networkId) || this.networks.get(ep.networkId)!.driver !== 'bridge') continue;
      if (!ep.ip || !ep.iface) { out.push(ep.networkId); continue; }
      const present = await runCommand(['ip', '-n', sb.netns, '-o', 'link', 'show', ep.iface], { timeoutMs: 10_000 }).then(() => true, () => false);
      if (!present) out.push(ep.networkId);
    }
    return out;
  }

  async disconnect(netIdOrName: string, c: NetContainer & { running: boolean }, force: boolean): Promise<void> {
    const n = this.get(netIdOrName);
    void force;
    await this.mutex.run(`c:${c.id}`, async () => {
      const ep = this.endpointsOf(c.id).find((e) => e.networkId === n.id);
      if (!ep) {
        if (n.driver === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
        throw new ForbiddenError(`container ${c.id} is not connected to network ${n.name}`);
      }
      const sb = this.sandbox(c.id);
      if (ep.ip && sb?.active) {
        const first = this.endpointsOf(c.id)[0];
        const ports = first?.networkId === n.id ? this.firewallPorts(sb.ports) : [];
        await this.gate.run(() => this.netavark.teardown(netnsPath(sb.netns), this.netavarkConfig(c, [ep], ports)))
          .catch((err) => this.o.logger.warn('netavark teardown failed', { err: errorMessage(err) }));
      }
      this.o.db.prepare('DELETE FROM network_endpoints WHERE container_id = ? AND network_id = ?').run(c.id, n.id);
      this.o.db.prepare('DELETE FROM network_endpoint_ipv6 WHERE container_id = ? AND network_id = ?').run(c.id, n.id);
      await this.writeFiles(c.id).catch((err) => this.o.logger.warn('rewriting /etc files failed', { err: errorMessage(err) }));
      this.o.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  // ---- inspect views -------------------------------------------------------------------------

  /** The networks of a container, in connection order, with their networks' records. */
  endpointsView(containerId: string): EndpointView[] {
    return this.endpointsOf(containerId).map((row) => ({ network: this.networks.get(row.networkId)!, row }));
  }

  /** The host ports of the container's current (or last) run. */
  portsOf(containerId: string, running: boolean): PortMapping[] {
    const sb = this.sandbox(containerId);
    return sb && (sb.active || running) ? sb.ports : [];
  }

  sandboxKey(containerId: string): string {
    const sb = this.sandbox(containerId);
    return sb?.active ? netnsPath(sb.netns) : '';
  }

  endpointId(containerId: string, networkId: string): string {
    return createHash('sha256').update(`${containerId}/${networkId}`).digest('hex');
  }

  prefixOf(n: NetworkRecord): number {
    return n.subnet ? parseCidr(n.subnet).prefix : 0;
  }

  prefix6Of(n: NetworkRecord): number {
    return n.subnet6 ? parseCidr6(n.subnet6).prefix : 0;
  }
}

function strList(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  if (typeof v === 'string' && v) return [v];
  return [];
}

/** `host:ip` or `host=ip`; `host-gateway` becomes the default bridge's gateway. */
export function parseExtraHost(spec: string, hostGateway: string): { host: string; ip: string } {
  const m = /^([^:=]+)[:=](.+)$/.exec(spec);
  if (!m) throw new InvalidParameterError(`invalid IP address in add-host: "${spec}"`);
  const host = m[1]!;
  let ip = m[2]!.replace(/^\[|\]$/g, '');
  if (ip === 'host-gateway') ip = hostGateway;
  else if (parseIpv4(ip) === undefined && !/^[0-9a-fA-F:]+$/.test(ip)) throw new InvalidParameterError(`invalid IP address in add-host: "${m[2]}"`);
  return { host, ip };
}

function labelsMatch(labels: Record<string, string>, want: string[], notWant: string[]): boolean {
  const has = (l: string): boolean => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
  };
  return want.every(has) && !notWant.some(has);
}

function untilTime(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const m = /^(\d+)(s|m|h)$/.exec(s);
  if (m) return Date.now() - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid filter 'until=${s}'`);
  return t;
}

let cachedRange: [number, number] | undefined;
function ephemeralRange(): [number, number] {
  if (cachedRange) return cachedRange;
  try {
    const text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const [a, b] = text.trim().split(/\s+/).map(Number);
    if (a && b) cachedRange = [a, b];
  } catch { /* default below */ }
  cachedRange ??= [32768, 60999];
  return cachedRange;
}

/** Binds and closes the port; returns the error code when something else holds it. */
function tryBind(proto: 'tcp' | 'udp', host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (proto === 'udp') {
      const s = createSocket('udp4');
      s.once('error', (e: NodeJS.ErrnoException) => { s.close(); resolve(e.code === 'EADDRINUSE' ? 'address already in use' : undefined); });
      s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(undefined)));
      return;
    }
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE' ? 'address already in use' : undefined));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/** A bridge network's `com.docker.network.bridge.enable_icc`, read as Go reads a bool (true unless false). */
function iccOf(n: NetworkRecord): boolean {
  return !['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(n.options['com.docker.network.bridge.enable_icc'] ?? 'true');
}
