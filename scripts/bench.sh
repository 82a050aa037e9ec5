#!/usr/bin/env bash
# npm run bench [-- --runs N | --parallel-sweep 8,16,32]: the performance benchmark (README "Performance") on the
# local control plane: the toolchain (built when missing), the cluster (started when stopped, and then stopped again
# at the end), then scripts/bench.
# It uses its own namespace (ultramarket-bench) and throwaway stacks; the `local` stack is not touched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! bash scripts/toolchain.sh check 2>/dev/null; then
  echo "[bench] building the local engine toolchain (first run only; see docs/local-engine.md for times)" >&2
  bash scripts/toolchain.sh build
fi
# A cluster the benchmark started is stopped again when it ends (however it ends); one already running is left alone.
if ! bash scripts/local-cluster.sh status >/dev/null 2>&1; then
  trap 'bash scripts/local-cluster.sh stop' EXIT
fi
bash scripts/local-cluster.sh start
npx ts-node --transpile-only scripts/bench/main.ts "$@"
