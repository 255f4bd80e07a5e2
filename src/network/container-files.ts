import { readFile, writeFile } from 'node:fs/promises';

const HOSTS_BASE = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
`;

export interface ContainerNetFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/**
 * Writes /etc/hostname, /etc/hosts and /etc/resolv.conf for a container into its directory.
 * They are made anew at every start, so a plain write is enough (no fsync on the start path).
 */
export async function writeContainerNetFiles(
  paths: ContainerNetFiles,
  opts: { hostname: string; domainname: string; hostNetwork: boolean; address?: string },
): Promise<void> {
  await writeFile(paths.hostname, `${opts.hostname}\n`);
  let hosts: string;
  if (opts.hostNetwork) {
    hosts = await readFile('/etc/hosts', 'utf8').catch(() => HOSTS_BASE);
  } else {
    hosts = HOSTS_BASE;
    const fqdn = opts.domainname ? `${opts.hostname}.${opts.domainname} ${opts.hostname}` : opts.hostname;
    if (opts.address) hosts += `${opts.address}\t${fqdn}\n`;
  }
  await writeFile(paths.hosts, hosts);
  await writeFile(paths.resolvConf, await containerResolvConf({ hostNetwork: opts.hostNetwork }));
}

/** The host's resolv.conf, minus loopback resolvers a container cannot reach (Google's as fallback, as Docker). */
export async function containerResolvConf(opts: { hostNetwork: boolean }): Promise<string> {
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  if (opts.hostNetwork) return host;
  const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) {
    lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  }
  return lines.filter((l, i, a) => l !== '' || i < a.length - 1).join('\n') + '\n';
}
