#!/usr/bin/env bash
# npm run bench [-- --runs N | --parallel-sweep 8,16,32]: the performance benchmark (README "Performance") on the
# local control plane: the toolchain (built when missing), the cluster (started when stopped), then scripts/bench.
# It uses its own namespace (ultramarket-bench) and throwaway stacks; the `local` stack is not touched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! bash scripts/toolchain.sh check 2>/dev/null; then
  echo "[bench] building the local engine toolchain (first run only; see docs/local-engine.md for times)" >&2
  bash scripts/toolchain.sh build
fi
bash scripts/local-cluster.sh start
exec npx ts-node --transpile-only scripts/bench/main.ts "$@"
