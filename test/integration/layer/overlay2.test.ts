import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Overlay2Driver } from '../../../src/layer/overlay2-driver.js';
import { graphDriverSuite } from './graph-driver-suite.js';

async function skipReason(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root for overlay mounts';
  const probe = await mkdtemp(join(tmpdir(), 'berth-overlay-probe-'));
  try {
    return (await Overlay2Driver.supported(join(probe, 'overlay2'))) ? false : 'overlayfs is not usable under /tmp';
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

graphDriverSuite('overlay2', { make: (root) => new Overlay2Driver({ root }), skip: await skipReason() });
