import { isAbsolute, resolve } from 'node:path';
import type { MountSpec } from '../engine-api/volume-models.js';

/** go-units RAMInBytes: `64m`, `1g`, `512k`, `1.5GiB`, binary multiples. */
export function ramInBytes(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) return undefined;
  const exp = ['', 'k', 'm', 'g', 't', 'p'].indexOf(m[2]!.toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** exp);
}

function parseBool(v: string): boolean | undefined {
  const s = v.toLowerCase();
  if (['1', 't', 'true'].includes(s)) return true;
  if (['0', 'f', 'false'].includes(s)) return false;
  return undefined;
}

/** Splits one CSV record (docker reads `--mount` with encoding/csv: quotes may wrap a field). */
function csvFields(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

/** One `--mount` value as docker's CLI turns it into a `HostConfig.Mounts` entry; throws with docker's words. */
export function parseMountFlag(value: string, cwd = process.cwd()): MountSpec {
  const m: MountSpec = { Type: 'volume' };
  const volumeOptions = (): NonNullable<MountSpec['VolumeOptions']> => (m.VolumeOptions ??= {});
  const bindOptions = (): NonNullable<MountSpec['BindOptions']> => (m.BindOptions ??= {});
  const tmpfsOptions = (): NonNullable<MountSpec['TmpfsOptions']> => (m.TmpfsOptions ??= {});
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') { m.ReadOnly = true; continue; }
      if (key === 'volume-nocopy') { volumeOptions().NoCopy = true; continue; }
      if (key === 'bind-nonrecursive') { bindOptions().NonRecursive = true; continue; }
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type': m.Type = val; break;
      case 'source': case 'src': m.Source = val; break;
      case 'target': case 'dst': case 'destination': m.Target = val; break;
      case 'readonly': case 'ro': {
        const b = parseBool(val);
        if (b === undefined) throw new Error(`invalid value for ${key}: ${val}`);
        m.ReadOnly = b;
        break;
      }
      case 'consistency': m.Consistency = val; break;
      case 'bind-propagation': bindOptions().Propagation = val; break;
      case 'bind-nonrecursive': {
        const b = parseBool(val);
        if (b === undefined) throw new Error(`invalid value for ${key}: ${val}`);
        bindOptions().NonRecursive = b;
        break;
      }
      case 'volume-driver': (volumeOptions().DriverConfig ??= {}).Name = val; break;
      case 'volume-label': {
        const i = val.indexOf('=');
        (volumeOptions().Labels ??= {})[i < 0 ? val : val.slice(0, i)] = i < 0 ? '' : val.slice(i + 1);
        break;
      }
      case 'volume-opt': {
        const i = val.indexOf('=');
        const dc = (volumeOptions().DriverConfig ??= {});
        (dc.Options ??= {})[i < 0 ? val : val.slice(0, i)] = i < 0 ? '' : val.slice(i + 1);
        break;
      }
      case 'volume-nocopy': {
        const b = parseBool(val);
        if (b === undefined) throw new Error(`invalid value for ${key}: ${val}`);
        volumeOptions().NoCopy = b;
        break;
      }
      case 'tmpfs-size': {
        const n = ramInBytes(val);
        if (n === undefined) throw new Error(`invalid value for ${key}: ${val}`);
        tmpfsOptions().SizeBytes = n;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val)) throw new Error(`invalid value for ${key}: ${val}`);
        tmpfsOptions().Mode = Number.parseInt(val, 8);
        break;
      }
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Type) throw new Error('type is required');
  if (!m.Target) throw new Error('target is required');
  if (m.VolumeOptions && m.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (m.BindOptions && m.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (m.TmpfsOptions && m.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  if (m.Type === 'bind' && m.Source && !isAbsolute(m.Source) && m.Source.startsWith('.')) m.Source = resolve(cwd, m.Source);
  return m;
}

/**
 * `-v` values: one part is an anonymous volume (`Config.Volumes`); otherwise a bind or named
 * volume (`HostConfig.Binds`), with a `.`-relative host path made absolute as docker's CLI does.
 */
export function splitVolumeFlags(values: string[], cwd = process.cwd()): { binds: string[]; volumes: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const v of values) {
    const i = v.indexOf(':');
    if (i < 0) { volumes[v] = {}; continue; }
    const host = v.slice(0, i);
    binds.push(host.startsWith('.') ? `${resolve(cwd, host)}${v.slice(i)}` : v);
  }
  return { binds, volumes };
}

/** `--tmpfs /path[:options]` values as `HostConfig.Tmpfs`. */
export function tmpfsMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of values) {
    const i = t.indexOf(':');
    if (i < 0) out[t] = '';
    else out[t.slice(0, i)] = t.slice(i + 1);
  }
  return out;
}
