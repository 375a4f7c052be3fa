#!/usr/bin/env bash
# Contract test: schemathesis (a client nobody here wrote) generates requests from the published
# OpenAPI document against the local server and checks the answers against it. Signed in as a
# fresh owner; routes that would end its own session (logout, ending sessions, two-factor on,
# address change) or its organization (closing it) are left out so the token stays valid for the whole run. Fails on any finding.
# Usage: scripts/schemathesis.sh [extra st run arguments]; needs .venv with schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
scripts/venvs.sh test
# The same targets as `cargo test --workspace`, so the build reuses its artifacts.
cargo build --locked --workspace --all-targets
data=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/local --port "$port" --data-dir "$data" > target/schemathesis-server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$base/openapi.json')" 2>/dev/null; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then echo "local server failed; see target/schemathesis-server.log" >&2; exit 1; fi
  sleep 0.2
done
read -r token org < <("$venv/bin/python" - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))
post("/v1/auth/register", {"email": "contract@example.com", "password": "contract test passphrase",
     "first_name": "Con", "last_name": "Tract", "organization_name": "Contract Inc"})
pair = post("/v1/auth/login", {"login": "contract@example.com", "password": "contract test passphrase", "client": "api"})
print(pair["access_token"], pair["organization_id"])
PY
)
# Organization routes are aimed at the owner's own organization, so generated requests get
# past authorization into validation and the business rules.
config="$data/schemathesis.toml"
printf '[parameters]\n"path.org_id" = "%s"\n' "$org" > "$config"
# Invalid input is rejected as such; 413 (a body over the limit) is a rejection too.
printf '[checks.negative_data_rejection]\nexpected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]\n' >> "$config"
# Domain verification looks TXT records up over DNS, which this machine has no server for (it
# would answer 503 after the lookup times out); the e2e suite verifies against a DNS server on
# loopback (tests/src/dns_server.rs).
echo "==> schemathesis against $base"
"$venv/bin/st" --config-file "$config" run docs/openapi.json --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --exclude-path-regex '^/v1/auth/(logout|logout-all)$|^/v1/me/sessions/|^/v1/me/2fa|^/v1/me/email|^/v1/me/password$|^/v1/orgs/[^/]+/(domains|email-to-sms-domains)/[^/]+/verify$|^/v1/orgs/[^/]+/close$' \
  --max-examples "${ST_MAX_EXAMPLES:-15}" --max-time "${ST_MAX_TIME:-300}" --workers 2 \
  --generation-with-security-parameters false --request-timeout 10 --seed "${ST_SEED:-20261201}" --no-color "$@"
