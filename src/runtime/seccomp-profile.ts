import { readFileSync, statSync } from 'node:fs';
import { InvalidParameterError, errorMessage } from '../common/index.js';
import type { OciSeccomp, OciSeccompArg, OciSeccompSyscall, SeccompAction, SeccompOperator } from './oci-spec.js';

/** A seccomp profile in Docker's (moby) format, as in containers-common's seccomp.json. */
export interface DockerSeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] | null }> | null;
  flags?: string[];
  syscalls?: DockerSeccompSyscall[] | null;
}

export interface DockerSeccompFilter {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string | null;
}

export interface DockerSeccompSyscall {
  name?: string;
  names?: string[] | null;
  action: SeccompAction;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: SeccompOperator }> | null;
  includes?: DockerSeccompFilter | null;
  excludes?: DockerSeccompFilter | null;
}

/** libseccomp's native architecture names as profiles use them in includes/excludes, by seccomp architecture. */
const GOARCH_BY_SCMP: Record<string, string> = {
  SCMP_ARCH_X86_64: 'amd64',
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_AARCH64: 'arm64',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_RISCV64: 'riscv64',
};

interface CacheEntry { mtimeMs: number; size: number; profile: DockerSeccompProfile }

/**
 * Parses seccomp profile files once and reuses the result while the file is unchanged
 * (same mtime and size). The daemon holds one instance; spec generation takes it as an option.
 */
export class SeccompProfileCache {
  private readonly entries = new Map<string, CacheEntry>();

  load(path: string): DockerSeccompProfile {
    let st;
    try {
      st = statSync(path);
    } catch (err) {
      throw new InvalidParameterError(`opening seccomp profile (${path}) failed: ${errorMessage(err)}`, { cause: err });
    }
    const hit = this.entries.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.profile;
    const profile = parseSeccompProfile(readFileSync(path, 'utf8'), path);
    this.entries.set(path, { mtimeMs: st.mtimeMs, size: st.size, profile });
    return profile;
  }
}

export function parseSeccompProfile(text: string, origin = 'seccomp profile'): DockerSeccompProfile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameterError(`decoding seccomp profile failed: ${origin}: ${errorMessage(err)}`, { cause: err });
  }
  if (!parsed || typeof parsed !== 'object' || typeof (parsed as DockerSeccompProfile).defaultAction !== 'string') {
    throw new InvalidParameterError(`decoding seccomp profile failed: ${origin}: missing defaultAction`);
  }
  return parsed as DockerSeccompProfile;
}

function listHas(list: string[] | null | undefined, item: string): boolean {
  return !!list && list.includes(item);
}

/**
 * Converts a Docker-format profile into the OCI `linux.seccomp` object for one architecture
 * (seccomp name, e.g. SCMP_ARCH_X86_64) and the container's final capability set: a rule whose
 * `includes.caps` are not all held, or whose `excludes.caps` has one that is held, is dropped;
 * likewise for `arches`.
 */
export function convertSeccompProfile(
  profile: DockerSeccompProfile,
  opts: { capabilities: readonly string[]; arch?: string },
): OciSeccomp {
  const arch = opts.arch ?? 'SCMP_ARCH_X86_64';
  const goArch = GOARCH_BY_SCMP[arch] ?? arch;
  const caps = new Set(opts.capabilities);

  let architectures: string[] | undefined;
  if (profile.archMap && profile.archMap.length > 0) {
    const entry = profile.archMap.find((m) => m.architecture === arch);
    architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [arch];
  } else if (profile.architectures && profile.architectures.length > 0) {
    architectures = [...profile.architectures];
  }

  const syscalls: OciSeccompSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(goArch)) continue;
    if (listHas(exc.arches, goArch)) continue;
    if (inc.caps && inc.caps.some((c) => !caps.has(c))) continue;
    if (exc.caps && exc.caps.some((c) => caps.has(c))) continue;
    const names = rule.names && rule.names.length > 0 ? [...rule.names] : rule.name ? [rule.name] : [];
    if (names.length === 0) continue;
    const out: OciSeccompSyscall = { names, action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) {
      out.args = rule.args.map((a): OciSeccompArg => {
        const arg: OciSeccompArg = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(out);
  }

  const result: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) result.defaultErrnoRet = profile.defaultErrnoRet;
  if (architectures) result.architectures = architectures;
  if (profile.flags && profile.flags.length > 0) result.flags = [...profile.flags];
  result.syscalls = syscalls;
  return result;
}
