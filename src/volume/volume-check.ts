import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckProblem } from '../common/index.js';
import type { Db } from '../store/index.js';

/**
 * Volume rows against `<root>/<name>/_data`: each local volume's data directory exists; a
 * directory without a row (a create cut short) is pending: start-up removes it.
 */
export async function checkVolumes(o: { db: Db; root: string }): Promise<{ checked: number; problems: CheckProblem[] }> {
  const problems: CheckProblem[] = [];
  const rows = o.db.prepare('SELECT name, driver FROM volumes').all() as Array<{ name: string; driver: string }>;
  for (const r of rows) {
    if (r.driver === 'local' && !existsSync(join(o.root, r.name, '_data'))) {
      problems.push({ kind: 'inconsistency', subject: `volume ${r.name}`, message: 'data directory is missing' });
    }
  }
  const names = new Set(rows.map((r) => r.name));
  for (const name of await readdir(o.root).catch(() => [] as string[])) {
    if (!names.has(name)) problems.push({ kind: 'pending', subject: `volume directory ${name}`, message: 'directory without a volume' });
  }
  return { checked: rows.length, problems };
}
