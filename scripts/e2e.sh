#!/usr/bin/env bash
# The e2e suite with everything it needs, for CI and for a one-shot local run:
#   toolchain (built from Go modules when not cached), the policy pack's dependencies, the local control
#   plane (started here and stopped again unless it was already running), then `npm run test:e2e`.
# Prints the wall time of each phase. Exit code: the suite's.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_DIR"
phase() { echo "[e2e] $1: $(( $(date +%s) - $2 ))s" >&2; }

# @pulumi/pulumi needs Node 22+ and the language host runs the program with the `node` on PATH: with an older
# Node there, use the pinned Node 24 LTS (scripts/node.sh; .ci/run already put it first).
if (( $(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0) < 22 )); then
  echo "[e2e] node $(node --version 2>/dev/null || echo 'not found') is too old: using the pinned Node 24 (scripts/node.sh)" >&2
  eval "$(bash scripts/node.sh env)"
fi

t=$(date +%s)
bash scripts/toolchain.sh build
phase "toolchain (build or reuse)" "$t"
tc_bin="${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}/bin"
echo "[e2e] pulumi $("$tc_bin/pulumi" version), pulumi-language-nodejs $("$tc_bin/pulumi-language-nodejs" -version), node $(node --version) ($(command -v node))" >&2

if [[ ! -d policies/node_modules ]]; then
  t=$(date +%s)
  npm ci --prefix policies --no-audit --no-fund
  phase "npm ci --prefix policies" "$t"
fi

was_running=0
bash scripts/local-cluster.sh status >/dev/null 2>&1 && was_running=1
t=$(date +%s)
bash scripts/local-cluster.sh start
phase "control plane start" "$t"
if [[ $was_running == 0 ]]; then
  trap 'bash scripts/local-cluster.sh stop' EXIT
  # the last suite (tests/e2e/teardown.e2e.test.ts) runs local:down and checks that nothing is left on the host
  export ULTRAMARKET_E2E_TEARDOWN=1
fi

t=$(date +%s)
set +e
npm run test:e2e
rc=$?
set -e
phase "npm run test:e2e" "$t"
exit $rc
