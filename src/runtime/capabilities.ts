import { InvalidParameterError } from '../common/index.js';

/** Linux capabilities by bit number (capability.h), as the OCI spec names them. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default capability set for unprivileged containers. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Capability names from a CapBnd/CapEff hex mask as /proc/<pid>/status prints it. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt('0x' + hex.trim());
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** `chown`, `CAP_CHOWN`, `Cap_Chown` -> `CAP_CHOWN`; `all` -> `ALL`; unknown -> InvalidParameterError. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) throw new InvalidParameterError(`unknown capability: "${full}"`);
  return full;
}

/**
 * The capability set of a container, following Docker's rules: `ALL` in capAdd grants every
 * capability (minus capDrop); `ALL` in capDrop keeps only capAdd; otherwise the defaults minus
 * capDrop plus capAdd. "Every capability" means every one the host bounding set holds; naming a
 * capability the host cannot grant is an error rather than a runtime failure later.
 */
export function resolveCapabilities(opts: {
  privileged: boolean;
  capAdd: readonly string[];
  capDrop: readonly string[];
  capBound: readonly string[];
}): string[] {
  const bound = new Set(opts.capBound);
  const hostAll = ALL_CAPABILITIES.filter((c) => bound.has(c));
  if (opts.privileged) return hostAll;
  const add = opts.capAdd.map(normalizeCapability);
  const drop = opts.capDrop.map(normalizeCapability);
  let caps: string[];
  if (add.includes('ALL')) {
    caps = hostAll.filter((c) => !drop.includes(c));
  } else if (drop.includes('ALL')) {
    caps = add;
  } else {
    caps = DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c) && bound.has(c)).concat(add);
  }
  const out: string[] = [];
  for (const c of caps) {
    if (c === 'ALL' || out.includes(c)) continue;
    if (!bound.has(c)) {
      throw new InvalidParameterError(`capability ${c} is not in the host's capability bounding set`);
    }
    out.push(c);
  }
  return out;
}
