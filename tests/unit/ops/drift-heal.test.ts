import { strict as assert } from "assert";
import type { EngineEvent, UpOptions, UpResult } from "@pulumi/pulumi/automation";
import { main } from "../../../ops/cli";
import type { CliDeps } from "../../../ops/commands/command";
import { FORCE_CONFLICTS_ENV, HEAL_FIELD_MANAGER, checkDrift, healDrift } from "../../../ops/drift/check";
import type { LiveObject } from "../../../ops/drift/cluster";
import { ExitCode } from "../../../ops/errors";
import { REPO_ROOT } from "../../../ops/workspace";
import { FakeCluster } from "./fake-cluster";
import { FakeCode, FakeStack, FakeVerifier, MemoryIO, PASSED } from "./fakes";
import {
    NS,
    PULUMI_MANAGER,
    entry,
    liveEditedSecret,
    liveOrderService,
    orderServiceHpa,
    orderServiceManifest,
    stateResource,
    stateUrn,
} from "./managed-fields-fixtures";

const POLICY = { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "order-service-ingress", namespace: NS } };
const POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

function liveHpa(): LiveObject {
    const hpa = orderServiceHpa() as unknown as LiveObject;
    hpa.metadata.managedFields = [
        entry(
            PULUMI_MANAGER,
            { "f:spec": { "f:maxReplicas": {}, "f:minReplicas": {}, "f:scaleTargetRef": {} } },
            { operation: "Apply", apiVersion: "autoscaling/v2" },
        ),
    ];
    return hpa;
}

function livePolicy(): LiveObject {
    return {
        ...POLICY,
        metadata: {
            ...POLICY.metadata,
            managedFields: [
                entry(PULUMI_MANAGER, { "f:spec": { "f:podSelector": {} } }, { operation: "Apply", apiVersion: "networking.k8s.io/v1" }),
            ],
        },
        spec: { podSelector: {} },
    };
}

const deletedPolicyEvent: EngineEvent = {
    sequence: 1,
    timestamp: 0,
    resOutputsEvent: { metadata: { op: "delete", urn: stateUrn(POLICY_TYPE, POLICY.metadata.name), type: POLICY_TYPE, provider: "" } },
};

/** A stack whose `up --refresh` does what Pulumi would: recreate the deleted policy (fields other managers own stay). */
class HealingStack extends FakeStack {
    upEnv: Array<Record<string, string>> = [];
    workspace = { envVars: {} as Record<string, string> };
    constructor(private readonly cluster: FakeCluster) {
        super("production", [{ version: 1 }]);
    }
    async up(opts?: UpOptions): Promise<UpResult> {
        this.upEnv.push({ ...this.workspace.envVars });
        const result = await super.up(opts);
        if (!this.cluster.objects.has(`networking.k8s.io/NetworkPolicy/${NS}/${POLICY.metadata.name}`)) this.cluster.put(livePolicy());
        this.refreshEvents = [];
        this.refreshThrows = false;
        return result;
    }
}

/** order-service after kubectl set env, kubectl patch (port) and kubectl scale; its network policy deleted. */
function driftedPlatform(extra: { image?: boolean } = {}) {
    const cluster = new FakeCluster([liveOrderService({ backdoor: true, port: true, replicas: 5, image: extra.image }), liveHpa()]);
    const stack = new HealingStack(cluster);
    stack.resources = [
        stateResource("kubernetes:apps/v1:Deployment", liveOrderService(), orderServiceManifest()),
        stateResource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", liveHpa(), orderServiceHpa()),
        stateResource(POLICY_TYPE, POLICY),
    ];
    stack.refreshEvents = [deletedPolicyEvent];
    stack.refreshThrows = true; // --expect-no-changes fails on drift
    return { cluster, stack };
}

describe("ops: drift reports refresh drift and foreign fields per object", () => {
    it("reports the added env var and port with manager and time, the deleted policy, and not the HPA-style scale; exit 5", async () => {
        const { cluster, stack } = driftedPlatform();
        const io = new MemoryIO();
        const report = await checkDrift({ stack, io, cluster });
        assert.equal(report.exitCode, ExitCode.Drift);
        assert.deepEqual(
            report.drifted.map((d) => [d.name, d.refresh?.op, d.foreign.map((f) => f.display)]),
            [
                [
                    "order-service",
                    undefined,
                    [
                        "spec.template.spec.containers[name=order-service].env[name=DEBUG_BACKDOOR]",
                        "spec.template.spec.containers[name=order-service].ports[containerPort=9999,protocol=TCP]",
                    ],
                ],
                ["order-service-ingress", "delete", []],
            ],
        );
        assert.match(io.text, /DRIFT: 2 object\(s\)/);
        assert.match(
            io.text,
            /kubernetes:apps\/v1:Deployment order-service \(Deployment ultramarket-production\/order-service\)\n {4}added {4}spec\.template\.spec\.containers\[name=order-service\]\.env\[name=DEBUG_BACKDOOR\] {2}by kubectl-set \(Update, 2026-11-21T08:15:42Z\)/,
        );
        assert.match(io.text, /deleted {2}gone from the cluster \(refresh\)/);
        assert.match(io.text, /not reported \(expected writers\): .*spec\.replicas of an HPA target 1 field/);
        assert.ok(!/ {4}\w+ +spec\.replicas/.test(io.text), "the scale is reported");
        assert.equal(stack.callsTo("up").length, 0);
        assert.equal(cluster.patches.length, 0, "a check changes nothing");
    });

    it("a refresh change of only spec.replicas on an HPA target is the HPA's, not drift", async () => {
        const cluster = new FakeCluster([liveOrderService({ replicas: 5 }), liveHpa()]);
        const stack = new FakeStack("production", [{ version: 1 }]);
        stack.resources = [
            stateResource("kubernetes:apps/v1:Deployment", liveOrderService(), orderServiceManifest()),
            stateResource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", liveHpa(), orderServiceHpa()),
        ];
        const type = "kubernetes:apps/v1:Deployment";
        stack.refreshEvents = [
            {
                sequence: 1,
                timestamp: 0,
                resOutputsEvent: {
                    metadata: {
                        op: "update",
                        urn: stateUrn(type, "order-service"),
                        type,
                        provider: "",
                        diffs: ["spec"],
                        detailedDiff: { "spec.replicas": { diffKind: "update", inputDiff: false } } as never,
                    },
                },
            },
        ];
        stack.refreshThrows = true;
        const io = new MemoryIO();
        assert.equal((await checkDrift({ stack, io, cluster })).exitCode, ExitCode.Ok);
        assert.match(io.text, /no drift/);
    });

    it("exits 0 when refresh and managedFields are clean", async () => {
        const cluster = new FakeCluster([liveOrderService(), liveHpa()]);
        const stack = new FakeStack("production", [{ version: 1 }]);
        stack.resources = [
            stateResource("kubernetes:apps/v1:Deployment", liveOrderService(), orderServiceManifest()),
            stateResource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", liveHpa(), orderServiceHpa()),
        ];
        const io = new MemoryIO();
        assert.equal((await checkDrift({ stack, io, cluster })).exitCode, ExitCode.Ok);
        assert.match(io.text, /no drift \(2 object\(s\)/);
    });

    it("a Secret edited by hand is reported without its values or key names", async () => {
        const secret = liveEditedSecret();
        const cluster = new FakeCluster([secret]);
        const stack = new FakeStack("production", [{ version: 1 }]);
        stack.resources = [
            stateResource("kubernetes:core/v1:Secret", secret, {
                apiVersion: "v1",
                kind: "Secret",
                stringData: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:abc" },
            }),
        ];
        const io = new MemoryIO();
        assert.equal((await checkDrift({ stack, io, cluster })).exitCode, ExitCode.Drift);
        assert.match(io.text, /changed {2}data \(Secret values not shown\) {2}by kubectl-edit/);
        for (const s of ["STOLEN_TOKEN", "JWT_SECRET", "c3VwZXI", "dG9rZW4", "cGFzc3dvcmQ"])
            assert.ok(!io.text.includes(s), `${s} printed`);
    });

    it("an object in the state but gone from the cluster, unseen by refresh, is reported missing", async () => {
        const cluster = new FakeCluster([]);
        const stack = new FakeStack("production", [{ version: 1 }]);
        stack.resources = [stateResource(POLICY_TYPE, POLICY)];
        const io = new MemoryIO();
        assert.equal((await checkDrift({ stack, io, cluster })).exitCode, ExitCode.Drift);
        assert.match(io.text, /missing {2}not in the cluster/);
    });
});

describe("ops: drift --heal", () => {
    it("removes the added fields by JSON patch, runs up --refresh with forced conflicts, checks again: exit 0", async () => {
        const { cluster, stack } = driftedPlatform();
        const io = new MemoryIO();
        const report = await healDrift({ stack, io, cluster });
        assert.equal(report.exitCode, ExitCode.Ok);
        assert.equal(cluster.patches.length, 1);
        assert.equal(cluster.patches[0].fieldManager, HEAL_FIELD_MANAGER);
        const live = (await cluster.read([{ apiVersion: "apps/v1", kind: "Deployment", name: "order-service", namespace: NS }]))[0]
            .object as any;
        const container = live.spec.template.spec.containers[0];
        assert.deepEqual(
            container.env.map((e: { name: string }) => e.name),
            ["NODE_ENV"],
        );
        assert.deepEqual(
            container.ports.map((p: { containerPort: number }) => p.containerPort),
            [3007],
        );
        assert.equal(live.spec.replicas, 5, "heal leaves the HPA's replica count alone");
        const [up] = stack.callsTo("up");
        assert.equal((up.args[0] as UpOptions).refresh, true);
        assert.match(
            String((up.args[0] as UpOptions).message),
            /^drift --heal: removed 2 field\(s\) other managers added on 1 object\(s\); up --refresh for 1 other/,
        );
        assert.equal(stack.upEnv[0][FORCE_CONFLICTS_ENV], "true");
        assert.deepEqual(stack.workspace.envVars, {}, "the force setting does not outlive heal's up");
        assert.match(
            io.text,
            /healed {3}Deployment ultramarket-production\/order-service: removed spec\.template\.spec\.containers\[name=order-service\]\.env\[name=DEBUG_BACKDOOR\] \(added by kubectl-set\)/,
        );
        assert.deepEqual(report.after?.drifted, []);
        assert.match(io.lines[io.lines.length - 2] + io.lines[io.lines.length - 1], /no drift/);
    });

    it("exits 5 and lists what is left when drift survives the heal", async () => {
        const { cluster, stack } = driftedPlatform({ image: true }); // the fake up does not re-apply the image
        const io = new MemoryIO();
        const report = await healDrift({ stack, io, cluster });
        assert.equal(report.exitCode, ExitCode.Drift);
        assert.deepEqual(
            report.after?.drifted.flatMap((d) => d.foreign.map((f) => `${f.change} ${f.display}`)),
            ["changed spec.template.spec.containers[name=order-service].image"],
        );
    });

    it("changes nothing when there is no drift", async () => {
        const cluster = new FakeCluster([liveOrderService(), liveHpa()]);
        const stack = new HealingStack(cluster);
        stack.resources = [stateResource("kubernetes:apps/v1:Deployment", liveOrderService(), orderServiceManifest())];
        const report = await healDrift({ stack, io: new MemoryIO(), cluster });
        assert.equal(report.exitCode, ExitCode.Ok);
        assert.equal(stack.callsTo("up").length, 0);
        assert.equal(cluster.patches.length, 0);
    });

    it("the CLI: drift exits 5, drift --heal exits 0 once healed, reading the cluster the stack's config names", async () => {
        const { cluster, stack } = driftedPlatform();
        const io = new MemoryIO();
        const configs: unknown[] = [];
        const deps: CliDeps = {
            io,
            openStack: async () => stack,
            code: new FakeCode(),
            verifier: new FakeVerifier([PASSED]),
            repoRoot: REPO_ROOT,
            env: {},
            probe: { run: async () => ({ found: false, code: 1, stdout: "", stderr: "" }) },
            cluster: (config) => {
                configs.push(config);
                return cluster;
            },
        };
        assert.equal(await main(["drift", "--stack", "production"], deps), ExitCode.Drift);
        assert.equal(await main(["drift", "--stack", "production", "--heal"], deps), ExitCode.Ok);
        assert.equal(configs.length, 2);
        assert.equal(await main(["drift", "--stack", "production"], deps), ExitCode.Ok);
    });
});
