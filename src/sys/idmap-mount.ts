/**
 * Idmapped mounts (open_tree, mount_setattr with MOUNT_ATTR_IDMAP, move_mount), and the user
 * namespace whose mapping they apply. A file owned by host uid N under the source shows as the
 * uid that the namespace maps N's in-namespace value to: with `0 100000 65536`, a file owned by 0
 * shows as 100000.
 */
import koffi from 'koffi';
import { closeSync, mkdirSync, openSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { spawn } from 'node:child_process';
import type { IdMapping } from '../common/id-map.js';
import { SystemError } from '../common/errors.js';
import { MNT_DETACH, MS, SyscallError, mount, umount2 } from './libc.js';

const lib = koffi.load('libc.so.6');
const c_syscall = lib.func('long syscall(long number, ...)');

const SYS_OPEN_TREE = 428;
const SYS_MOVE_MOUNT = 429;
const SYS_MOUNT_SETATTR = 442;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOUNT_ATTR_IDMAP = 0x100000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;

function check(ret: number | bigint, syscall: string, detail: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(syscall, koffi.errno(), detail);
  return n;
}

/**
 * Mounts an idmapped view of `source` (that mount alone, not the mounts under it) on `target`,
 * with the mapping of the user namespace open at `usernsFd`.
 */
export function mountIdmapped(source: string, target: string, usernsFd: number): void {
  const fd = check(c_syscall(SYS_OPEN_TREE, 'int', AT_FDCWD, 'const char *', source, 'unsigned int', OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), 'open_tree', source);
  try {
    const attr = Buffer.alloc(32);
    attr.writeBigUInt64LE(BigInt(MOUNT_ATTR_IDMAP), 0);
    attr.writeBigUInt64LE(BigInt(usernsFd), 24);
    check(c_syscall(SYS_MOUNT_SETATTR, 'int', fd, 'const char *', '', 'unsigned int', AT_EMPTY_PATH, 'void *', attr, 'size_t', attr.length), 'mount_setattr', source);
    check(c_syscall(SYS_MOVE_MOUNT, 'int', fd, 'const char *', '', 'int', AT_FDCWD, 'const char *', target, 'unsigned int', MOVE_MOUNT_F_EMPTY_PATH), 'move_mount', `${source} on ${target}`);
  } finally {
    closeSync(fd);
  }
}

function mapText(maps: IdMapping['uidMaps']): string {
  return maps.map((m) => `${m.containerId} ${m.hostId} ${m.size}\n`).join('');
}

function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 2));
}

/**
 * Starts `argv` (a process that unshares namespaces, then sleeps) and waits until its `ns`
 * namespace differs from ours. Namespaces are made by a short-lived child: a threaded process
 * such as node cannot unshare a user namespace.
 */
async function holder(argv: string[], ns: string): Promise<{ pid: number; end: () => Promise<void> }> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const failed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new SystemError(`${argv[0]}: ${err.message}`, { cause: err }))));
  failed.catch(() => undefined);
  const end = async (): Promise<void> => { child.kill('SIGKILL'); await exited; };
  try {
    const pid = await Promise.race([(async () => { while (child.pid === undefined) await tick(); return child.pid; })(), failed]);
    const own = readlinkSync(`/proc/self/ns/${ns}`);
    const until = Date.now() + 5000;
    for (;;) {
      let cur: string | undefined;
      try { cur = readlinkSync(`/proc/${pid}/ns/${ns}`); } catch { /* not yet */ }
      if (cur && cur !== own) return { pid, end };
      if (child.exitCode !== null || Date.now() > until) throw new SystemError(`${argv.join(' ')}: no new ${ns} namespace`);
      await tick();
    }
  } catch (err) {
    await end();
    throw err;
  }
}

/** Makes a user namespace with `mapping` and hands its holder's pid to `use`, then ends the holder. */
async function inNewUserNamespace<T>(mapping: IdMapping, use: (pid: number) => T): Promise<T> {
  const h = await holder(['/usr/bin/unshare', '--user', '--', '/bin/sleep', '30'], 'user');
  try {
    writeFileSync(`/proc/${h.pid}/uid_map`, mapText(mapping.uidMaps));
    writeFileSync(`/proc/${h.pid}/gid_map`, mapText(mapping.gidMaps));
    return use(h.pid);
  } finally {
    await h.end();
  }
}

/** Keeps a namespace of `pid` alive at `file` (a bind mount of its nsfs file on an empty file). */
function pinNamespace(pid: number, ns: string, file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o711 });
  closeSync(openSync(file, 'w', 0o444));
  try {
    mount(`/proc/${pid}/ns/${ns}`, file, null, MS.BIND, null);
  } catch (err) {
    rmSync(file, { force: true });
    throw err;
  }
}

/** Opens a user namespace with `mapping` and returns its fd (the caller closes it; the fd keeps it alive). */
export function openUserNamespace(mapping: IdMapping): Promise<number> {
  return inNewUserNamespace(mapping, (pid) => openSync(`/proc/${pid}/ns/user`, 'r'));
}

/**
 * Creates a user namespace with `mapping` and keeps it at `file` (bind-mounted), so that a
 * container and a network namespace made for it can join it. `unpinNamespace` releases it.
 */
export function pinUserNamespace(mapping: IdMapping, file: string): Promise<void> {
  return inNewUserNamespace(mapping, (pid) => pinNamespace(pid, 'user', file));
}

/** Creates a network namespace owned by the user namespace at `userns`, kept at `file`. */
export async function pinNetNamespaceIn(userns: string, file: string): Promise<void> {
  const h = await holder(['/usr/bin/nsenter', `--user=${userns}`, '--', '/usr/bin/unshare', '--net', '--', '/bin/sleep', '30'], 'net');
  try {
    pinNamespace(h.pid, 'net', file);
  } finally {
    await h.end();
  }
}

/** Releases a namespace pinned at `file` and removes the file; a missing one is not an error. */
export function unpinNamespace(file: string): void {
  try { umount2(file, MNT_DETACH); } catch { /* not mounted */ }
  rmSync(file, { force: true });
}
