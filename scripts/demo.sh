#!/usr/bin/env bash
# The main job: start berthd if needed, import a busybox image built locally, run a container.
set -euo pipefail
cd "$(dirname "$0")/.."
sock=${BERTH_SOCK:-/run/berth/berth.sock}
log=${DEMO_LOG:-/var/log/berthd.log}
berth() { ./bin/berth -H "unix://$sock" "$@"; }

if ! berth version >/dev/null 2>&1; then
  echo "starting berthd (log: $log)"
  setsid ./bin/berthd -H "unix://$sock" >>"$log" 2>&1 < /dev/null &
  for _ in $(seq 1 100); do berth version >/dev/null 2>&1 && break; sleep 0.1; done
  berth version >/dev/null || { echo "berthd did not start; see $log" >&2; tail -20 "$log" >&2; exit 1; }
fi

if berth inspect --type image busybox:demo >/dev/null 2>&1; then
  echo "busybox:demo is already imported"
else
  tar=$(mktemp --suffix=.tar)
  trap 'rm -f "$tar"' EXIT
  sh scripts/make-busybox-rootfs.sh "$tar"
  echo "+ berth import -c 'CMD [\"sh\"]' $tar busybox:demo"
  berth import -c 'CMD ["sh"]' -m "busybox-static rootfs" "$tar" busybox:demo
fi
echo "+ berth run --rm busybox:demo echo 'Hello from a berth container!'"
berth run --rm busybox:demo echo 'Hello from a berth container!'
echo "+ berth run --name berth-demo-$$ busybox:demo sh -c 'echo \"hello from \$(hostname)\"'"
berth run --name "berth-demo-$$" busybox:demo sh -c 'echo "hello from $(hostname)"'
echo "+ berth ps -a"
berth ps -a
echo "+ berth images"
berth images
berth rm "berth-demo-$$" >/dev/null
echo
echo "berthd keeps running at unix://$sock; point the docker CLI at it with:"
echo "  DOCKER_HOST=unix://$sock docker run --rm busybox:demo echo hi"
echo "stop it with: make stop-daemon"
