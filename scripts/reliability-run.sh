#!/bin/sh
# The bigger reliability run behind docs/RELIABILITY.md: more kill -9 trials, more fuzzer seeds,
# a longer load. Needs root and a built tree (make build). Prints each test's summary line.
#   FAULT_TRIALS (per operation, default 25), FAULT_SEED (default 1), FUZZ_SEEDS (default "1 2 3 4"),
#   FUZZ_CASES (per route, default 150), LOAD_SECONDS (default 60)
set -u
cd "$(dirname "$0")/.."
export BERTH_REPO="$PWD"
run() { node --test --test-concurrency=1 "$@" 2>&1 | grep -E '^# \\# |^ok |^not ok ' | sed 's/^# \\# /  /'; }
echo "kill -9 trials (seed ${FAULT_SEED:-1}, ${FAULT_TRIALS:-25} per operation):"
BERTH_FAULT_TRIALS="${FAULT_TRIALS:-25}" BERTH_FAULT_SEED="${FAULT_SEED:-1}" run dist/test/integration/faults/kill-trials.test.js
for s in ${FUZZ_SEEDS:-1 2 3 4}; do
  echo "fuzzer (seed $s, ${FUZZ_CASES:-150} cases per route):"
  BERTH_FUZZ_SEED="$s" BERTH_FUZZ_CASES="${FUZZ_CASES:-150}" run dist/test/integration/fuzz/api-fuzz.test.js
done
echo "load (${LOAD_SECONDS:-60} s):"
BERTH_LOAD_SECONDS="${LOAD_SECONDS:-60}" run dist/test/integration/faults/load.test.js
echo "live restore and disk full:"
run dist/test/integration/faults/live-restore.test.js dist/test/integration/faults/disk-full.test.js
