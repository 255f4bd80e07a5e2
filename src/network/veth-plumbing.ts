import { randomBytes } from 'node:crypto';
import { runCommand } from '../sys/run-command.js';
import { createNetns } from './netns.js';

export interface VethPlan {
  /** The namespace's name under /run/netns; it is created here. */
  netns: string;
  bridge: string;
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  /** The IPv6 address, prefix and gateway on a bridge with IPv6. */
  ipv6?: { ip: string; prefix: number; gateway: string };
  /** The pinned user namespace the network namespace belongs to (userns-remap). */
  userns?: string;
}

/**
 * Creates a named namespace and connects it to a bridge that is already up with its rules in
 * place (an anchored network): namespace, veth pair, address, MAC and default route in two
 * `ip -batch` calls (about 4 ms, where a netavark setup spends 40 ms re-checking firewall rules
 * that are all there).
 */
export async function plumbNamespace(p: VethPlan): Promise<void> {
  const host = `veth${randomBytes(4).toString('hex')}`;
  if (p.userns) await createNetns(p.netns, p.userns);
  await runCommand(['ip', '-batch', '-'], {
    input: `${p.userns ? '' : `netns add ${p.netns}\n`}link add ${host} type veth peer name eth0 netns ${p.netns}\nlink set ${host} master ${p.bridge} up\n`,
    timeoutMs: 30_000,
  });
  await runCommand(['ip', '-n', p.netns, '-batch', '-'], {
    input: `link set eth0 address ${p.mac}\naddr add ${p.ip}/${p.prefix} dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via ${p.gateway}\n${
      // No duplicate address detection (as netavark): the pool's leases are unique, and the address works at once.
      p.ipv6 ? `addr add ${p.ipv6.ip}/${p.ipv6.prefix} dev eth0 nodad\nroute add default via ${p.ipv6.gateway}\n` : ''}`,
    timeoutMs: 30_000,
  });
}
