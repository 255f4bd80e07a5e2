import { chmod, mkdir, writeFile } from 'node:fs/promises';

/**
 * `--iptables=false`: netavark 1.4 has no firewall driver that leaves the firewall alone, but it
 * changes the firewall only by running `iptables` and `ip6tables` through PATH. berthd runs it
 * with a PATH whose first directory holds stand-ins for both that change nothing: they answer
 * `--version` (netavark reads it once) and succeed for every other call, so netavark believes its
 * rules are in place and never removes any.
 */
const STAND_IN = `#!/bin/sh
# berthd runs with iptables=false: netavark's firewall calls change nothing.
for a in "$@"; do
  if [ "$a" = "--version" ] || [ "$a" = "-V" ]; then echo "iptables v1.8.9 (berthd: firewall left alone)"; fi
done
exit 0
`;

/** Writes the stand-ins into `dir` and returns the PATH netavark runs with. */
export async function noFirewallPath(dir: string, path = process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const name of ['iptables', 'ip6tables']) {
    await writeFile(`${dir}/${name}`, STAND_IN, { mode: 0o755 });
    await chmod(`${dir}/${name}`, 0o755);
  }
  return `${dir}:${path}`;
}
