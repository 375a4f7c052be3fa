#!/usr/bin/env bash
# The clock-driven tests again, with the process clock of the test binaries moved ahead by
# libfaketime (Debian's `faketime`, installed here when missing and run as root). The test
# apps' own clocks start at a fixed instant (TEST_EPOCH in tests/src/lib.rs) and move forward
# only, so what this pass catches is real time leaking in: the system clock read where the
# injected one belongs, and a test reckoning from today's date. Such a test passes on the day
# it is written and fails here on that same day, instead of a year later on main.
# SHIFT_CLOCK (default +400d) is libfaketime's offset; MOTO_ENDPOINT is used when set
# (scripts/test.sh sets it), for the few moto-only tests among those chosen.
set -euo pipefail
cd "$(dirname "$0")/.."
ahead="${SHIFT_CLOCK:-+400d}"

if ! command -v faketime >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing faketime (Debian)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
  else
    echo "faketime is missing; install Debian's package: apt-get install faketime" >&2
    exit 1
  fi
fi

# The shift must be real, or this pass proves nothing.
today=$(date -u +%s)
shifted=$(faketime -f "$ahead" date -u +%s)
if [ $((shifted - today)) -lt $((300 * 86400)) ]; then
  echo "faketime -f $ahead did not move the clock ahead (now $(date -u +%F), shifted $(faketime -f "$ahead" date -u +%F))" >&2
  exit 1
fi

host=$(rustc -vV | sed -n 's/^host: //p')
runner="CARGO_TARGET_$(echo "$host" | tr 'a-z-' 'A-Z_')_RUNNER"
export "$runner=faketime -f $ahead"
# Timers and elapsed time stay real: only the calendar moves.
export FAKETIME_DONT_FAKE_MONOTONIC=1
# The test below asserts the test binaries see the shifted clock.
export SWITCHBOARD_CLOCK_AT_LEAST=$((shifted - 86400))
# This pass adds nothing to the IAM check's record of the actions each function calls.
unset SWITCHBOARD_RECORD_ACTIONS

echo "==> the clock-driven tests with the clock at $(faketime -f "$ahead" date -u +%F) ($ahead)"
cargo test --locked --workspace --lib --bins
cargo test --locked -p e2e --test e2e -- --skip ::moto \
  auth:: digests:: faults:: imports:: lifecycle:: members:: merge:: merge_job:: notifications:: oauth:: \
  orgs:: outbox:: reminders:: session_faults:: sso:: standing:: tokens:: tree_model:: two_factor:: local_server::
