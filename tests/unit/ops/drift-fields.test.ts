import { strict as assert } from "assert";
import { ForeignField, foreignFields, formatPath, parseSegment } from "../../../ops/drift/managed-fields";
import { removalPatch } from "../../../ops/drift/removal-patch";
import { hpaTargets, programObjects } from "../../../ops/drift/program-objects";
import {
    PULUMI_MANAGER,
    entry,
    liveEditedSecret,
    liveOrderService,
    orderServiceHpa,
    orderServiceManifest,
    scale,
    stateResource,
} from "./managed-fields-fixtures";

function foreignOf(live: ReturnType<typeof liveOrderService>, scaledByHpa = true) {
    return foreignFields({
        kind: live.kind,
        apiVersion: live.apiVersion,
        managedFields: live.metadata.managedFields ?? [],
        fieldManager: PULUMI_MANAGER,
        manifest: orderServiceManifest(),
        scaledByHpa,
    });
}

const lines = (fields: ForeignField[]) => fields.map((f) => `${f.change} ${f.display} by ${f.manager}`).sort();

describe("ops: drift sees fields other managers wrote (managedFields)", () => {
    it("reads FieldsV1 keys into readable paths", () => {
        assert.equal(
            formatPath([
                parseSegment("f:spec"),
                parseSegment("f:template"),
                parseSegment("f:spec"),
                parseSegment("f:containers"),
                parseSegment('k:{"name":"order-service"}'),
                parseSegment("f:env"),
                parseSegment('k:{"name":"DEBUG_BACKDOOR"}'),
            ]),
            "spec.template.spec.containers[name=order-service].env[name=DEBUG_BACKDOOR]",
        );
        assert.equal(
            formatPath([parseSegment("f:ports"), parseSegment('k:{"containerPort":9999,"protocol":"TCP"}')]),
            "ports[containerPort=9999,protocol=TCP]",
        );
        assert.equal(
            formatPath([parseSegment("f:metadata"), parseSegment("f:annotations"), parseSegment("f:deployment.kubernetes.io/revision")]),
            'metadata.annotations["deployment.kubernetes.io/revision"]',
        );
        assert.equal(
            formatPath([parseSegment("f:metadata"), parseSegment("f:finalizers"), parseSegment('v:"kubernetes.io/pvc-protection"')]),
            "metadata.finalizers[kubernetes.io/pvc-protection]",
        );
    });

    it("an object as Pulumi and the controllers left it has no foreign field", () => {
        const { foreign, expected } = foreignOf(liveOrderService());
        assert.deepEqual(foreign, []);
        assert.deepEqual(
            expected.map((e) => [e.who, e.fields]),
            [
                ["kube-controller-manager", 1],
                ["kube-controller-manager (status)", 3],
            ],
        );
    });

    it("kubectl set env: the added env var, by kubectl-set, with its time", () => {
        const { foreign } = foreignOf(liveOrderService({ backdoor: true }));
        assert.equal(foreign.length, 1);
        assert.equal(foreign[0].display, "spec.template.spec.containers[name=order-service].env[name=DEBUG_BACKDOOR]");
        assert.deepEqual(
            [foreign[0].manager, foreign[0].operation, foreign[0].time, foreign[0].change],
            ["kubectl-set", "Update", "2026-11-21T08:15:42Z", "added"],
        );
    });

    it("kubectl patch adding a container port", () => {
        assert.deepEqual(lines(foreignOf(liveOrderService({ port: true })).foreign), [
            "added spec.template.spec.containers[name=order-service].ports[containerPort=9999,protocol=TCP] by kubectl-patch",
        ]);
    });

    it("an added sidecar, volume, volume mount and capability, each once", () => {
        assert.deepEqual(lines(foreignOf(liveOrderService({ sidecar: true })).foreign), [
            "added spec.template.spec.containers[name=debug-sidecar] by kubectl-patch",
            "added spec.template.spec.containers[name=order-service].securityContext.capabilities.add by kubectl-patch",
            "added spec.template.spec.containers[name=order-service].volumeMounts[mountPath=/host] by kubectl-patch",
            "added spec.template.spec.volumes[name=host-root] by kubectl-patch",
        ]);
    });

    it("a field the program sets and another manager took over is 'changed'", () => {
        assert.deepEqual(lines(foreignOf(liveOrderService({ image: true })).foreign), [
            "changed spec.template.spec.containers[name=order-service].image by kubectl-set",
        ]);
    });

    it("an HPA-style kubectl scale is not reported on an HPA target, and is on anything else", () => {
        const scaled = liveOrderService({ replicas: 5 });
        const { foreign, expected } = foreignOf(scaled, true);
        assert.deepEqual(foreign, []);
        assert.ok(expected.some((e) => e.who === "spec.replicas of an HPA target" && e.fields === 1));
        assert.deepEqual(lines(foreignOf(scaled, false).foreign), ["changed spec.replicas by kubectl"]);
        // The HPA itself (kube-controller-manager through the scale subresource) is an expected writer anywhere.
        const byHpa = liveOrderService();
        byHpa.metadata.managedFields!.push(scale("kube-controller-manager"));
        assert.deepEqual(foreignOf(byHpa, false).foreign, []);
    });

    it("status writes are excluded whoever makes them; an unknown manager's spec write is not", () => {
        const live = liveOrderService();
        live.metadata.managedFields!.push(
            entry("some-operator", { "f:status": { "f:observedGeneration": {} } }, { subresource: "status" }),
        );
        live.metadata.managedFields!.push(entry("some-operator", { "f:metadata": { "f:labels": { "f:hijacked": {} } } }));
        assert.deepEqual(lines(foreignOf(live).foreign), ["added metadata.labels.hijacked by some-operator"]);
    });

    it("never shows a Secret's values or key names, only that its data changed", () => {
        const live = liveEditedSecret();
        const { foreign } = foreignFields({
            kind: "Secret",
            apiVersion: "v1",
            managedFields: live.metadata.managedFields!,
            fieldManager: PULUMI_MANAGER,
            manifest: { stringData: { JWT_SECRET: "x" } },
            scaledByHpa: false,
        });
        assert.deepEqual(lines(foreign), ["changed data (Secret values not shown) by kubectl-edit"]);
        const text = JSON.stringify(foreign.map((f) => [f.display, f.manager]));
        for (const secret of ["STOLEN_TOKEN", "JWT_SECRET", "c3VwZXI", "dG9rZW4"]) assert.ok(!text.includes(secret), text);
        assert.deepEqual(removalPatch(live, foreign).patch, [], "heal never deletes Secret data; up re-applies it");
    });

    it("without Pulumi's manager name in the state, any pulumi-kubernetes-* manager counts as Pulumi's", () => {
        const live = liveOrderService({ backdoor: true });
        const { foreign } = foreignFields({
            kind: "Deployment",
            apiVersion: "apps/v1",
            managedFields: live.metadata.managedFields!,
            manifest: orderServiceManifest(),
            scaledByHpa: true,
        });
        assert.deepEqual(lines(foreign), [
            "added spec.template.spec.containers[name=order-service].env[name=DEBUG_BACKDOOR] by kubectl-set",
        ]);
    });
});

describe("ops: drift --heal's JSON patch", () => {
    it("removes exactly the added list entries and fields, pinned by test ops, highest index first", () => {
        const live = liveOrderService({ backdoor: true, port: true, sidecar: true, image: true });
        const { foreign } = foreignOf(live);
        const { patch, removed } = removalPatch(live, foreign);
        // the sidecar was put first, so order-service is containers[1]
        assert.deepEqual(patch, [
            { op: "test", path: "/spec/template/spec/containers/1/name", value: "order-service" },
            { op: "test", path: "/spec/template/spec/containers/1/env/1/name", value: "DEBUG_BACKDOOR" },
            { op: "test", path: "/spec/template/spec/containers/1/ports/1/containerPort", value: 9999 },
            { op: "test", path: "/spec/template/spec/containers/1/ports/1/protocol", value: "TCP" },
            { op: "test", path: "/spec/template/spec/containers/0/name", value: "debug-sidecar" },
            { op: "test", path: "/spec/template/spec/containers/1/volumeMounts/0/mountPath", value: "/host" },
            { op: "test", path: "/spec/template/spec/volumes/0/name", value: "host-root" },
            { op: "remove", path: "/spec/template/spec/volumes/0" },
            { op: "remove", path: "/spec/template/spec/containers/1/volumeMounts/0" },
            { op: "remove", path: "/spec/template/spec/containers/1/securityContext/capabilities/add" },
            { op: "remove", path: "/spec/template/spec/containers/1/ports/1" },
            { op: "remove", path: "/spec/template/spec/containers/1/env/1" },
            { op: "remove", path: "/spec/template/spec/containers/0" },
        ]);
        assert.equal(removed.length, 6);
        assert.ok(!removed.some((f) => f.display.endsWith(".image")), "a changed field is re-applied by up, never removed");
    });

    it("a field already gone is reported as such and not patched", () => {
        const live = liveOrderService({ backdoor: true });
        const { foreign } = foreignOf(live);
        (live as any).spec.template.spec.containers[0].env.pop();
        const r = removalPatch(live, foreign);
        assert.deepEqual(r.patch, []);
        assert.equal(r.gone.length, 1);
    });
});

describe("ops: drift reads program-owned objects from the stack's state", () => {
    it("takes Kubernetes objects with apiVersion/kind/name, Pulumi's field manager and the manifest; skips Helm releases and providers", () => {
        const deployment = liveOrderService();
        const { objects, unreadable } = programObjects({
            deployment: {
                resources: [
                    {
                        urn: "urn:pulumi:production::ultramarket::pulumi:pulumi:Stack::ultramarket-production",
                        type: "pulumi:pulumi:Stack",
                        custom: false,
                    },
                    {
                        urn: "urn:pulumi:production::ultramarket::pulumi:providers:kubernetes::k8s",
                        type: "pulumi:providers:kubernetes",
                        custom: true,
                    },
                    stateResource("kubernetes:apps/v1:Deployment", deployment, orderServiceManifest()),
                    stateResource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", orderServiceHpa() as any, orderServiceHpa()),
                    {
                        urn: "urn:pulumi:production::ultramarket::kubernetes:helm.sh/v3:Release::ingress-nginx",
                        type: "kubernetes:helm.sh/v3:Release",
                        custom: true,
                        outputs: {},
                    },
                    {
                        urn: "urn:pulumi:production::ultramarket::kubernetes:core/v1:Secret::x",
                        type: "kubernetes:core/v1:Secret",
                        custom: true,
                        outputs: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "..." },
                    },
                ],
            },
        });
        assert.deepEqual(
            objects.map((o) => [o.kind, o.namespace, o.name, o.fieldManager]),
            [
                ["Deployment", "ultramarket-production", "order-service", PULUMI_MANAGER],
                ["HorizontalPodAutoscaler", "ultramarket-production", "order-service", PULUMI_MANAGER],
            ],
        );
        assert.deepEqual(unreadable, ["urn:pulumi:production::ultramarket::kubernetes:core/v1:Secret::x"]);
        assert.deepEqual([...hpaTargets(objects)], ["apps/Deployment/ultramarket-production/order-service"]);
    });
});
