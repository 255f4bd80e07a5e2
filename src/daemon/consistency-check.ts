import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckProblem, CheckReport } from '../common/index.js';
import type { Db } from '../store/index.js';
import type { BlobStore } from '../store/index.js';
import { checkLayers, type GraphDriver } from '../layer/index.js';
import { checkImages, imageTopLayers } from '../image/index.js';
import { checkContainers } from '../container/index.js';
import { checkVolumes } from '../volume/index.js';
import { checkBuildState } from '../build/index.js';
import { checkNetworks } from '../network/index.js';
import { checkLayerBlobs } from '../distribution/index.js';

export interface ConsistencyCheckOptions {
  db: Db;
  driver: GraphDriver;
  blobs: BlobStore;
  dataRoot: string;
  execRoot: string;
  /**
   * Offline (`berthd --check`, no daemon): half-done work is `pending`, since the next start
   * finishes it. Online (`GET /_berth/check`), start-up has already swept, so it is a problem.
   */
  offline: boolean;
  /** Online: is a pull under way? Its blobs are not recorded yet, so layer blobs are not checked then. */
  pullsBusy?: () => boolean;
}

/** Mount points under the data root, from /proc/mounts. */
function mountsUnder(root: string): string[] {
  let text = '';
  try { text = readFileSync('/proc/mounts', 'utf8'); } catch { return []; }
  return text.split('\n').map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' ')).filter((m) => m.startsWith(`${root}/`));
}

/**
 * Verifies the metadata against the disk, asking each subsystem to check what it owns, and the
 * mounts against the containers that may hold them.
 */
export async function runConsistencyCheck(o: ConsistencyCheckOptions): Promise<CheckReport> {
  const problems: CheckProblem[] = [];
  const checked: Record<string, number> = {};
  const live = new Set((o.db.prepare('SELECT id, record FROM containers WHERE incomplete = 0').all() as Array<{ id: string; record: string }>)
    .filter((r) => { try { return ['running', 'paused', 'restarting'].includes((JSON.parse(r.record) as { state: { status: string } }).state.status); } catch { return false; } })
    .map((r) => r.id));
  const containers = await checkContainers({ db: o.db, dataRoot: o.dataRoot, execRoot: o.execRoot });
  checked['containers'] = containers.checked;
  const build = await checkBuildState({ db: o.db, scratchDir: join(o.dataRoot, 'build', 'scratch-layers'), tmpRoot: join(o.dataRoot, 'build', 'tmp') });
  checked['build cache entries'] = build.checked;
  const images = await checkImages({ db: o.db, blobs: o.blobs });
  checked['images'] = images.checked;
  const rwLayerIds = new Set([...containers.rwLayerIds, ...build.scratchLayerIds]);
  const layers = await checkLayers({
    db: o.db, driver: o.driver, rwLayerIds, referencedTops: new Set([...imageTopLayers(o.db), ...build.topLayers]),
  });
  checked['layers'] = layers.checked;
  const volumes = await checkVolumes({ db: o.db, root: join(o.dataRoot, 'volumes') });
  checked['volumes'] = volumes.checked;
  const networks = await checkNetworks({ db: o.db, runningIds: live });
  checked['networks and endpoints'] = networks.checked;
  problems.push(...containers.problems, ...build.problems, ...images.problems, ...layers.problems, ...volumes.problems, ...networks.problems);
  if (!o.pullsBusy?.()) {
    const layerBlobs = await checkLayerBlobs({ db: o.db, blobs: o.blobs, offline: o.offline });
    checked['layer blobs'] = layerBlobs.checked;
    problems.push(...layerBlobs.problems);
  }

  // A mount under the data root belongs to a running container (its rootfs or a volume device).
  for (const m of mountsUnder(o.dataRoot)) {
    const rel = m.slice(o.dataRoot.length + 1).split('/');
    if (rel[0] === o.driver.name && rel[2] === 'merged' && live.has(rel[1] ?? '')) continue;
    if (rel[0] === o.driver.name && rel[1] === 'dir' && live.has(rel[2] ?? '')) continue;
    if (rel[0] === 'volumes' && rel[2] === '_data') continue;
    if (rel[0] === 'containers' && live.has(rel[1] ?? '')) continue;
    problems.push({ kind: o.offline ? 'pending' : 'leak', subject: `mount ${m}`, message: 'mounted, but no running container holds it' });
  }
  if (!o.offline) {
    for (const p of problems) {
      if (p.kind === 'pending') { p.kind = 'inconsistency'; p.message += ' (start-up did not finish it)'; }
    }
  }
  return { checked, problems };
}

/** The graph driver an existing data root was made with (vfs when only its directory exists). */
export function existingDriver(dataRoot: string): 'vfs' | undefined {
  return existsSync(join(dataRoot, 'vfs')) && !existsSync(join(dataRoot, 'overlay2')) ? 'vfs' : undefined;
}
