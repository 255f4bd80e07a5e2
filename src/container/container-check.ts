import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckProblem } from '../common/index.js';
import type { Db } from '../store/index.js';
import type { ContainerRecord } from './container-record.js';

export interface ContainerCheckOptions {
  db: Db;
  dataRoot: string;
  execRoot: string;
}

/**
 * Container rows against the images, volumes and files they name: the image row exists, the
 * container's directory exists, every named volume exists; directories of containers without a
 * row leak; rows still marked incomplete are pending. Returns the ids whose rw layers must exist.
 */
export async function checkContainers(o: ContainerCheckOptions): Promise<{ checked: number; problems: CheckProblem[]; rwLayerIds: Set<string> }> {
  const problems: CheckProblem[] = [];
  const rows = o.db.prepare('SELECT id, image_id, record, incomplete FROM containers').all() as Array<{ id: string; image_id: string; record: string; incomplete: number }>;
  const images = new Set((o.db.prepare('SELECT id FROM images').all() as Array<{ id: string }>).map((r) => r.id));
  const volumes = new Set((o.db.prepare('SELECT name FROM volumes').all() as Array<{ name: string }>).map((r) => r.name));
  const rwLayerIds = new Set<string>();
  for (const r of rows) {
    const subject = `container ${r.id}`;
    if (r.incomplete !== 0) {
      problems.push({ kind: 'pending', subject, message: 'incomplete create' });
      continue;
    }
    rwLayerIds.add(r.id);
    let rec: ContainerRecord;
    try {
      rec = JSON.parse(r.record) as ContainerRecord;
    } catch {
      problems.push({ kind: 'inconsistency', subject, message: 'record is not JSON' });
      continue;
    }
    if (!images.has(r.image_id)) problems.push({ kind: 'inconsistency', subject, message: `image ${r.image_id} is missing` });
    if (!existsSync(join(o.dataRoot, 'containers', r.id))) problems.push({ kind: 'inconsistency', subject, message: 'container directory is missing' });
    for (const m of rec.mountPoints ?? []) {
      if (m.type === 'volume' && m.name && !volumes.has(m.name)) problems.push({ kind: 'inconsistency', subject, message: `volume ${m.name} is missing` });
    }
  }
  const ids = new Set(rows.map((r) => r.id));
  for (const dir of [join(o.dataRoot, 'containers'), join(o.execRoot, 'containers')]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!ids.has(name)) problems.push({ kind: 'leak', subject: `directory ${join(dir, name)}`, message: 'container files without a container' });
    }
  }
  return { checked: rows.length, problems, rwLayerIds };
}
