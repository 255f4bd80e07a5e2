import { lstat, mkdir, readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidParameterError, errorMessage } from '../common/errors.js';
import { resolveGroups, type OciDevice, type OciDeviceCgroupRule } from '../runtime/index.js';
import { MNT_DETACH, MS, mount, umount2 } from '../sys/index.js';
import type { HostConfig } from './container-record.js';

/** One `--device` of HostConfig.Devices. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

export interface SpecDevice {
  device: OciDevice;
  rule: OciDeviceCgroupRule;
}

const DEFAULT_CGROUP_PARENT = '/berth';

/** The container's cgroup (OCI cgroupsPath): under `--cgroup-parent` when given, else /berth. */
export function cgroupsPathFor(rec: { id: string; hostConfig: HostConfig }): string {
  const parent = (rec.hostConfig['CgroupParent'] as string | undefined) || DEFAULT_CGROUP_PARENT;
  return posix.join('/', parent, rec.id);
}

function validPermissions(p: string): boolean {
  return p.length > 0 && p.length <= 3 && /^[rwm]+$/.test(p) && new Set(p).size === p.length;
}

/** Checks CgroupParent, Devices and UsernsMode at create, in Docker's words. */
export function validateHostIsolation(hc: Partial<HostConfig>): void {
  const parent = hc['CgroupParent'] as unknown;
  if (parent !== undefined && parent !== null && typeof parent !== 'string') throw new InvalidParameterError('invalid CgroupParent: must be a string');
  if (typeof parent === 'string' && parent.split('/').includes('..')) throw new InvalidParameterError(`invalid cgroup parent: ${parent}`);
  const userns = (hc['UsernsMode'] as string | undefined) ?? '';
  if (userns && userns !== 'host') {
    throw new InvalidParameterError(`invalid UsernsMode: ${userns}`);
  }
  const devices = hc['Devices'] as DeviceMapping[] | null | undefined;
  if (devices !== undefined && devices !== null && !Array.isArray(devices)) throw new InvalidParameterError('invalid Devices: must be a list');
  for (const d of devices ?? []) {
    if (!d || typeof d.PathOnHost !== 'string' || !d.PathOnHost) throw new InvalidParameterError('invalid device mapping: PathOnHost is required');
    const perms = d.CgroupPermissions || 'rwm';
    if (!validPermissions(perms)) throw new InvalidParameterError(`invalid device mode: ${perms}`);
    const inside = d.PathInContainer || d.PathOnHost;
    if (!inside.startsWith('/')) throw new InvalidParameterError(`invalid device path in container: ${inside}`);
  }
}

function majorOf(rdev: number): number {
  return Math.floor(rdev / 256) & 0xfff;
}

function minorOf(rdev: number): number {
  return (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
}

/**
 * The device nodes and cgroup rules for HostConfig.Devices: each host node (or every node under a
 * host directory) with its type, numbers, mode and owner, at its path in the container.
 */
export async function specDevices(hc: HostConfig): Promise<SpecDevice[]> {
  const out: SpecDevice[] = [];
  for (const d of (hc['Devices'] as DeviceMapping[] | null | undefined) ?? []) {
    const access = d.CgroupPermissions || 'rwm';
    const inside = d.PathInContainer || d.PathOnHost;
    const add = async (hostPath: string, ctrPath: string, top: boolean): Promise<void> => {
      let st;
      try {
        st = top ? await stat(hostPath) : await lstat(hostPath);
      } catch (err) {
        throw new InvalidParameterError(`error gathering device information while adding custom device "${d.PathOnHost}": ${errorMessage(err)}`, { cause: err });
      }
      if (st.isDirectory()) {
        for (const name of await readdir(hostPath)) await add(join(hostPath, name), posix.join(ctrPath, name), false);
        return;
      }
      if (!st.isCharacterDevice() && !st.isBlockDevice()) {
        if (top) throw new InvalidParameterError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
        return;
      }
      const type = st.isCharacterDevice() ? 'c' : 'b';
      const major = majorOf(st.rdev);
      const minor = minorOf(st.rdev);
      out.push({
        device: { type, path: ctrPath, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid },
        rule: { allow: true, type, major, minor, access },
      });
    };
    await add(d.PathOnHost, inside, true);
  }
  return out;
}

/** `--group-add`: numbers as they are, names looked up in the container's /etc/group. */
export async function groupAddGids(rootfs: string, hc: HostConfig): Promise<number[]> {
  const groups = (hc['GroupAdd'] as string[] | null | undefined) ?? [];
  return groups.length ? resolveGroups(rootfs, groups) : [];
}

/**
 * `--ipc shareable`: the container's /dev/shm is a tmpfs on the host (at `path`), so that
 * `--ipc container:<it>` containers can bind the same one.
 */
export async function mountShareableShm(path: string, sizeBytes: number, owner?: { uid: number; gid: number }): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  try { umount2(path, MNT_DETACH); } catch { /* not mounted */ }
  const ids = owner ? `,uid=${owner.uid},gid=${owner.gid}` : '';
  mount('shm', path, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, `mode=1777,size=${sizeBytes}${ids}`);
}

/** Detaches a shareable /dev/shm (containers that joined keep theirs until they end). */
export function unmountShareableShm(path: string): void {
  try { umount2(path, MNT_DETACH); } catch { /* not mounted */ }
}
