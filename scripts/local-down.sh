#!/usr/bin/env bash
# npm run local:down — tears down what local:up made: stops the local control plane, deletes its data
# (every object of the `local` stack goes with it, protected data stores included: they only ever held
# throwaway local data) and removes the `local` stack's state from .pulumi-state/ (Pulumi.local.yaml is kept).
#   --keep   only stop the control plane; keep its data and the stack state, so local:up resumes them.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_DIR"

if [[ "${1:-}" == "--keep" ]]; then
  bash scripts/local-cluster.sh stop
  exit 0
fi
bash scripts/local-cluster.sh purge
if bash scripts/toolchain.sh check 2>/dev/null; then
  eval "$(bash scripts/toolchain.sh env)"
  npx ts-node --transpile-only scripts/local-stack.ts remove
else
  echo "[local-down] no toolchain: the local stack state (if any) is left in .pulumi-state/" >&2
fi
