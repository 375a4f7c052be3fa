#!/usr/bin/env bash
# Run every test on a fresh machine: installs the Python tools (moto, cfn-lint) into .venv if
# missing, lints the SAM template, starts moto on a free loopback port, runs the Rust test
# suite (each storage/API test runs against dynoxide in-process and against moto) recording
# the AWS actions each function calls, runs the clock-driven tests again with the process
# clock moved a year ahead (scripts/shifted-clock.sh, libfaketime), checks the template's IAM
# policies against the recorded actions, and stops moto.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
scripts/venvs.sh test

echo "==> cfn-lint infra/template.yaml"
"$venv/bin/cfn-lint" infra/template.yaml

port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# Multipart parts as small as the export test sends (S3's own minimum is 5 MiB).
S3_UPLOAD_PART_MIN_SIZE=1024 MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=8388608 \
  "$venv/bin/python" scripts/moto_server_serial.py 127.0.0.1 "$port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto failed to start; see target/moto.log" >&2
    cat target/moto.log >&2
    exit 1
  fi
  sleep 0.2
done
export MOTO_ENDPOINT="http://127.0.0.1:$port"
echo "==> moto at $MOTO_ENDPOINT"

# Every AWS call the functions make is recorded (function, action), then held against the
# template's IAM policies by a test that runs after the suite.
actions="$PWD/target/aws-actions.tsv"
rm -f "$actions"
export SWITCHBOARD_RECORD_ACTIONS="$actions"

# `cargo test` builds no binary target of a package without integration tests, and the crash
# tests run the `local` binary as a process of its own, so it is built first: with every
# target, so that features resolve as they do for the tests (dev-dependencies included) and
# `cargo test` below compiles nothing again (`--bins` alone built eleven crates twice).
echo "==> cargo build --workspace --all-targets"
cargo build --workspace --all-targets --locked

# The end-to-end tests spend most of their time waiting on loopback servers (moto above all),
# not on the CPU: six at once finish in about half the time two (one per core) do.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-6}"
echo "==> cargo test --workspace ($RUST_TEST_THREADS test threads)"
cargo test --workspace --locked "$@"

scripts/shifted-clock.sh

echo "==> IAM policies grant what the functions were seen calling"
cargo test -p e2e --test e2e --locked -- --ignored --exact --nocapture \
  deploy::iam_policies_grant_every_action_each_function_was_seen_calling
