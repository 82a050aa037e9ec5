#!/usr/bin/env node
// The local node's app registry (scripts/local-node.sh starts it on 127.0.0.1): the OCI distribution API's pull side,
// read-only, for the app images. UltraMarket's apps live in their own repository, so every app image the program
// names (`<registry>/<app>:<tag>`, any app, any tag) resolves to the one stand-in app image (images/app/, built by
// scripts/local-images.sh); a new tag is therefore a real pull and a real rollout of the same bits. A tag containing
// "unrunnable" answers 404 (MANIFEST_UNKNOWN), as a tag that was never pushed does, so a bad rollout fails for real.
//   usage: node registry.js <oci-layout dir of the stand-in image> <port>
"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");

const [layout, port] = process.argv.slice(2);
if (!layout || !port) {
    console.error("usage: node registry.js <oci-layout dir> <port>");
    process.exit(2);
}
const blobPath = (digest) => path.join(layout, "blobs", "sha256", digest.replace(/^sha256:/, ""));
const index = JSON.parse(fs.readFileSync(path.join(layout, "index.json"), "utf8"));
const manifestDesc = index.manifests[0];
const manifest = fs.readFileSync(blobPath(manifestDesc.digest));

function error(res, status, code, message) {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code, message }] }));
}

const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://registry");
    const head = req.method === "HEAD";
    console.log(`${req.method} ${url.pathname}`);
    if (req.method !== "GET" && !head) return error(res, 405, "UNSUPPORTED", "this registry is read-only");
    if (url.pathname === "/v2/" || url.pathname === "/v2") {
        res.writeHead(200, { "Content-Type": "application/json", "Docker-Distribution-API-Version": "registry/2.0" });
        return res.end(head ? undefined : "{}");
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return error(res, 404, "NAME_UNKNOWN", url.pathname);
    const [, name, kind, ref] = m;
    if (kind === "manifests") {
        if (ref.includes("unrunnable")) return error(res, 404, "MANIFEST_UNKNOWN", `${name}:${ref} was never pushed`);
        if (ref.startsWith("sha256:") && ref !== manifestDesc.digest) return error(res, 404, "MANIFEST_UNKNOWN", ref);
        res.writeHead(200, {
            "Content-Type": manifestDesc.mediaType,
            "Content-Length": manifest.length,
            "Docker-Content-Digest": manifestDesc.digest,
        });
        return res.end(head ? undefined : manifest);
    }
    const file = blobPath(ref);
    if (!/^sha256:[0-9a-f]{64}$/.test(ref) || !fs.existsSync(file)) return error(res, 404, "BLOB_UNKNOWN", ref);
    const size = fs.statSync(file).size;
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size, "Docker-Content-Digest": ref });
    if (head) return res.end();
    fs.createReadStream(file).pipe(res);
});
server.listen(Number(port), "127.0.0.1", () => console.log(`serving ${manifestDesc.digest} for every app image on 127.0.0.1:${port}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
