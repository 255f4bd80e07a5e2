import { StatusError } from './cli-context.js';
import type { PortBinding } from '../engine-api/container-models.js';

function range(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new StatusError(`invalid ${what}: ${s}`, 125);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  if (lo < 1 && what === 'containerPort' || lo > 65535 || hi > 65535 || hi < lo) throw new StatusError(`invalid ${what}: ${s}`, 125);
  return [lo, hi];
}

/**
 * `-p` and `--expose` into ExposedPorts and PortBindings, as docker's nat.ParsePortSpecs does:
 * `80`, `80/udp`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `[::1]:8080:80`, ranges
 * (`8000-8001:80-81`, or a host range for one container port: `8000-8010:80`).
 */
export function parsePortSpecs(publish: string[], expose: string[]): {
  exposed: Record<string, Record<string, never>>; bindings: Record<string, PortBinding[]>;
} {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const e of expose) {
    const [p, proto = 'tcp'] = e.split('/') as [string, string?];
    const [lo, hi] = range(p, 'range for exposed ports');
    for (let x = lo; x <= hi; x++) exposed[`${x}/${proto.toLowerCase()}`] = {};
  }
  for (const spec of publish) {
    let rest = spec;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0 && !rest.slice(slash).includes(':')) {
      proto = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
    }
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new StatusError(`invalid proto: ${proto}`, 125);
    let ip = '';
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) throw new StatusError(`invalid IP address: ${spec}`, 125);
      ip = rest.slice(1, end);
      rest = rest.slice(end + 2);
      rest = `:${rest}`;
    }
    const parts = rest.split(':');
    let hostPart = '';
    let ctrPart: string;
    if (parts.length === 1) {
      ctrPart = parts[0]!;
    } else if (parts.length === 2) {
      if (!ip && parts[0] === '') throw new StatusError(`no port specified: ${spec}<empty>`, 125);
      hostPart = parts[0]!;
      ctrPart = parts[1]!;
    } else if (parts.length === 3) {
      ip = ip || parts[0]!;
      hostPart = parts[1]!;
      ctrPart = parts[2]!;
    } else {
      throw new StatusError(`invalid port format for --publish: ${spec}`, 125);
    }
    if (ip && !/^\d+\.\d+\.\d+\.\d+$/.test(ip) && !ip.includes(':')) throw new StatusError(`invalid IP address: ${ip}`, 125);
    if (!ctrPart) throw new StatusError(`no port specified: ${spec}<empty>`, 125);
    const [clo, chi] = range(ctrPart, 'containerPort');
    let hlo = 0;
    let hhi = 0;
    if (hostPart) [hlo, hhi] = range(hostPart, 'hostPort');
    const n = chi - clo + 1;
    if (hostPart && hhi - hlo + 1 !== n && !(n === 1 && hhi > hlo)) {
      throw new StatusError(`invalid ranges specified for container and host Ports: ${ctrPart} and ${hostPart}`, 125);
    }
    for (let i = 0; i < n; i++) {
      const key = `${clo + i}/${proto}`;
      exposed[key] = {};
      const hostPort = !hostPart ? '' : n === 1 && hhi > hlo ? `${hlo}-${hhi}` : String(hlo + i);
      (bindings[key] ??= []).push({ HostIp: ip, HostPort: hostPort });
    }
  }
  return { exposed, bindings };
}
