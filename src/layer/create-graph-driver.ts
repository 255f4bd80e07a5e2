import { join } from 'node:path';
import { UnavailableError } from '../common/index.js';
import type { GraphDriver } from './graph-driver.js';
import { Overlay2Driver } from './overlay2-driver.js';
import { VfsDriver } from './vfs-driver.js';

export interface CreateGraphDriverOptions {
  /** The daemon's data root; drivers live in `<root>/overlay2` and `<root>/vfs`. */
  root: string;
  /** Forces a driver; overlay2 is used only when the kernel and filesystem support it. */
  preferred?: 'overlay2' | 'vfs';
}

/** Picks overlay2 when overlayfs works under the data root, vfs otherwise; an explicit but unsupported overlay2 is an error. */
export async function createGraphDriver(opts: CreateGraphDriverOptions): Promise<GraphDriver> {
  const vfs = (): GraphDriver => new VfsDriver({ root: join(opts.root, 'vfs') });
  if (opts.preferred === 'vfs') return vfs();
  const overlayRoot = join(opts.root, 'overlay2');
  if (await Overlay2Driver.supported(overlayRoot)) return new Overlay2Driver({ root: overlayRoot });
  if (opts.preferred === 'overlay2') {
    throw new UnavailableError(`storage driver overlay2 is not supported under ${opts.root}`);
  }
  return vfs();
}
