import { readFileSync, statSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { EngineError, errorMessage, hostRootOf, type IdMap, type IdMapping } from '../common/index.js';
import type { Logger } from '../common/log.js';
import { runCommand } from '../sys/index.js';

/** The name `default` stands for, as with Docker (so existing /etc/subuid setups work). */
export const DEFAULT_REMAP_USER = 'dockremap';
const RANGE_START = 100000;
const RANGE_LENGTH = 65536;

interface PasswdEntry { name: string; uid: number; gid: number }
interface GroupEntry { name: string; gid: number }
export interface SubIdRange { name: string; start: number; length: number }

/** Where the lookups read (files, so tests can point them elsewhere). */
export interface RemapFiles {
  passwd: string;
  group: string;
  subuid: string;
  subgid: string;
}

const SYSTEM_FILES: RemapFiles = { passwd: '/etc/passwd', group: '/etc/group', subuid: '/etc/subuid', subgid: '/etc/subgid' };

function readLines(path: string): string[][] {
  let text = '';
  try { text = readFileSync(path, 'utf8'); } catch { return []; }
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

function passwd(files: RemapFiles): PasswdEntry[] {
  return readLines(files.passwd).filter((f) => f.length >= 4).map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
}

function groups(files: RemapFiles): GroupEntry[] {
  return readLines(files.group).filter((f) => f.length >= 3).map((f) => ({ name: f[0]!, gid: Number(f[2]) }));
}

/** The entries of an /etc/subuid-style file: `name-or-uid:start:length`. */
export function parseSubIds(text: string): SubIdRange[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, start: Number(f[1]), length: Number(f[2]) }));
}

function readSubIds(path: string): SubIdRange[] {
  try { return parseSubIds(readFileSync(path, 'utf8')); } catch { return []; }
}

const notFound = (key: string | number, db: string): string => `getent unable to find entry "${key}" in ${db} database`;

/**
 * Resolves a `userns-remap` value (`user`, `user:group`, `uid`, `uid:gid`, `default`) to the user
 * and group names whose subordinate ranges are used, in dockerd's words when one is missing.
 * `default` names dockremap; `createDefault` is called when that user does not exist yet.
 */
export async function resolveRemapNames(
  value: string, files: RemapFiles, createDefault: () => Promise<void>,
): Promise<{ user: string; group: string }> {
  const parts = value.split(':');
  if (parts.length > 2) throw new EngineError(`Invalid user/group specification in --userns-remap: "${value}"`);
  const [userPart, groupPart] = parts as [string, string | undefined];
  let user: string;
  let group = '';
  if (/^-?\d+$/.test(userPart) && Math.abs(Number(userPart)) < 2 ** 31) {
    const uid = Number(userPart);
    const u = passwd(files).find((e) => e.uid === uid);
    if (!u) throw new EngineError(`Uid ${uid} has no entry in /etc/passwd: ${notFound(uid, 'passwd')}`);
    user = u.name;
    if (groupPart === undefined) {
      const g = groups(files).find((e) => e.gid === uid);
      if (!g) throw new EngineError(`Gid ${uid} has no entry in /etc/group: ${notFound(uid, 'group')}`);
      group = g.name;
    }
  } else {
    const lookup = userPart === 'default' ? DEFAULT_REMAP_USER : userPart;
    const u = passwd(files).find((e) => e.name === lookup);
    if (!u) {
      if (userPart !== 'default') throw new EngineError(`Error during uid lookup for "${lookup}": ${notFound(lookup, 'passwd')}`);
      try {
        await createDefault();
      } catch (err) {
        throw new EngineError(`Error during "${DEFAULT_REMAP_USER}" user creation: ${errorMessage(err)}`, { cause: err });
      }
      return { user: DEFAULT_REMAP_USER, group: DEFAULT_REMAP_USER };
    }
    user = u.name;
    if (groupPart === undefined) {
      if (!groups(files).some((e) => e.name === lookup)) throw new EngineError(`Error during gid lookup for "${lookup}": ${notFound(lookup, 'group')}`);
      group = lookup;
    }
  }
  if (groupPart !== undefined) {
    if (/^-?\d+$/.test(groupPart)) {
      const gid = Number(groupPart);
      const g = groups(files).find((e) => e.gid === gid);
      if (!g) throw new EngineError(`Gid ${gid} has no entry in /etc/passwd: ${notFound(gid, 'group')}`);
      group = g.name;
    } else {
      if (!groups(files).some((e) => e.name === groupPart)) throw new EngineError(`Error during groupname lookup for "${groupPart}": ${notFound(groupPart, 'group')}`);
      group = groupPart;
    }
  }
  return { user, group };
}

/** The user's subordinate ranges, one after another from id 0 in the namespace, as dockerd builds them. */
export function mappingFromRanges(user: PasswdEntry, subuid: SubIdRange[], subgid: SubIdRange[]): IdMapping {
  const pick = (list: SubIdRange[]): IdMap[] => {
    const mine = list.filter((r) => r.name === user.name || r.name === String(user.uid));
    if (mine.length === 0) throw new EngineError(`Can't create ID mappings: no subuid ranges found for user "${user.name}"`);
    let next = 0;
    return mine.map((r) => {
      const m = { containerId: next, hostId: r.start, size: r.length };
      next += r.length;
      return m;
    });
  };
  return { uidMaps: pick(subuid), gidMaps: pick(subgid) };
}

/** The first start at or above 100000 where a 65536-long range overlaps none of `taken`. */
export function nextRangeStart(taken: SubIdRange[]): number {
  let start = RANGE_START;
  for (const r of [...taken].sort((a, b) => a.start - b.start)) {
    const low = start;
    const high = start + RANGE_LENGTH;
    if ((low >= r.start && low <= r.start + r.length) || (high >= r.start && high <= r.start + r.length)) start = r.start + r.length;
  }
  return start;
}

/**
 * Creates the dockremap system user and group (adduser, else useradd) and gives it subordinate
 * uid and gid ranges of 65536 when it has none, as dockerd does for `userns-remap: default`.
 */
async function createDefaultUser(files: RemapFiles): Promise<void> {
  const name = DEFAULT_REMAP_USER;
  if (existsSync('/usr/sbin/adduser')) {
    await runCommand(['/usr/sbin/adduser', '--system', '--shell', '/bin/false', '--no-create-home', '--disabled-login', '--disabled-password', '--group', name]);
  } else if (existsSync('/usr/sbin/useradd')) {
    await runCommand(['/usr/sbin/useradd', '-r', '-s', '/bin/false', name]);
  } else {
    throw new EngineError('Cannot add user; no useradd/adduser binary found');
  }
  for (const [file, flag] of [[files.subuid, '-v'], [files.subgid, '-w']] as const) {
    const all = readSubIds(file);
    if (all.some((r) => r.name === name)) continue;
    const start = nextRangeStart(all);
    await runCommand(['/usr/sbin/usermod', flag, `${start}-${start + RANGE_LENGTH - 1}`, name]);
  }
}

/**
 * The daemon's `userns-remap` as an id mapping: undefined when off (empty, or a remap to root,
 * which dockerd also turns into no remapping).
 */
export async function setupRemappedRoot(value: string, logger: Logger, files: RemapFiles = SYSTEM_FILES): Promise<IdMapping | undefined> {
  if (!value) return undefined;
  const names = await resolveRemapNames(value, files, () => createDefaultUser(files));
  if (names.user === 'root') {
    logger.warn('User namespaces: root cannot be remapped with itself; user namespaces are OFF');
    return undefined;
  }
  logger.info(`User namespaces: ID ranges will be mapped to subuid/subgid ranges of: ${names.user}`);
  const user = passwd(files).find((e) => e.name === names.user);
  if (!user) throw new EngineError(`Can't create ID mappings: could not get user for username ${names.user}: ${notFound(names.user, 'passwd')}`);
  return mappingFromRanges(user, readSubIds(files.subuid), readSubIds(files.subgid));
}

/**
 * Checks that the namespace's root can walk down to the data root (the runtime mounts the rootfs
 * and the container's files from inside the namespace), as dockerd does.
 */
export function checkRootAccess(dataRoot: string, m: IdMapping): void {
  const { uid, gid } = hostRootOf(m);
  for (let dir = dirname(dataRoot); dir !== '/' && dir !== '.'; dir = dirname(dir)) {
    let st;
    try { st = statSync(dir); } catch { continue; }
    const ok = (st.mode & 0o001) !== 0 || (st.uid === uid && (st.mode & 0o100) !== 0) || (st.gid === gid && (st.mode & 0o010) !== 0);
    if (!ok) {
      throw new EngineError(`a subdirectory in your graphroot path (${dataRoot}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories`);
    }
  }
}
