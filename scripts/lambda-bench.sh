#!/usr/bin/env bash
# The deployable artifact, measured: builds every function (one `bootstrap`) and the
# hello-world yardstick in release from a clean target directory, timing it; times a rebuild
# after a change in shared/; then runs the cold-start benchmark (tests/benches/cold_start.rs),
# which prints the build times, zipped sizes, init per handler and the ratio to hello-world.
# Slow (about ten minutes here): not part of every CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${LAMBDA_TARGET_DIR:-target/lambda-bench}"

seconds() { python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.0f}")' "$1"; }

echo "==> clean release build into $target"
rm -rf "$target"
t0=$(date +%s.%N)
CARGO_TARGET_DIR="$target" cargo build --release --locked -p functions --bin bootstrap --example hello
build=$(seconds "$t0")

echo "==> rebuild after a change in shared/"
touch shared/src/lib.rs
t0=$(date +%s.%N)
CARGO_TARGET_DIR="$target" cargo build --release --locked -p functions --bin bootstrap
rebuild=$(seconds "$t0")

echo "==> cold starts"
LAMBDA_BIN_DIR="$PWD/$target/release" BUILD_SECONDS="$build" REBUILD_SECONDS="$rebuild" \
  cargo bench -p e2e --bench cold_start --profile dev
