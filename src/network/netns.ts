import { access } from 'node:fs/promises';
import { runCommand } from '../sys/run-command.js';
import { pinNetNamespaceIn } from '../sys/idmap-mount.js';

const NETNS_DIR = '/run/netns';

/** Named network namespaces under /run/netns (`ip netns`), one per container sandbox. */
export function netnsName(containerId: string): string {
  return `berth-${containerId}`;
}

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/**
 * Creates the named namespace; with `userns` (a pinned user namespace, userns-remap), owned by
 * that namespace, so that a container in it may mount sysfs and its execs may join it.
 */
export async function createNetns(name: string, userns?: string): Promise<string> {
  if (userns) await pinNetNamespaceIn(userns, netnsPath(name));
  else await runCommand(['ip', 'netns', 'add', name], { timeoutMs: 30_000 });
  return netnsPath(name);
}

export async function netnsExists(name: string): Promise<boolean> {
  return access(netnsPath(name)).then(() => true, () => false);
}

/** Deletes the namespace; a missing one is not an error. */
export async function deleteNetns(name: string): Promise<void> {
  if (!(await netnsExists(name))) return;
  await runCommand(['ip', 'netns', 'delete', name], { timeoutMs: 30_000 });
}
