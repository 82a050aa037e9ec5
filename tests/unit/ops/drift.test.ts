import { strict as assert } from "assert";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { ExitCode, OpsError } from "../../../ops/errors";
import { changedPaths, collectDrift, detectDrift } from "../../../ops/operations";
import { FakeStack, MemoryIO } from "./fakes";

const urn = (type: string, name: string) => `urn:pulumi:production::ultramarket::ultramarket:apps:Microservice$${type}::${name}`;

function outputs(
    op: string,
    type: string,
    name: string,
    extra: { diffs?: string[]; detailedDiff?: Record<string, unknown> } = {},
): EngineEvent {
    return {
        sequence: 1,
        timestamp: 0,
        resOutputsEvent: {
            metadata: {
                op: op as never,
                urn: urn(type, name),
                type,
                provider: "",
                diffs: extra.diffs,
                detailedDiff: extra.detailedDiff as never,
            },
        },
    };
}

describe("ops: drift", () => {
    const driftEvents = [
        outputs("same", "kubernetes:core/v1:Service", "cart-service"),
        outputs("update", "kubernetes:apps/v1:Deployment", "cart-service", {
            diffs: ["spec"],
            detailedDiff: { "spec.replicas": { diffKind: "update", inputDiff: false } },
        }),
        outputs("delete", "kubernetes:networking.k8s.io/v1:NetworkPolicy", "default-deny"),
        outputs("update", "pulumi:providers:kubernetes", "k8s"),
        outputs("update", "pulumi:pulumi:Stack", "ultramarket-production"),
        {
            sequence: 2,
            timestamp: 0,
            resourcePreEvent: {
                metadata: {
                    op: "refresh" as never,
                    urn: urn("kubernetes:core/v1:Service", "x"),
                    type: "kubernetes:core/v1:Service",
                    provider: "",
                },
            },
        },
    ];

    it("lists resources the refresh found changed or deleted, with the properties that differ", () => {
        const drifted = collectDrift(driftEvents);
        assert.deepEqual(
            drifted.map((d) => [d.op, d.type, d.name, d.properties]),
            [
                ["update", "kubernetes:apps/v1:Deployment", "cart-service", ["spec", "spec.replicas"]],
                ["delete", "kubernetes:networking.k8s.io/v1:NetworkPolicy", "default-deny", []],
            ],
        );
    });

    it("works out the changed properties itself when the provider reports no diff", () => {
        const event: EngineEvent = {
            sequence: 3,
            timestamp: 0,
            resOutputsEvent: {
                metadata: {
                    op: "update",
                    urn: urn("kubernetes:apps/v1:Deployment", "user-service"),
                    type: "kubernetes:apps/v1:Deployment",
                    provider: "",
                    old: { outputs: { spec: { replicas: 2, template: { x: 1 } }, metadata: { name: "user-service" } } } as never,
                    new: { outputs: { spec: { replicas: 5, template: { x: 1 } }, metadata: { name: "user-service" } } } as never,
                },
            },
        };
        assert.deepEqual(collectDrift([event])[0].properties, ["spec.replicas"]);
        assert.deepEqual(changedPaths({ a: { b: { c: { d: 1 } } } }, { a: { b: { c: { d: 2 } } } }), ["a.b.c"]);
    });

    it("runs refresh --preview-only --expect-no-changes, prints what drifted and exits 5", async () => {
        const stack = new FakeStack("production", [{ version: 1 }]);
        stack.refreshEvents = driftEvents;
        stack.refreshThrows = true; // --expect-no-changes makes the CLI fail on drift
        const io = new MemoryIO();
        const report = await detectDrift(stack, io);
        assert.equal(report.exitCode, ExitCode.Drift);
        assert.equal((stack.callsTo("previewRefresh")[0].args[0] as { expectNoChanges: boolean }).expectNoChanges, true);
        assert.match(io.text, /DRIFT: 2 resource\(s\)/);
        assert.match(io.text, /changed {2}kubernetes:apps\/v1:Deployment cart-service: spec, spec.replicas/);
        assert.match(io.text, /deleted {2}kubernetes:networking.k8s.io\/v1:NetworkPolicy default-deny/);
        assert.equal(stack.callsTo("up").length, 0);
    });

    it("exits 0 when nothing drifted", async () => {
        const stack = new FakeStack("production", [{ version: 1 }]);
        stack.refreshEvents = [outputs("same", "kubernetes:apps/v1:Deployment", "cart-service")];
        const io = new MemoryIO();
        assert.equal((await detectDrift(stack, io)).exitCode, ExitCode.Ok);
        assert.match(io.text, /no drift/);
    });

    it("a refresh that fails without finding drift is an operation failure naming the stack", async () => {
        const stack = new FakeStack("production", [{ version: 1 }]);
        stack.refreshThrows = true;
        await assert.rejects(
            detectDrift(stack, new MemoryIO()),
            (err: unknown) =>
                err instanceof OpsError &&
                err.exitCode === ExitCode.OperationFailed &&
                /stack "production": refresh --preview-only failed/.test(err.message),
        );
    });
});
