import { readFile } from 'node:fs/promises';
import { errnoCode } from '../common/index.js';
import { umount2, MNT_DETACH } from '../sys/index.js';

/** /proc/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Mount points currently listed in /proc/self/mounts. */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length >= 2) out.push(unescapeMountField(fields[1]!));
  }
  return out;
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Unmounts path; falls back to a lazy detach when busy. Not mounted is not an error. */
export function unmountPath(path: string): void {
  try {
    umount2(path, 0);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EINVAL' || code === 'ENOENT') return; // not a mount point (any more)
    if (code !== 'EBUSY') throw err;
    umount2(path, MNT_DETACH);
  }
}
