#!/usr/bin/env bash
# npm run bench [-- --runs N | --parallel-sweep 8,16,32 | --scale 20,40,80] [--no-cluster] [--compare] [--save-baseline]:
# the performance benchmark (README "Performance") on the local control plane: the toolchain (built when missing), the
# cluster (started when stopped, and then stopped again at the end), then scripts/bench.
# It uses its own namespace (ultramarket-bench) and throwaway stacks; the `local` stack is not touched.
# With --no-cluster neither the toolchain nor the cluster is needed or touched: only the program and the policy pack run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for arg in "$@"; do
  if [[ "$arg" == "--no-cluster" ]]; then
    exec npx ts-node --transpile-only scripts/bench/main.ts "$@"
  fi
done
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
