import { existsSync } from 'node:fs';
import { runCommand } from '../sys/run-command.js';

export const NETNS_DIR = '/run/netns';

/** A named network namespace (ip netns) with loopback up; returns its path. */
export async function createNetns(name: string): Promise<string> {
  await runCommand(['ip', 'netns', 'add', name]);
  try {
    await runCommand(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await deleteNetns(name);
    throw err;
  }
  return `${NETNS_DIR}/${name}`;
}

export async function deleteNetns(name: string): Promise<void> {
  if (!existsSync(`${NETNS_DIR}/${name}`)) return;
  await runCommand(['ip', 'netns', 'delete', name], { okCodes: [1] });
}

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}
