import { mkdir } from 'node:fs/promises';
import { SystemError, SubprocessError } from '../common/errors.js';
import { runCommand } from '../sys/run-command.js';

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

  constructor(private readonly o: { binary: string; aardvarkBinary: string; configDir: string }) {}

  private argv(cmd: 'setup' | 'teardown', netns: string): string[] {
    return [this.o.binary, '--config', this.o.configDir, '--aardvark-binary', this.o.aardvarkBinary, '--rootless', 'false', cmd, netns];
  }

  private async run(cmd: 'setup' | 'teardown', netns: string, config: NetavarkConfig): Promise<string> {
    this.dirReady ??= mkdir(this.o.configDir, { recursive: true, mode: 0o700 });
    await this.dirReady;
    try {
      const { stdout } = await runCommand(this.argv(cmd, netns), { input: JSON.stringify(config), timeoutMs: 60_000, env: { ...process.env, NETAVARK_FW: 'iptables' } });
      return stdout;
    } catch (err) {
      // netavark reports {"error": "..."} on stdout or stderr; keep its words.
      const text = err instanceof SubprocessError ? err.failure.stderrTail : '';
      const m = /"error"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text);
      const msg = m ? JSON.parse(`"${m[1]!}"`) as string : (err as Error).message;
      throw new SystemError(`netavark ${cmd}: ${msg}`, { cause: err });
    }
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
