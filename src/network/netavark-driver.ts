import { mkdir } from 'node:fs/promises';
import { SystemError, SubprocessError } from '../common/errors.js';
import { runCommand } from '../sys/run-command.js';
import { noFirewallPath } from './no-firewall.js';

/**
 * Serialises firewall changes across processes: iptables' nf_tables backend does not take the
 * xtables lock, and concurrent rule changes can fail half-way.
 */
export const FIREWALL_LOCK = '/run/lock/berth-firewall.lock';

/** One network as netavark takes it (`network_info` entries). */
export interface NetavarkNetwork {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  subnets: Array<{ subnet: string; gateway?: string; lease_range?: { start_ip?: string; end_ip?: string } }>;
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  ipam_options: { driver: 'host-local' };
  options?: Record<string, string>;
}

export interface NetavarkAttachment {
  interface_name: string;
  static_ips: string[];
  static_mac?: string;
  aliases?: string[];
}

export interface NetavarkPortMapping {
  host_ip: string;
  container_port: number;
  host_port: number;
  range: number;
  protocol: string;
}

export interface NetavarkConfig {
  container_id: string;
  container_name: string;
  networks: Record<string, NetavarkAttachment>;
  network_info: Record<string, NetavarkNetwork>;
  port_mappings?: NetavarkPortMapping[];
  dns_servers?: string[];
}

export interface NetavarkStatus {
  dns_server_ips?: string[];
  dns_search_domains?: string[];
  interfaces?: Record<string, { mac_address: string; subnets?: Array<{ ipnet: string; gateway?: string }> }>;
}

/** Runs `netavark setup|teardown` with berthd's own config directory (aardvark-dns state lives there). */
export class NetavarkDriver {
  private dirReady: Promise<unknown> | undefined;

  private pathReady: Promise<string> | undefined;

  /** `noFirewallDir`: where the iptables stand-ins that change nothing go (iptables=false). */
  constructor(private readonly o: { binary: string; aardvarkBinary: string; configDir: string; noFirewallDir?: string }) {}

  private argv(cmd: 'setup' | 'teardown', netns: string): string[] {
    const own = [this.o.binary, '--config', this.o.configDir, '--aardvark-binary', this.o.aardvarkBinary, '--rootless', 'false', cmd, netns];
    // One host-wide lock: other berthds (and their netavark calls) change the same tables.
    return this.o.noFirewallDir ? own : ['flock', '-o', FIREWALL_LOCK, ...own];
  }

  private async run(cmd: 'setup' | 'teardown', netns: string, config: NetavarkConfig): Promise<string> {
    this.dirReady ??= mkdir(this.o.configDir, { recursive: true, mode: 0o700 });
    await this.dirReady;
    const argv = this.argv(cmd, netns);
    const env: NodeJS.ProcessEnv = { ...process.env, NETAVARK_FW: 'iptables' };
    if (this.o.noFirewallDir) {
      this.pathReady ??= noFirewallPath(this.o.noFirewallDir);
      env['PATH'] = await this.pathReady.catch((err: Error) => { this.pathReady = undefined; throw new SystemError(`netavark ${cmd}: ${err.message}`, { cause: err }); });
    }
    let r: { stdout: string; stderr: string; code: number };
    try {
      r = await runCommand(argv, { input: JSON.stringify(config), timeoutMs: 60_000, okCodes: [1], env });
    } catch (err) {
      throw new SystemError(`netavark ${cmd}: ${(err as Error).message}`, { cause: err });
    }
    if (r.code === 0) return r.stdout;
    // netavark reports failures as {"error": "..."} on stdout; keep its words.
    let msg = (r.stderr.trim() || r.stdout.trim()).slice(-2000) || `exit ${r.code}`;
    try {
      const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { error?: string };
      if (j.error) msg = j.error;
    } catch { /* not JSON */ }
    throw new SubprocessError(`netavark ${cmd}: ${msg}`, { argv, exitCode: r.code, signal: null, stderrTail: r.stderr.slice(-4096) });
  }

  async setup(netns: string, config: NetavarkConfig): Promise<Record<string, NetavarkStatus>> {
    const out = await this.run('setup', netns, config);
    try {
      return JSON.parse(out) as Record<string, NetavarkStatus>;
    } catch {
      return {};
    }
  }

  async teardown(netns: string, config: NetavarkConfig): Promise<void> {
    await this.run('teardown', netns, config);
  }
}
