import { InvalidParameterError } from '../common/errors.js';
import type { ImageRunConfig } from './image-config.js';

const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL']);

function parseJsonOrShell(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      /* shell form */
    }
  }
  return ['/bin/sh', '-c', t];
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")))) return s.slice(1, -1);
  return s;
}

/** Splits `a=b "c d"=e f='g h'` into pairs, honouring quotes. */
function keyValues(rest: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const words = rest.match(/(?:[^\s"']+|"(?:\\.|[^"])*"|'[^']*')+/g) ?? [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) throw new InvalidParameterError(`LABEL/ENV requires key=value: ${w}`);
    out.push([unquote(w.slice(0, eq)), unquote(w.slice(eq + 1))]);
  }
  return out;
}

/** Applies `--change` Dockerfile instructions (import/commit) to a run config, as Docker allows them. */
export function applyConfigChanges(base: ImageRunConfig, changes: string[]): ImageRunConfig {
  const cfg: ImageRunConfig = { ...base };
  for (const raw of changes) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(\S+)\s*(.*)$/s.exec(line)!;
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (!ALLOWED.has(instr)) throw new InvalidParameterError(`${instr} is not a valid change command`);
    switch (instr) {
      case 'CMD': cfg.Cmd = parseJsonOrShell(rest); break;
      case 'ENTRYPOINT': cfg.Entrypoint = parseJsonOrShell(rest); break;
      case 'ENV': {
        const pairs = rest.includes('=') ? keyValues(rest) : [[rest.split(/\s+/, 1)[0]!, rest.slice(rest.search(/\s/) + 1).trim()] as [string, string]];
        const env = [...(cfg.Env ?? [])];
        for (const [k, v] of pairs) {
          const i = env.findIndex((e) => e.split('=', 1)[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`; else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case 'LABEL': cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(keyValues(rest)) }; break;
      case 'EXPOSE': {
        const ports = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of rest.split(/\s+/).filter(Boolean)) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        cfg.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(cfg.Volumes ?? {}) };
        const list = rest.trim().startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/).filter(Boolean);
        for (const v of list) vols[v] = {};
        cfg.Volumes = vols;
        break;
      }
      case 'USER': cfg.User = rest.trim(); break;
      case 'WORKDIR': cfg.WorkingDir = rest.trim(); break;
      case 'STOPSIGNAL': cfg.StopSignal = rest.trim(); break;
      case 'ONBUILD': cfg.OnBuild = [...(cfg.OnBuild ?? []), rest.trim()]; break;
    }
  }
  return cfg;
}
