import { InvalidParameterError } from '../common/errors.js';
import type { ImageRunConfig } from '../image/index.js';

/** The run config with Docker's field set and order (what the classic builder writes). */
export function dockerRunConfig(c: ImageRunConfig): ImageRunConfig {
  const out: ImageRunConfig = {
    Hostname: c.Hostname ?? '', Domainname: c.Domainname ?? '', User: c.User ?? '',
    AttachStdin: false, AttachStdout: false, AttachStderr: false,
  };
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) out.ExposedPorts = c.ExposedPorts;
  Object.assign(out, { Tty: false, OpenStdin: false, StdinOnce: false, Env: c.Env ?? null, Cmd: c.Cmd ?? null });
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped) out.ArgsEscaped = c.ArgsEscaped;
  Object.assign(out, {
    Image: c.Image ?? '', Volumes: c.Volumes ?? null, WorkingDir: c.WorkingDir ?? '', Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null, Labels: c.Labels ?? null,
  });
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.Shell && c.Shell.length) out.Shell = c.Shell;
  return out;
}

/** Go's %q of a string list: ["a" "b"]. */
export function goQuoteList(list: string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

export function goDuration(ns: number | undefined): string {
  if (!ns) return '0s';
  let rest = ns / 1e9;
  let out = '';
  const h = Math.floor(rest / 3600);
  if (h) { out += `${h}h`; rest -= h * 3600; }
  const m = Math.floor(rest / 60);
  if (h || m) { out += `${m}m`; rest -= m * 60; }
  return `${out}${Number(rest.toFixed(9))}s`;
}

export function envLookup(env: string[], args: Map<string, string | undefined>): (name: string) => string | undefined {
  return (name) => {
    for (let i = env.length - 1; i >= 0; i--) {
      const e = env[i]!;
      const eq = e.indexOf('=');
      if (e.slice(0, eq) === name) return e.slice(eq + 1);
    }
    return args.get(name);
  };
}

export function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')) !== key);
  const idx = env.findIndex((e) => e.slice(0, e.indexOf('=')) === key);
  if (idx >= 0) {
    const copy = [...env];
    copy[idx] = `${key}=${value}`;
    return copy;
  }
  return [...out, `${key}=${value}`];
}

export function expandPorts(ports: string[]): string[] {
  const out: string[] = [];
  for (const p of ports) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
    if (!m) throw new InvalidParameterError(`Invalid containerPort: ${p}`);
    const proto = (m[3] ?? 'tcp').toLowerCase();
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    if (to < from) throw new InvalidParameterError(`Invalid range specified for container port: ${p}`);
    for (let i = from; i <= to; i++) out.push(`${i}/${proto}`);
  }
  return out;
}
