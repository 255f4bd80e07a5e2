import { EngineError, InvalidParameterError, NotImplementedError } from '../common/errors.js';

/** What quotas the backing filesystem offers a graph driver (berth sets no project quotas). */
const QUOTA_UNSUPPORTED = 'Filesystem does not support, or has not enabled quotas';
/** Docker's answer to a per-container size on overlay2 without xfs project quotas. */
export const OVERLAY_STORAGE_OPT_UNSUPPORTED = "--storage-opt is supported only for overlay over xfs with 'pquota' mount option";

/** `key=value` with both sides trimmed, as Docker splits driver options. */
function keyValue(opt: string): [string, string] {
  const eq = opt.indexOf('=');
  if (eq < 0) throw new InvalidParameterError(`unable to parse key/value option: ${opt}`);
  return [opt.slice(0, eq).trim(), opt.slice(eq + 1).trim()];
}

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new InvalidParameterError(`strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

/** A size such as `10G`, `512m`, `1.5gb` (binary units), or Docker's error. */
function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v);
  if (!m) throw new InvalidParameterError(`invalid size: '${v}'`);
  const exp = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** exp);
}

/**
 * Checks the daemon's `--storage-opt` / daemon.json `storage-opts` for the driver in use, with
 * dockerd's words. overlay2: `overlay2.override_kernel_check` (accepted, ignored, as in current
 * Docker) and `overlay2.size` (needs xfs project quotas, which berth does not set: refused);
 * vfs: `size` (needs quotas: refused). Anything else is an unknown option. Returns warnings.
 */
export function checkStorageOptions(driver: 'overlay2' | 'vfs', options: string[], backingFs: string): string[] {
  const warnings: string[] = [];
  for (const opt of options) {
    const [rawKey, value] = keyValue(opt);
    if (driver === 'vfs') {
      if (rawKey !== 'size') throw new InvalidParameterError(`unknown option ${rawKey} for vfs`);
      parseSize(value);
      throw new InvalidParameterError(`failed to set option size for vfs: ${QUOTA_UNSUPPORTED}`);
    }
    const key = rawKey.toLowerCase();
    switch (key) {
      case 'overlay2.override_kernel_check':
        parseBool(value);
        warnings.push('the overlay2.override_kernel_check option is ignored; it can be removed from the configuration');
        break;
      case 'overlay2.size':
        if (parseSize(value) === 0) break;
        if (backingFs === 'xfs') throw new EngineError(`Storage option overlay2.size not supported. Filesystem does not support Project Quota: berthd does not set xfs project quotas`);
        throw new EngineError(`Storage Option overlay2.size only supported for backingFS XFS. Found ${backingFs}`);
      default:
        throw new EngineError(`overlay2: unknown option ${key}`);
    }
  }
  return warnings;
}

/**
 * Checks a container's `HostConfig.StorageOpt` (`--storage-opt size=10G`) as Docker's drivers do
 * when they create the container's layer; berth sets no quotas, so a size is refused.
 */
export function checkContainerStorageOpt(driver: string, storageOpt: Record<string, string> | null | undefined): void {
  const keys = Object.keys(storageOpt ?? {});
  if (keys.length === 0) return;
  if (driver === 'overlay2') throw new EngineError(OVERLAY_STORAGE_OPT_UNSUPPORTED);
  for (const k of keys) {
    if (k !== 'size') throw new InvalidParameterError(`Storage opt ${k} not supported`);
  }
  throw new NotImplementedError(QUOTA_UNSUPPORTED);
}
