import { readFile, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameterError, errnoCode } from '../common/errors.js';
import { mount, umount2, MS, MNT_DETACH } from '../sys/index.js';
import { parseByteSize } from './mount-spec.js';

const VALID_OPTS = ['type', 'device', 'o', 'size'];

/** The `local` driver's option rules (`-o type=tmpfs,device=tmpfs,o=size=64m`), with Docker's messages. */
export function validateLocalOptions(name: string, opts: Record<string, string>): void {
  for (const k of Object.keys(opts)) {
    if (!VALID_OPTS.includes(k)) throw new InvalidParameterError(`create ${name}: invalid option: "${k}"`);
  }
  const has = (k: string): boolean => k in opts;
  if (has('device') && !has('type')) throw new InvalidParameterError(`create ${name}: missing required option: "type"`);
  if (has('type') && !has('device')) throw new InvalidParameterError(`create ${name}: missing required option: "device"`);
  if (has('o') && (!has('type') || !has('device'))) {
    throw new InvalidParameterError(`create ${name}: missing required option: "${has('type') ? 'device' : 'type'}"`);
  }
  if (has('size')) {
    if (parseByteSize(opts['size']!) === undefined) throw new InvalidParameterError(`create ${name}: invalid size: "${opts['size']}"`);
    if (has('type')) throw new InvalidParameterError(`create ${name}: size option only applies to volumes without type (use o=size= for tmpfs)`);
    throw new InvalidParameterError(`create ${name}: quota size requested but no quota support`);
  }
}

/** Does this volume need a mount of its own (rather than being a plain directory)? */
export function needsMount(opts: Record<string, string> | null): boolean {
  return Boolean(opts && (opts['type'] || opts['device']));
}

const FLAG_TABLE: Record<string, [clear: boolean, flag: number]> = {
  ro: [false, MS.RDONLY], rw: [true, MS.RDONLY],
  nosuid: [false, MS.NOSUID], suid: [true, MS.NOSUID],
  nodev: [false, MS.NODEV], dev: [true, MS.NODEV],
  noexec: [false, MS.NOEXEC], exec: [true, MS.NOEXEC],
  bind: [false, MS.BIND], rbind: [false, MS.BIND | MS.REC],
  sync: [false, 16], async: [true, 16],
  noatime: [false, 1024], atime: [true, 1024],
  nodiratime: [false, 2048], diratime: [true, 2048],
  relatime: [false, 1 << 21], norelatime: [true, 1 << 21],
  strictatime: [false, 1 << 24], nostrictatime: [true, 1 << 24],
  defaults: [false, 0],
};

/** Splits an `o=` value into mount flags and filesystem data, as mount(8) does. */
export function parseMountOptions(o: string): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const opt of o.split(',').filter(Boolean)) {
    const f = FLAG_TABLE[opt];
    if (f) {
      if (f[0]) flags &= ~f[1];
      else flags |= f[1];
    } else {
      data.push(opt);
    }
  }
  return { flags, data: data.join(',') };
}

/** Mounts a volume's device on its data directory, as the local driver does at first use. */
export function mountLocal(dataDir: string, opts: Record<string, string>): void {
  const { flags, data } = parseMountOptions(opts['o'] ?? '');
  const device = opts['device'] ?? '';
  const type = opts['type'] ?? '';
  if (type === 'none' || flags & MS.BIND) {
    // A bind needs a resolved host path.
    if (!device.startsWith('/')) throw new InvalidParameterError(`invalid device for bind mount: ${device}`);
  }
  mount(device, dataDir, type === 'none' ? null : type, flags, data || null);
}

export function unmountLocal(dataDir: string): void {
  try {
    umount2(dataDir, 0);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EINVAL' || code === 'ENOENT') return;
    if (code !== 'EBUSY') throw err;
    umount2(dataDir, MNT_DETACH);
  }
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export async function isMounted(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').some((l) => unescapeMountField(l.split(' ')[1] ?? '') === path);
}

/** Bytes used by the files under dir (apparent sizes, each inode once). */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try { names = await readdir(d); } catch { return; }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try { st = await lstat(p, { bigint: true }); } catch { continue; }
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (st.isDirectory()) await walk(p);
      else total += Number(st.size);
    }
  };
  await walk(dir);
  return total;
}
