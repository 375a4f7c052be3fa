#!/usr/bin/env bash
# The Python tools, each into its own virtual environment, both at once: .venv (moto's
# server, cfn-lint, schemathesis and the independent clients the tests use) and .venv-deploy
# (SAM, for validating the template; cargo-lambda and zig are for scripts/sam-build.sh).
# Does nothing for an environment that already has what it needs. `scripts/venvs.sh test` (or
# `deploy`) sets up one of them alone.
set -euo pipefail
cd "$(dirname "$0")/.."

test_tools() {
  if ! .venv/bin/python -c "import moto, cfnlint, signxml, authlib, requests, schemathesis" 2>/dev/null; then
    echo "==> installing moto[server], cfn-lint, schemathesis and the independent clients into .venv"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
  fi
}

deploy_tools() {
  if ! .venv-deploy/bin/sam --version >/dev/null 2>&1; then
    echo "==> installing SAM into .venv-deploy"
    python3 -m venv .venv-deploy
    .venv-deploy/bin/pip install --quiet --disable-pip-version-check "$(grep '^aws-sam-cli==' scripts/requirements-deploy.txt)"
  fi
}

case "${1:-all}" in
  test) test_tools ;;
  deploy) deploy_tools ;;
  all)
    test_tools &
    tests=$!
    deploy_tools &
    deploy=$!
    status=0
    wait "$tests" || status=$?
    wait "$deploy" || status=$?
    exit "$status"
    ;;
  *) echo "usage: scripts/venvs.sh [test|deploy|all]" >&2; exit 2 ;;
esac
