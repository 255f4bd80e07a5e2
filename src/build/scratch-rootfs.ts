import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomId, type ChainId } from '../common/ids.js';
import type { LayerStore } from '../layer/index.js';

/**
 * Temporary rw layers over a layer chain, mounted for the builder to read from or write into
 * (COPY, ADD, WORKDIR); what was written is registered as a new layer. A marker file per layer
 * lets start-up remove the ones a crash left behind.
 */
export class ScratchRootfs {
  constructor(private readonly layers: LayerStore, private readonly markerDir: string) {}

  async sweep(): Promise<void> {
    let names: string[] = [];
    try { names = await readdir(this.markerDir); } catch { /* none yet */ }
    for (const id of names) {
      await this.layers.unmountRw(id).catch(() => undefined);
      await this.layers.removeRwLayer(id).catch(() => undefined);
      await rm(join(this.markerDir, id), { force: true });
    }
    await mkdir(this.markerDir, { recursive: true, mode: 0o700 });
  }

  async with<T>(top: ChainId | null, fn: (root: string) => Promise<T>, opts: { commit: boolean }): Promise<{ value: T; layer?: { chainId: ChainId; diffId: string } }> {
    const id = `build-${randomId().slice(0, 24)}`;
    const marker = join(this.markerDir, id);
    await writeFile(marker, '');
    try {
      await this.layers.createRwLayer(id, top);
      const root = await this.layers.mountRw(id);
      let value: T;
      try {
        value = await fn(root);
      } finally {
        await this.layers.unmountRw(id);
      }
      if (!opts.commit) return { value };
      const reg = await this.layers.register(await this.layers.diffRw(id), top);
      return { value, layer: reg };
    } finally {
      await this.layers.removeRwLayer(id).catch(() => undefined);
      await rm(marker, { force: true });
    }
  }
}
