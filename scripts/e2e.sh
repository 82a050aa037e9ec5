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

t=$(date +%s)
bash scripts/toolchain.sh build
phase "toolchain (build or reuse)" "$t"

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
if [[ $was_running == 0 ]]; then trap 'bash scripts/local-cluster.sh stop' EXIT; fi

t=$(date +%s)
set +e
npm run test:e2e
rc=$?
set -e
phase "npm run test:e2e" "$t"
exit $rc
