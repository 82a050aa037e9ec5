#!/usr/bin/env bash
# Lays out the stand-in app image's files under a root filesystem directory, for the image builder to add to a
# Debian base (which brings libc6, libstdc++6, libgcc-s1, /bin/sh and /usr/bin/env: what node, `npm run` and npm's
# `#!/usr/bin/env node` need):
#   <rootfs>/app            server.js, migrate.js, lib/, routes.json, package.json, package-lock.json, node_modules
#                           (npm ci --omit=dev, no install scripts)
#   <rootfs>/usr/local      bin/node, bin/npm, bin/npx and lib/node_modules/npm: the pinned Node 24 of scripts/node.sh
# The image's config: WorkingDir /app, Cmd ["node", "server.js"], User 1000, Env PATH=/usr/local/bin:/usr/bin:/bin.
# The migration Job runs `npm run migrate` in /app with HOME on a writable volume; nothing else is ever written.
# Usage: images/app/stage.sh <rootfs>
set -euo pipefail
rootfs=${1:?usage: images/app/stage.sh <rootfs>}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(bash "$here/../../scripts/node.sh" install)
mkdir -p "$rootfs/app" "$rootfs/usr/local/bin" "$rootfs/usr/local/lib"
cp -r "$here/server.js" "$here/migrate.js" "$here/lib" "$here/routes.json" "$here/package.json" "$here/package-lock.json" "$rootfs/app/"
(cd "$rootfs/app" && PATH="$bin:$PATH" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
cp "$bin/node" "$rootfs/usr/local/bin/node"
rm -rf "$rootfs/usr/local/lib/node_modules/npm"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -r "$bin/../lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# Readable by the app's user (1000) and the frontends' (101); owned by root, so the app can change none of it.
chmod -R a+rX,go-w "$rootfs/app" "$rootfs/usr/local"
echo "staged the stand-in app into $rootfs (/app, /usr/local/bin/node $("$rootfs/usr/local/bin/node" --version))"
