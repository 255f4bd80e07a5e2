import { lstat, readlink } from 'node:fs/promises';
import { SystemError, errnoCode } from '../common/index.js';

const MAX_SYMLINKS = 255;

/**
 * Resolves `path` as if `rootfs` were `/`: symlinks are followed, but absolute targets and `..`
 * stay inside rootfs, so a link in an image can never point the engine at a host file. Missing
 * components are kept lexically (the result may not exist).
 */
export async function resolveInRootfs(rootfs: string, path: string): Promise<string> {
  const root = rootfs.replace(/\/+$/, '') || '/';
  let pending = path.split('/').filter((s) => s.length > 0);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') { done.pop(); continue; }
    const candidate = root + '/' + [...done, part].join('/');
    let isLink = false;
    try {
      isLink = (await lstat(candidate)).isSymbolicLink();
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
    }
    if (!isLink) { done.push(part); continue; }
    if (++links > MAX_SYMLINKS) throw new SystemError(`too many symlinks resolving ${path} in ${rootfs}`);
    const target = await readlink(candidate);
    const targetParts = target.split('/').filter((s) => s.length > 0);
    if (target.startsWith('/')) done.length = 0;
    pending = [...targetParts, ...pending];
  }
  return root === '/' ? '/' + done.join('/') : root + (done.length ? '/' + done.join('/') : '');
}
