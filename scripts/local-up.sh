#!/usr/bin/env bash
# npm run local:up — the whole platform on a local control plane, with the real Pulumi engine:
#   1. the toolchain (scripts/toolchain.sh: reused when cached, else built from Go modules),
#   2. the control plane on 127.0.0.1 (scripts/local-cluster.sh; kubeconfig .local/kubeconfig),
#   3. the `local` stack (file backend .pulumi-state/, Pulumi.local.yaml) deployed with
#      `ops/cli.ts deploy --stack local` (preview with the policy pack, up, verify).
# Extra arguments go to the deploy command (e.g. --no-policy). Tear down with: npm run local:down
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_DIR"
# @pulumi/pulumi needs Node 22+ and the language host runs the program with the `node` on PATH: with an older
# Node there, use the pinned Node 24 LTS (scripts/node.sh; .ci/run already put it first).
if (( $(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0) < 22 )); then
  echo "[local-up] node $(node --version 2>/dev/null || echo 'not found') is too old: using the pinned Node 24 (scripts/node.sh)" >&2
  eval "$(bash scripts/node.sh env)"
fi

if ! bash scripts/toolchain.sh check 2>/dev/null; then
  echo "[local-up] building the local engine toolchain (first run only; see docs/local-engine.md for times)" >&2
  bash scripts/toolchain.sh build
fi
# The stand-in images follow the checkout (the app's source is one of their inputs): rebuilt only when one changed (~3 s).
bash scripts/toolchain.sh build standin-images >/dev/null
eval "$(bash scripts/toolchain.sh env)"

if [[ -f policies/PulumiPolicy.yaml && ! -d policies/node_modules ]]; then
  echo "[local-up] installing the policy pack's dependencies (npm ci --prefix policies)" >&2
  npm ci --prefix policies --no-audit --no-fund >/dev/null
fi

bash scripts/local-cluster.sh start

npx ts-node --transpile-only scripts/local-stack.ts prepare
start=$(date +%s)
set +e
npx ts-node --transpile-only ops/cli.ts deploy --stack local "$@"
rc=$?
set -e
echo "[local-up] deploy finished with exit code $rc in $(( $(date +%s) - start ))s" >&2
if [[ $rc -eq 0 ]]; then
  # Each indented line works as printed in the shell that ran local:up (tests/e2e/next-steps.e2e.test.ts runs them).
  cat >&2 <<'NEXT'
[local-up] the platform runs on the local control plane. Next steps (each works in this shell as printed):
  npm run status -- --stack local
  npm run drift -- --stack local
  eval "$(npm run -s local:env)"
  kubectl get pods -n ultramarket-local
  pulumi config set -s local logLevel debug
  npm run deploy -- --stack local
[local-up] local:env gives a shell the toolchain's pulumi, the local backend and passphrase and the local kubeconfig. Tear down with: npm run local:down
NEXT
fi
exit $rc
