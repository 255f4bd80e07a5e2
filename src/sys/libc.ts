/**
 * The syscalls Node lacks, called through koffi. Every wrapper throws a SystemError carrying
 * errno's name (EPERM, ENOENT...) as `code`, like Node's own fs errors.
 */
import koffi from 'koffi';
import { constants as osConstants } from 'node:os';
import { SystemError } from '../common/errors.js';

const lib = koffi.load('libc.so.6');

const c_mount = lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
const c_umount2 = lib.func('int umount2(const char *target, int flags)');
const c_mknod = lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)');
const c_lsetxattr = lib.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
const c_lgetxattr = lib.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)');
const c_llistxattr = lib.func('intptr_t llistxattr(const char *path, _Out_ void *list, size_t size)');
const c_socket = lib.func('int socket(int domain, int type, int protocol)');
const c_connect = lib.func('int connect(int fd, const void *addr, uint32_t len)');
const c_write = lib.func('intptr_t write(int fd, const void *buf, size_t count)');
const c_close = lib.func('int close(int fd)');
const c_setns = lib.func('int setns(int fd, int nstype)');
const c_unshare = lib.func('int unshare(int flags)');

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, num]) => [num as number, name]),
);

export class SyscallError extends SystemError {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number, detail: string) {
    const code = errnoNames.get(errno) ?? `E${errno}`;
    super(`${syscall} ${detail}: ${code}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

function check(ret: number | bigint, syscall: string, detail: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(syscall, koffi.errno(), detail);
  return n;
}

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
} as const;

export const MNT_DETACH = 2;

export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void {
  check(c_mount(source, target, fstype, flags, data), 'mount', `${source} on ${target}`);
}

export function umount2(target: string, flags = 0): void {
  check(c_umount2(target, flags), 'umount2', target);
}

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** mode includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO). */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(c_mknod(path, mode, makedev(major, minor)), 'mknod', path);
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  check(c_lsetxattr(path, name, value, value.length, 0), 'lsetxattr', `${path} ${name}`);
}

/** Returns undefined when the attribute is absent (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(65536);
  const n = Number(c_lgetxattr(path, name, buf, buf.length));
  if (n < 0) {
    const e = koffi.errno();
    if (errnoNames.get(e) === 'ENODATA' || errnoNames.get(e) === 'ENOTSUP') return undefined;
    throw new SyscallError('lgetxattr', e, `${path} ${name}`);
  }
  return buf.subarray(0, n);
}

export function llistxattr(path: string): string[] {
  const buf = Buffer.alloc(65536);
  const n = Number(c_llistxattr(path, buf, buf.length));
  if (n < 0) {
    const e = koffi.errno();
    if (errnoNames.get(e) === 'ENOTSUP') return [];
    throw new SyscallError('llistxattr', e, path);
  }
  return buf.subarray(0, n).toString('utf8').split('\0').filter((s) => s.length > 0);
}

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

/** Connects a non-blocking SOCK_SEQPACKET unix socket (conmon's attach socket) and returns its fd. */
export function connectSeqpacket(path: string): number {
  const fd = check(c_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 'socket', path);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  const p = Buffer.from(path);
  if (p.length > 107) {
    c_close(fd);
    throw new SystemError(`socket path too long: ${path}`);
  }
  p.copy(addr, 2);
  try {
    check(c_connect(fd, addr, 2 + p.length + 1), 'connect', path);
  } catch (err) {
    c_close(fd);
    throw err;
  }
  return fd;
}

/** One write(2); returns bytes written, or -1 when the call would block (EAGAIN). */
export function writeFd(fd: number, data: Buffer): number {
  const n = Number(c_write(fd, data, data.length));
  if (n < 0) {
    const e = koffi.errno();
    if (errnoNames.get(e) === 'EAGAIN') return -1;
    throw new SyscallError('write', e, `fd ${fd}`);
  }
  return n;
}

export function closeFd(fd: number): void {
  c_close(fd);
}

export function setns(fd: number, nstype: number): void {
  check(c_setns(fd, nstype), 'setns', `fd ${fd}`);
}

export function unshare(flags: number): void {
  check(c_unshare(flags), 'unshare', `flags ${flags}`);
}
