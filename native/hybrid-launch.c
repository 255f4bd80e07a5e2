/*
 * berth-hybrid-launch RUNTIME [ARG...]
 *
 * Runs an OCI runtime (crun) in a mount namespace of its own in which the cgroup2 mount of a
 * hybrid cgroup host (/sys/fs/cgroup/unified) is detached, so that the runtime drives the v1
 * controllers as on a legacy host. The namespace is a copy of the caller's; /sys/fs/cgroup is made
 * private in the copy first, so that the detach never propagates back to the host's mounts (on
 * hosts whose mounts are shared, as systemd sets them up). berthd falls back to an equivalent
 * shell script when this helper is not built.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s RUNTIME [ARG...]\n", argv[0]);
    return 125;
  }
  if (unshare(CLONE_NEWNS) != 0) {
    fprintf(stderr, "berth-hybrid-launch: unshare: %s\n", strerror(errno));
    return 125;
  }
  if (mount(NULL, "/sys/fs/cgroup", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    fprintf(stderr, "berth-hybrid-launch: make /sys/fs/cgroup private: %s\n", strerror(errno));
    return 125;
  }
  if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    fprintf(stderr, "berth-hybrid-launch: detach /sys/fs/cgroup/unified: %s\n", strerror(errno));
    return 125;
  }
  execv(argv[1], argv + 1);
  fprintf(stderr, "berth-hybrid-launch: exec %s: %s\n", argv[1], strerror(errno));
  return 127;
}
