#!/usr/bin/env bash
# `sam build` end to end: installs SAM, cargo-lambda and zig into .venv-deploy if missing,
# builds the template for ARCH (x86_64 by default here: these machines cannot install the
# aarch64 standard library; arm64 is the template's default where it can), then checks that
# every function in the template got its bootstrap, and prints the artifact sizes.
# Slow (a full release build): not part of every CI run; .ci/run runs `sam validate --lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-deploy
arch="${ARCH:-x86_64}"

if ! "$venv/bin/sam" --version >/dev/null 2>&1 || ! "$venv/bin/cargo-lambda" --version >/dev/null 2>&1; then
  echo "==> installing SAM, cargo-lambda and zig into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-deploy.txt
fi
export PATH="$PWD/$venv/bin:$PATH" SAM_CLI_TELEMETRY=0
case "$arch" in
  x86_64) rustup target list --installed | grep -qx x86_64-unknown-linux-gnu ;;
  arm64) rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
    { echo "arm64 needs the aarch64-unknown-linux-gnu standard library (rustup target add)" >&2; exit 1; } ;;
  *) echo "ARCH is arm64 or x86_64" >&2; exit 2 ;;
esac

echo "==> sam build (Architecture=$arch)"
t0=$(date +%s)
sam build --template-file infra/template.yaml --build-dir .aws-sam/build \
  --parameter-overrides "Architecture=$arch" --beta-features --no-cached
echo "sam build took $(( $(date +%s) - t0 )) s"

echo "==> every function has its artifact"
python3 - "$arch" <<'PY'
import io, os, re, sys, zipfile
arch = sys.argv[1]
source = open("infra/template.yaml").read()
functions = re.findall(r"^  (\w+):\n    Type: AWS::Serverless::Function", source, re.M)
built = open(".aws-sam/build/template.yaml").read()
want = {"x86_64": b"\x3e\x00", "arm64": b"\xb7\x00"}[arch]  # ELF e_machine
missing, artifacts = [], {}
for f in functions:
    # Functions sharing one build point at one artifact folder (e.g. RegisterFunction-Shared).
    m = re.search(rf"^  {f}:\n    Type: AWS::Serverless::Function\n(?:(?!^  \w).*\n)*?      CodeUri: (\S+)", built, re.M)
    path = os.path.join(".aws-sam/build", m.group(1) if m else f, "bootstrap")
    if not os.path.isfile(path):
        missing.append(f)
        continue
    data = open(path, "rb").read(20)
    if data[:4] != b"\x7fELF" or data[18:20] != want:
        missing.append(f + " (not an ELF executable for " + arch + ")")
        continue
    artifacts.setdefault(path, []).append(f)
for path, fs in artifacts.items():
    data = open(path, "rb").read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bootstrap", data)
    print(f"{path}: {len(data) / 2**20:.1f} MiB, zipped {len(buf.getvalue()) / 2**20:.2f} MiB, for {len(fs)} functions")
if missing:
    sys.exit("missing or wrong artifacts: " + ", ".join(missing))
print(f"{sum(len(fs) for fs in artifacts.values())} of {len(functions)} functions have their bootstrap")
PY
