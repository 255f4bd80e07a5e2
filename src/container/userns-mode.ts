import { chmod, chown, lstat } from 'node:fs/promises';
import { InvalidParameterError, errnoCode, hostRootOf, type IdMapping } from '../common/index.js';
import type { HostConfig } from './container-record.js';

/**
 * With daemon remapping on, a container runs in the user namespace unless `--userns host`;
 * the settings that cannot go with a namespaced root are refused in dockerd's words.
 */
export function validateUsernsSettings(remap: IdMapping | undefined, hc: Partial<HostConfig>): void {
  if (!remap || hc['UsernsMode'] === 'host') return;
  if (hc.Privileged) {
    throw new InvalidParameterError('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
  }
  if (hc.NetworkMode === 'host') throw new InvalidParameterError("cannot share the host's network namespace when user namespaces are enabled");
  if (hc['PidMode'] === 'host') throw new InvalidParameterError('cannot share the host PID namespace when user namespaces are enabled');
}

/** The mapping a new container runs with: the daemon's, unless it asked for the host's namespace. */
export function containerIdMapping(remap: IdMapping | undefined, hc: Partial<HostConfig>): IdMapping | undefined {
  return remap && hc['UsernsMode'] !== 'host' ? remap : undefined;
}

/**
 * The namespace's root walks down to the files the runtime binds into the container from inside
 * the namespace: the containers directory lets anyone pass (0711, as other mappings may follow),
 * the container's own lets its root's group in (0710).
 */
export async function openDirsTo(containersDir: string, containerDir: string, m: IdMapping): Promise<void> {
  await chmod(containersDir, 0o711);
  await chown(containerDir, 0, hostRootOf(m).gid);
  await chmod(containerDir, 0o710);
}

/** Hands files (the container's /etc/hosts, hostname, resolv.conf) to the namespace's root. */
export async function giveToNamespaceRoot(paths: string[], m: IdMapping): Promise<void> {
  const { uid, gid } = hostRootOf(m);
  for (const p of paths) {
    try {
      await chown(p, uid, gid);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
}

/** A volume's top directory still owned by host root becomes the namespace root's, as in Docker's remapped root. */
export async function claimVolumeRoot(path: string, m: IdMapping): Promise<void> {
  const st = await lstat(path);
  if (st.uid !== 0 || st.gid !== 0 || !st.isDirectory()) return;
  const { uid, gid } = hostRootOf(m);
  await chown(path, uid, gid);
}

/**
 * The container whose namespaces this one joins (`--net`, `--ipc` or `--pid container:<x>`): it
 * joins x's user namespace too, which those namespaces belong to, as with Docker.
 */
export function joinedContainer(hc: Partial<HostConfig>): string | undefined {
  for (const mode of [hc.NetworkMode, hc['IpcMode'], hc['PidMode']]) {
    if (typeof mode === 'string' && mode.startsWith('container:')) return mode.slice('container:'.length);
  }
  return undefined;
}
