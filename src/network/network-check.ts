import { existsSync } from 'node:fs';
import type { CheckProblem } from '../common/index.js';
import type { Db } from '../store/index.js';
import { netnsPath } from './netns.js';

/**
 * Network rows against the containers and the host: every endpoint (an address lease) names an
 * existing network and container; an active sandbox belongs to a running container and its
 * namespace exists; a container that is not running holds no namespace.
 */
export async function checkNetworks(o: { db: Db; runningIds: ReadonlySet<string> }): Promise<{ checked: number; problems: CheckProblem[] }> {
  const problems: CheckProblem[] = [];
  const rows = o.db.prepare('SELECT id, record FROM networks').all() as Array<{ id: string; record: string }>;
  const networks = new Set(rows.map((r) => r.id));
  const bridges = new Set(rows.filter((r) => { try { return (JSON.parse(r.record) as { driver?: string }).driver === 'bridge'; } catch { return false; } }).map((r) => r.id));
  const activeSandboxes = new Set((o.db.prepare('SELECT container_id FROM network_sandboxes WHERE active = 1').all() as Array<{ container_id: string }>).map((r) => r.container_id));
  const containers = new Set((o.db.prepare('SELECT id FROM containers').all() as Array<{ id: string }>).map((r) => r.id));
  const endpoints = o.db.prepare('SELECT container_id, network_id, ip FROM network_endpoints').all() as Array<{ container_id: string; network_id: string; ip: string | null }>;
  for (const e of endpoints) {
    const subject = `endpoint ${e.container_id.slice(0, 12)} on ${e.network_id.slice(0, 12)}${e.ip ? ` (${e.ip})` : ''}`;
    if (!networks.has(e.network_id)) problems.push({ kind: 'inconsistency', subject, message: 'network is missing' });
    if (!containers.has(e.container_id)) problems.push({ kind: 'leak', subject, message: 'lease held for a container that does not exist' });
    else if (bridges.has(e.network_id) && o.runningIds.has(e.container_id) && activeSandboxes.has(e.container_id) && !e.ip) {
      problems.push({ kind: 'inconsistency', subject, message: 'a running container\'s endpoint without an address' });
    }
  }
  const sandboxes = o.db.prepare('SELECT container_id, netns, active FROM network_sandboxes').all() as Array<{ container_id: string; netns: string; active: number }>;
  for (const s of sandboxes) {
    const subject = `sandbox ${s.container_id.slice(0, 12)}`;
    if (!containers.has(s.container_id)) problems.push({ kind: 'leak', subject, message: 'sandbox of a container that does not exist' });
    else if (s.active && !o.runningIds.has(s.container_id)) problems.push({ kind: 'pending', subject, message: 'active sandbox of a container that is not running' });
    else if (s.active && s.netns && !existsSync(s.netns.startsWith('/') ? s.netns : netnsPath(s.netns))) problems.push({ kind: 'inconsistency', subject, message: `network namespace ${s.netns} is missing` });
  }
  for (const id of containers) {
    const ns = netnsPath(`berth-${id}`);
    if (!o.runningIds.has(id) && existsSync(ns)) problems.push({ kind: 'leak', subject: `netns ${ns}`, message: 'namespace of a container that is not running' });
  }
  return { checked: networks.size + endpoints.length, problems };
}
