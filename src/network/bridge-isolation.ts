import { createHash } from 'node:crypto';
import { runCommand } from '../sys/run-command.js';
import { FIREWALL_LOCK } from './netavark-driver.js';

const STAGE1 = 'BERTH-ISOLATION-1';
const STAGE2 = 'BERTH-ISOLATION-2';

async function iptables(args: string[], okCodes: number[] = []): Promise<number> {
  const r = await runCommand(['flock', '-o', FIREWALL_LOCK, 'iptables', '-w', ...args], { okCodes, timeoutMs: 30_000 });
  return r.code;
}

/**
 * Keeps bridges of different networks apart, as Docker's isolation chains do: traffic that enters
 * from one berth bridge and leaves through another is dropped. Rules exist while their network does.
 */
export class BridgeIsolation {
  private ready: Promise<void> | undefined;

  constructor(private readonly enabled: boolean) {}

  private ensureChains(): Promise<void> {
    this.ready ??= (async () => {
      await iptables(['-N', STAGE1], [1]);
      await iptables(['-N', STAGE2], [1]);
      if ((await iptables(['-C', 'FORWARD', '-j', STAGE1], [1])) !== 0) await iptables(['-I', 'FORWARD', '1', '-j', STAGE1]);
    })();
    return this.ready;
  }

  /**
   * Puts a network's bridge under the isolation rules. With `icc` false, traffic between two
   * containers of that network is dropped too (Docker's `--icc=false` and `enable_icc` option):
   * bridged frames pass through FORWARD, in from the bridge and out to it.
   */
  async add(bridge: string, icc = true): Promise<void> {
    if (!this.enabled) return;
    await this.ensureChains();
    const r1 = ['-i', bridge, '!', '-o', bridge, '-j', STAGE2];
    const r2 = ['-o', bridge, '-j', 'DROP'];
    const noIcc = ['-i', bridge, '-o', bridge, '-j', 'DROP'];
    if ((await iptables(['-C', STAGE1, ...r1], [1])) !== 0) await iptables(['-A', STAGE1, ...r1]);
    if ((await iptables(['-C', STAGE2, ...r2], [1])) !== 0) await iptables(['-A', STAGE2, ...r2]);
    const hasNoIcc = (await iptables(['-C', STAGE1, ...noIcc], [1])) === 0;
    if (!icc && !hasNoIcc) await iptables(['-A', STAGE1, ...noIcc]);
    if (icc && hasNoIcc) await iptables(['-D', STAGE1, ...noIcc], [1, 2]);
  }

  async remove(bridge: string): Promise<void> {
    if (!this.enabled) return;
    await iptables(['-D', STAGE1, '-i', bridge, '!', '-o', bridge, '-j', STAGE2], [1, 2]);
    await iptables(['-D', STAGE2, '-o', bridge, '-j', 'DROP'], [1, 2]);
    await iptables(['-D', STAGE1, '-i', bridge, '-o', bridge, '-j', 'DROP'], [1, 2]);
  }
}

/**
 * netavark leaves a network's port-forwarding chain behind when the network's last container to
 * leave had no published ports; once the network is gone (or its bridge is down) berthd deletes
 * it if empty. netavark names it after a hash of the network name (berth passes the network id).
 */
export async function dropEmptyPortChain(networkId: string): Promise<void> {
  const chain = `NETAVARK-DN-${createHash('sha512').update(networkId).digest('hex').slice(0, 13).toUpperCase()}`;
  await runCommand(['flock', '-o', FIREWALL_LOCK, 'iptables', '-w', '-t', 'nat', '-X', chain], { okCodes: [1, 2, 4], timeoutMs: 30_000 }).catch(() => undefined);
}
