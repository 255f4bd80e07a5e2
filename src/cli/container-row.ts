import type { ContainerSummary, PortSummary } from '../engine-api/container-models.js';
import type { TemplateObject } from './go-template.js';
import { contextJSON, ellipsis, truncateId } from './template-format.js';
import { goTimeString, humanSizeWithPrecision, timeAgo } from './units.js';
import { parseImageReference } from './image-reference.js';

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS',
  Mounts: 'MOUNTS', LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS', Platform: 'PLATFORM',
};

export const DEFAULT_PS_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** Docker's DisplayablePorts: `0.0.0.0:8080->80/tcp, 443/tcp`, consecutive ports grouped as ranges. */
export function displayablePorts(ports: PortSummary[]): string {
  const groups = new Map<string, number[]>();
  const order: string[] = [];
  for (const p of [...ports].sort((a, b) => (a.PrivatePort - b.PrivatePort) || ((a.PublicPort ?? 0) - (b.PublicPort ?? 0)))) {
    const ip = p.IP ? (p.IP.includes(':') ? `[${p.IP}]:` : `${p.IP}:`) : '';
    if (p.PublicPort) {
      const key = `${ip}|${p.Type}|${p.PublicPort - p.PrivatePort}`;
      if (!groups.has(key)) { groups.set(key, []); order.push(key); }
      (groups.get(key) as number[]).push(p.PrivatePort);
    } else {
      const key = `|${p.Type}|unpublished`;
      if (!groups.has(key)) { groups.set(key, []); order.push(key); }
      (groups.get(key) as number[]).push(p.PrivatePort);
    }
  }
  const out: string[] = [];
  for (const key of order) {
    const [ip = '', type = '', delta] = key.split('|');
    const list = [...new Set(groups.get(key) as number[])].sort((a, b) => a - b);
    let start = list[0] as number;
    let prev = start;
    const flush = (): void => {
      const priv = start === prev ? `${start}` : `${start}-${prev}`;
      if (delta === 'unpublished') out.push(`${priv}/${type}`);
      else {
        const d = Number(delta);
        const pub = start === prev ? `${start + d}` : `${start + d}-${prev + d}`;
        out.push(`${ip}${pub}->${priv}/${type}`);
      }
    };
    for (const port of list.slice(1)) {
      if (port === prev + 1) { prev = port; continue; }
      flush();
      start = port;
      prev = port;
    }
    flush();
  }
  return out.join(', ');
}

/** A `docker ps` row (formatter.ContainerContext). */
export class ContainerRow implements TemplateObject {
  readonly goType = '*formatter.ContainerContext';
  constructor(private readonly c: ContainerSummary, private readonly opts: { trunc: boolean; now?: number }) {}

  ID(): string { return this.opts.trunc ? truncateId(this.c.Id) : this.c.Id; }

  Names(): string {
    let names = (this.c.Names ?? []).map((n) => (n.startsWith('/') ? n.slice(1) : n));
    if (this.opts.trunc) {
      const top = names.find((n) => !n.includes('/'));
      if (top !== undefined) names = [top];
    }
    return names.join(',');
  }

  Image(): string {
    const image = this.c.Image;
    if (!image) return '<no image>';
    if (this.opts.trunc) {
      const t = truncateId(this.c.ImageID ?? '');
      if (t && t === truncateId(image)) return t;
      if (/^[0-9a-f]{64}$/.test(image) || image.startsWith('sha256:')) return image;
      const at = image.indexOf('@');
      if (at >= 0) {
        const r = parseImageReference(image);
        return r.tag !== undefined ? `${r.familiarName}:${r.tag}` : r.familiarName;
      }
    }
    return image;
  }

  Command(): string {
    const cmd = this.opts.trunc ? ellipsis(this.c.Command ?? '', 20) : this.c.Command ?? '';
    return JSON.stringify(cmd);
  }

  CreatedAt(): string { return goTimeString(this.c.Created); }

  RunningFor(): string { return timeAgo(this.c.Created, this.opts.now); }

  Ports(): string { return displayablePorts(this.c.Ports ?? []); }

  State(): string { return this.c.State; }

  Status(): string { return this.c.Status; }

  Size(): string {
    const srw = humanSizeWithPrecision(this.c.SizeRw ?? 0, 3);
    const rootfs = this.c.SizeRootFs ?? 0;
    return rootfs > 0 ? `${srw} (virtual ${humanSizeWithPrecision(rootfs, 3)})` : srw;
  }

  Labels(): string {
    const labels = this.c.Labels ?? {};
    return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
  }

  Label(name: string): string { return (this.c.Labels ?? {})[name] ?? ''; }

  Mounts(): string {
    return (this.c.Mounts ?? []).map((m) => {
      const name = m.Name || m.Source;
      return this.opts.trunc ? ellipsis(name, 15) : name;
    }).join(',');
  }

  LocalVolumes(): string { return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length); }

  Networks(): string { return Object.keys(this.c.NetworkSettings?.Networks ?? {}).sort().join(','); }

  Platform(): null { return null; }

  toJSON(): Record<string, unknown> {
    return contextJSON({
      Command: this.Command(), CreatedAt: this.CreatedAt(), ID: this.ID(), Image: this.Image(), Labels: this.Labels(),
      LocalVolumes: this.LocalVolumes(), Mounts: this.Mounts(), Names: this.Names(), Networks: this.Networks(),
      Platform: null, Ports: this.Ports(), RunningFor: this.RunningFor(), Size: this.Size(), State: this.State(), Status: this.Status(),
    });
  }
}
