import { readFile } from 'node:fs/promises';
import { InvalidParameterError, errnoCode } from '../common/index.js';
import { resolveInRootfs } from './rootfs-path.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

interface PasswdEntry { name: string; uid: number; gid: number }
interface GroupEntry { name: string; gid: number; members: string[] }

const MAX_ID = 2 ** 31 - 1;

async function readRootfsFile(rootfs: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(await resolveInRootfs(rootfs, path), 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw err;
  }
}

function parseId(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  if (n > MAX_ID) throw new InvalidParameterError('uids and gids must be in range 0-2147483647');
  return n;
}

function lines(text: string | undefined): string[][] {
  if (!text) return [];
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  return lines(text).filter((f) => f.length >= 4).map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }))
    .filter((e) => Number.isInteger(e.uid) && Number.isInteger(e.gid));
}

function parseGroup(text: string | undefined): GroupEntry[] {
  return lines(text).filter((f) => f.length >= 3).map((f) => ({
    name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  })).filter((g) => Number.isInteger(g.gid));
}

/**
 * Resolves a Docker `User` string ('', `name`, `uid`, `name:group`, `uid:gid`) against the
 * rootfs's /etc/passwd and /etc/group, with Docker's rules: '' is root; a numeric uid missing from
 * passwd runs with gid 0; supplementary groups come from /etc/group membership unless a group is
 * given explicitly.
 */
export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const passwd = parsePasswd(await readRootfsFile(rootfs, '/etc/passwd'));

  const uidArg = parseId(userArg);
  let name = '';
  let uid = 0;
  let gid = 0;
  const match = passwd.find((u) => (userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  if (match) {
    ({ name, uid, gid } = match);
  } else if (userArg === '') {
    uid = 0;
  } else if (uidArg !== undefined) {
    uid = uidArg;
  } else {
    throw new InvalidParameterError(`unable to find user ${userArg}: no matching entries in passwd file`);
  }

  let additionalGids: number[] = [];
  if (groupArg !== '' || name !== '') {
    const groups = parseGroup(await readRootfsFile(rootfs, '/etc/group'));
    if (groupArg !== '') {
      const gidArg = parseId(groupArg);
      const g = groups.find((e) => (gidArg !== undefined ? e.gid === gidArg : e.name === groupArg));
      if (g) gid = g.gid;
      else if (gidArg !== undefined) gid = gidArg;
      else throw new InvalidParameterError(`unable to find group ${groupArg}: no matching entries in group file`);
    } else {
      additionalGids = groups.filter((g) => g.members.includes(name)).map((g) => g.gid);
      additionalGids = [...new Set(additionalGids)];
    }
  }
  return { uid, gid, additionalGids };
}

/** Supplementary groups (`--group-add`): numeric ids as given, names from the rootfs's /etc/group. */
export async function resolveGroups(rootfs: string, specs: string[]): Promise<number[]> {
  let groups: GroupEntry[] | undefined;
  const out: number[] = [];
  for (const g of specs) {
    const id = parseId(g);
    if (id !== undefined) { out.push(id); continue; }
    groups ??= parseGroup(await readRootfsFile(rootfs, '/etc/group'));
    const hit = groups.find((e) => e.name === g);
    if (!hit) throw new InvalidParameterError(`Unable to find group ${g}: no matching entries in group file`);
    out.push(hit.gid);
  }
  return out;
}
