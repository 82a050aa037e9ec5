#!/usr/bin/env node
// Smoke test without a Pulumi CLI: starts this pack exactly as the nodejs language host does
// (@pulumi/pulumi/cmd/run-policy-pack, cwd = the pack, TypeScript through ts-node), then calls
// the analyzer over gRPC with a Deployment that breaks the rules. Exits non-zero unless the
// pack answers with violations that name the object. Usage: npm --prefix policies run smoke
"use strict";
const { spawn } = require("child_process");
const path = require("path");

const pack = __dirname;
const grpc = require("@grpc/grpc-js");
const rpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb.js");
const pb = require("@pulumi/pulumi/proto/analyzer_pb.js");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb.js");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb.js");

const started = Date.now();
const child = spawn(process.execPath, [require.resolve("@pulumi/pulumi/cmd/run-policy-pack"), "127.0.0.1:0", pack], {
    cwd: pack,
    env: { ...process.env, PULUMI_NODEJS_STACK: "production" },
    stdio: ["ignore", "pipe", "inherit"],
});
const fail = (message) => {
    console.error(`policy pack smoke test failed: ${message}`);
    child.kill();
    process.exit(1);
};
const timer = setTimeout(() => fail("the pack did not print its port within 120 s"), 120_000);
child.on("exit", (code) => fail(`the pack exited with code ${code} before answering`));

child.stdout.once("data", async (buf) => {
    clearTimeout(timer);
    const port = buf.toString().trim();
    console.log(`pack loaded and serving on port ${port} after ${Date.now() - started} ms`);
    try {
        const client = new rpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const call = (method, request) =>
            new Promise((resolve, reject) => client[method](request, (err, value) => (err ? reject(err) : resolve(value))));

        const info = await call("getAnalyzerInfo", new Empty());
        console.log(`${info.getName()}: ${info.getPoliciesList().length} policies`);

        const request = new pb.AnalyzeRequest();
        request.setType("kubernetes:apps/v1:Deployment");
        request.setName("smoke");
        request.setUrn("urn:pulumi:production::ultramarket::kubernetes:apps/v1:Deployment::smoke");
        request.setProperties(
            Struct.fromJavaScript({
                metadata: { name: "smoke", namespace: "ultramarket-production" },
                spec: {
                    selector: { matchLabels: { app: "smoke" } },
                    template: { metadata: { labels: { app: "smoke" } }, spec: { containers: [{ name: "web", image: "nginx:latest" }] } },
                },
            }),
        );
        const options = new pb.AnalyzerResourceOptions();
        options.setProtect(false);
        request.setOptions(options);

        const diagnostics = (await call("analyze", request)).getDiagnosticsList();
        for (const d of diagnostics) {
            console.log(
                `  [${d.getEnforcementlevel() === pb.EnforcementLevel.MANDATORY ? "mandatory" : "advisory"}] ${d.getPolicyname()}: ${d.getMessage().split("\n").pop()}`,
            );
        }
        const image = diagnostics.find((d) => d.getPolicyname() === "immutable-image-tags");
        if (!image || !image.getMessage().includes("Deployment/ultramarket-production/smoke")) {
            fail("no immutable-image-tags violation naming Deployment/ultramarket-production/smoke");
        }
        console.log(`ok: ${diagnostics.length} violations reported for the bad Deployment`);
        child.removeAllListeners("exit");
        child.kill();
        process.exit(0);
    } catch (err) {
        fail(err.message);
    }
});
