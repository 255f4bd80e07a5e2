#!/bin/sh
# Writes a small root filesystem tar built from Debian's busybox-static: make-busybox-rootfs.sh OUT.tar
set -eu
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is not installed ($bb)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin" "$dir/etc" "$dir/root" "$dir/tmp" \
  "$dir/var/tmp" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/home"
chmod 1777 "$dir/tmp" "$dir/var/tmp"
chmod 700 "$dir/root"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] && continue
  [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dir/etc/group" <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
users:x:100:
nogroup:x:65534:
G
echo 'busybox' > "$dir/etc/hostname"
tar --numeric-owner --owner=0 --group=0 -C "$dir" -cf "$out" .
