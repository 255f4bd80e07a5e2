import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { runCommand } from '../sys/run-command.js';
import { FIREWALL_LOCK } from './netavark-driver.js';

async function natCall(args: string[]): Promise<number> {
  const r = await runCommand(['flock', '-o', FIREWALL_LOCK, 'iptables', '-w', '-t', 'nat', ...args], { okCodes: [1, 2, 4], timeoutMs: 30_000 })
    .catch(() => ({ code: 1 }));
  return r.code;
}

/** Is any interface still enslaved to the bridge (a container, or the network's anchor)? */
async function bridgeInUse(bridge: string): Promise<boolean> {
  if (!bridge) return false;
  try {
    return (await readdir(`/sys/class/net/${bridge}/brif`)).length > 0;
  } catch {
    return false;
  }
}

/**
 * A network's masquerade chain (`NETAVARK-<hash of the network id>` in the nat table, with its
 * jump from POSTROUTING) goes with the network's last endpoint. A teardown cut short (netavark
 * killed, the host's firewall busy) leaves part of it; once nothing is attached to the bridge
 * any more, berthd removes what is left. A network still in use is never touched.
 */
export async function dropLeftoverNatChain(networkId: string, subnet: string, bridge: string): Promise<void> {
  if (!subnet || await bridgeInUse(bridge)) return;
  const chain = `NETAVARK-${createHash('sha512').update(networkId).digest('hex').slice(0, 13).toUpperCase()}`;
  for (let i = 0; i < 4; i++) {
    if ((await natCall(['-D', 'POSTROUTING', '-s', subnet, '-j', chain])) !== 0) break;
  }
  await natCall(['-F', chain]);
  await natCall(['-X', chain]);
}
