import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError } from '../common/errors.js';
import type { HostConfig } from './container-record.js';

export interface SecurityInputs {
  noNewPrivileges: boolean;
  /** undefined: the daemon's default profile; null: unconfined; else a profile file. */
  seccompProfilePath?: string | null;
  sysctls: Record<string, string>;
}

/** Namespaced sysctls a container may set (Docker's list): net.*, the IPC ones, kernel.domainname/hostname. */
function sysctlAllowed(key: string, netHost: boolean): boolean {
  if (key.startsWith('net.')) return !netHost;
  if (key.startsWith('fs.mqueue.')) return true;
  return ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'].includes(key);
}

/** Checks SecurityOpt, Sysctls and GroupAdd at create, in Docker's words. */
export function validateSecurity(hc: Partial<HostConfig>): void {
  for (const opt of (hc['SecurityOpt'] as string[] | null | undefined) ?? []) {
    const [k, v] = opt.includes('=') ? [opt.slice(0, opt.indexOf('=')), opt.slice(opt.indexOf('=') + 1)] : opt.includes(':') ? [opt.slice(0, opt.indexOf(':')), opt.slice(opt.indexOf(':') + 1)] : [opt, ''];
    if (k === 'no-new-privileges') {
      if (v && !['true', 'false'].includes(v)) throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
      continue;
    }
    if (k === 'seccomp' || k === 'apparmor' || k === 'label') {
      if (!v) throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
      if (k === 'seccomp' && v !== 'unconfined' && v !== 'builtin') {
        try { JSON.parse(v); } catch { throw new InvalidParameterError(`Decoding seccomp profile failed: ${opt.slice(0, 60)}`); }
      }
      continue;
    }
    throw new InvalidParameterError(`invalid --security-opt 1: "${opt}"`);
  }
  const pid = (hc['PidMode'] as string | undefined) ?? '';
  if (pid && pid !== 'host' && !/^container:.+/.test(pid)) throw new InvalidParameterError(`invalid PID mode: ${pid}`);
  const ipc = (hc['IpcMode'] as string | undefined) ?? '';
  if (ipc && !['private', 'shareable', 'host', 'none'].includes(ipc) && !/^container:.+/.test(ipc)) throw new InvalidParameterError(`invalid IPC mode: ${ipc}`);
  const uts = (hc['UTSMode'] as string | undefined) ?? '';
  if (uts && uts !== 'host') throw new InvalidParameterError(`invalid UTS mode: ${uts}`);
  const netHost = hc.NetworkMode === 'host';
  for (const key of Object.keys((hc['Sysctls'] as Record<string, string> | null | undefined) ?? {})) {
    if (!sysctlAllowed(key, netHost)) throw new InvalidParameterError(`sysctl '${key}' is not allowed`);
  }
  for (const g of (hc['GroupAdd'] as unknown[] | null | undefined) ?? []) {
    if (typeof g !== 'string' || !/^[^:\s]+$/.test(g)) throw new InvalidParameterError(`invalid GroupAdd entry: ${String(g)}`);
  }
}

/** What the spec needs from SecurityOpt, Sysctls and GroupAdd; a custom seccomp profile is written into dir. */
export async function securityInputs(hc: HostConfig, dir: string): Promise<SecurityInputs> {
  const out: SecurityInputs = { noNewPrivileges: false, sysctls: { ...((hc['Sysctls'] as Record<string, string> | null) ?? {}) } };
  for (const opt of (hc['SecurityOpt'] as string[] | null | undefined) ?? []) {
    const sep = opt.search(/[=:]/);
    const k = sep < 0 ? opt : opt.slice(0, sep);
    const v = sep < 0 ? '' : opt.slice(sep + 1);
    if (k === 'no-new-privileges') out.noNewPrivileges = v !== 'false';
    if (k === 'seccomp') {
      if (v === 'unconfined') out.seccompProfilePath = null;
      else if (v && v !== 'builtin') {
        const path = join(dir, 'seccomp.json');
        await writeFile(path, v, { mode: 0o600 });
        out.seccompProfilePath = path;
      }
    }
  }
  return out;
}

/** `--pid host|container:x` and `--uts host` as the spec's shared namespaces; joining needs x running. */
export function sharedNamespaces(hc: HostConfig, find: (idOrName: string) => { id: string; state: { status: string; pid: number }; hostConfig?: HostConfig } | undefined): Partial<Record<'pid' | 'uts' | 'ipc', 'host' | { path: string }>> {
  const out: Partial<Record<'pid' | 'uts' | 'ipc', 'host' | { path: string }>> = {};
  const pid = (hc['PidMode'] as string | undefined) ?? '';
  if (pid === 'host') out.pid = 'host';
  else if (pid.startsWith('container:')) {
    const name = pid.slice('container:'.length);
    const other = find(name);
    if (!other) throw new NotFoundError(`No such container: ${name}`);
    if (other.state.status !== 'running' || !other.state.pid) throw new ConflictError(`cannot join PID of a non running container: ${other.id}`);
    out.pid = { path: `/proc/${other.state.pid}/ns/pid` };
  }
  if (hc['UTSMode'] === 'host') out.uts = 'host';
  const ipc = (hc['IpcMode'] as string | undefined) ?? '';
  if (ipc === 'host') out.ipc = 'host';
  else if (ipc.startsWith('container:')) {
    const name = ipc.slice('container:'.length);
    const other = find(name);
    if (!other) throw new NotFoundError(`No such container: ${name}`);
    if (other.state.status !== 'running' || !other.state.pid) throw new ConflictError(`cannot join IPC of a non running container: ${other.id}`);
    const mode = (other as { hostConfig?: HostConfig }).hostConfig?.['IpcMode'] as string | undefined;
    if (mode !== 'shareable') throw new ConflictError(`cannot join IPC of a non-shareable container: ${other.id} (hint: use IpcMode:shareable for the donor container)`);
    out.ipc = { path: `/proc/${other.state.pid}/ns/ipc` };
  }
  return out;
}
