import { InvalidParameterError } from '../common/errors.js';

/** One published port after allocation: what netavark forwards and what inspect shows. */
export interface PortMapping {
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** '' means every address. */
  hostIp: string;
  hostPort: number;
}

/** One requested binding, before host ports are chosen. */
export interface PortRequest {
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIp: string;
  /** 0 chooses a free ephemeral port; a range chooses a free one inside it. */
  hostPortLow: number;
  hostPortHigh: number;
}

export type PortBindingMap = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;

/** `80/tcp` -> port and protocol (tcp when absent). */
export function parsePortKey(key: string): { port: number; protocol: 'tcp' | 'udp' | 'sctp' } {
  const [p, proto = 'tcp'] = key.split('/') as [string, string?];
  const port = Number(p);
  if (!/^\d+$/.test(p) || port < 1 || port > 65535) throw new InvalidParameterError(`invalid port specification: "${key}"`);
  const protocol = proto.toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') throw new InvalidParameterError(`invalid proto: ${proto}`);
  return { port, protocol };
}

function hostPortRange(s: string): [number, number] {
  if (s === '' || s === undefined) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new InvalidParameterError(`invalid hostPort: ${s}`);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  if (lo < 0 || hi > 65535 || hi < lo) throw new InvalidParameterError(`invalid hostPort: ${s}`);
  return [lo, hi];
}

/** HostConfig.PortBindings (+ ExposedPorts when PublishAllPorts) -> requests, validated. */
export function portRequests(bindings: PortBindingMap | undefined | null, exposed: Record<string, unknown> | undefined, publishAll: boolean): PortRequest[] {
  const out: PortRequest[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, protocol } = parsePortKey(key);
    const items = list && list.length ? list : [{ HostIp: '', HostPort: '' }];
    for (const b of items) {
      const hostIp = b.HostIp ?? '';
      if (hostIp.includes(':')) continue; // IPv6 host addresses: the bridge is IPv4 only
      const [lo, hi] = hostPortRange(b.HostPort ?? '');
      out.push({ containerPort: port, protocol, hostIp: hostIp === '0.0.0.0' ? '' : hostIp, hostPortLow: lo, hostPortHigh: hi });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      if (bindings && key in bindings) continue;
      const { port, protocol } = parsePortKey(key);
      out.push({ containerPort: port, protocol, hostIp: '', hostPortLow: 0, hostPortHigh: 0 });
    }
  }
  return out;
}

/** NetworkSettings.Ports: every exposed or published port; unpublished ones map to null. */
export function portsWire(mappings: PortMapping[], exposed: Record<string, unknown> | undefined): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of Object.keys(exposed ?? {})) out[key.includes('/') ? key : `${key}/tcp`] = null;
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.protocol}`;
    const list = out[key] ?? [];
    list.push({ HostIp: m.hostIp || '0.0.0.0', HostPort: String(m.hostPort) });
    out[key] = list;
  }
  return out;
}

/** The `Ports` of a container summary. */
export function portsSummary(mappings: PortMapping[], exposed: Record<string, unknown> | undefined): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const out: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> = [];
  const published = new Set<string>();
  for (const m of mappings) {
    out.push({ IP: m.hostIp || '0.0.0.0', PrivatePort: m.containerPort, PublicPort: m.hostPort, Type: m.protocol });
    published.add(`${m.containerPort}/${m.protocol}`);
  }
  for (const key of Object.keys(exposed ?? {})) {
    try {
      const { port, protocol } = parsePortKey(key);
      if (!published.has(`${port}/${protocol}`)) out.push({ PrivatePort: port, Type: protocol });
    } catch { /* ignore malformed keys */ }
  }
  return out;
}
