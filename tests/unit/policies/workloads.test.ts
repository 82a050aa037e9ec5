import * as assert from "assert";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { parseQuantity } from "../../../policies/lib/quantity";
import { parseImage } from "../../../policies/workloads";
import { datastore, deployment, everyWorkload, migrationJob, NS } from "./fixtures";
import { FakeResource, policy, validateResource } from "./harness";

const DEPLOYMENT = `Deployment/${NS}/auth-service`;

async function run(name: string, r: FakeResource, config: object = {}) {
    return validateResource(policy<ResourceValidationPolicy>(name), r, config);
}

async function assertOneViolation(name: string, r: FakeResource, object: string, fix: RegExp, config: object = {}) {
    const { violations, notApplicable } = await run(name, r, config);
    assert.strictEqual(notApplicable, undefined);
    assert.strictEqual(violations.length, 1, `expected one violation of ${name}, got: ${JSON.stringify(violations)}`);
    assert.ok(violations[0].includes(object), `message should name ${object}: ${violations[0]}`);
    assert.match(violations[0], fix);
}

describe("policies: immutable image tags", () => {
    it("reads tags and digests from image references, registry ports included", () => {
        assert.deepStrictEqual(parseImage("registry:5000/team/app"), { repository: "registry:5000/team/app", digest: undefined });
        assert.deepStrictEqual(parseImage("registry:5000/app:1.2"), { repository: "registry:5000/app", tag: "1.2", digest: undefined });
        assert.strictEqual(parseImage("app@sha256:abc").digest, "sha256:abc");
    });

    it("passes images pinned to a version tag or a digest", async () => {
        for (const w of everyWorkload()) {
            assert.deepStrictEqual((await run("immutable-image-tags", w)).violations, []);
        }
        const byDigest = deployment((d) => {
            d.spec!.template.spec!.containers[0].image = `registry.ultramarket.uz/auth-service@sha256:${"a".repeat(64)}`;
        });
        assert.deepStrictEqual((await run("immutable-image-tags", byDigest)).violations, []);
    });

    it("refuses the latest tag", async () => {
        await assertOneViolation(
            "immutable-image-tags",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].image = "registry.ultramarket.uz/auth-service:latest";
            }),
            `${DEPLOYMENT}: container "auth-service" image "registry.ultramarket.uz/auth-service:latest"`,
            /pin an immutable tag or digest/,
        );
    });

    it("refuses an untagged image, even behind a registry port", async () => {
        await assertOneViolation(
            "immutable-image-tags",
            migrationJob((j) => {
                j.spec!.template.spec!.containers[0].image = "registry.local:5000/auth-service";
            }),
            `Job/${NS}/auth-service-migrate`,
            /has no tag \(it means latest\)/,
        );
    });

    it("refuses tags listed in forbiddenTags config", async () => {
        await assertOneViolation(
            "immutable-image-tags",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].image = "registry.ultramarket.uz/auth-service:main";
            }),
            DEPLOYMENT,
            /mutable tag "main"/,
            { forbiddenTags: ["latest", "main"] },
        );
    });
});

describe("policies: requests and limits", () => {
    it("passes containers with cpu and memory requests and limits", async () => {
        for (const w of everyWorkload()) {
            assert.deepStrictEqual((await run("resource-requests-limits", w)).violations, []);
        }
    });

    it("refuses a container without a memory limit and names what is missing", async () => {
        await assertOneViolation(
            "resource-requests-limits",
            deployment((d) => {
                delete d.spec!.template.spec!.containers[0].resources!.limits!.memory;
            }),
            `${DEPLOYMENT}: container "auth-service" has no resources.limits.memory`,
            /set cpu and memory requests and limits/,
        );
    });

    it("refuses an init container without resources", async () => {
        await assertOneViolation(
            "resource-requests-limits",
            datastore((s) => {
                s.spec!.template.spec!.initContainers = [
                    { ...s.spec!.template.spec!.containers[0], name: "init-perms", resources: undefined },
                ];
            }),
            `StatefulSet/${NS}/postgres: init container "init-perms" has no resources.requests.cpu, resources.requests.memory, resources.limits.cpu, resources.limits.memory`,
            /set cpu/,
        );
    });
});

describe("policies: health probes", () => {
    it("passes long-running workloads with readiness and liveness probes", async () => {
        assert.deepStrictEqual((await run("health-probes", deployment())).violations, []);
        assert.deepStrictEqual((await run("health-probes", datastore())).violations, []);
    });

    it("does not ask Jobs for probes", async () => {
        assert.ok((await run("health-probes", migrationJob())).notApplicable !== undefined);
    });

    it("refuses a Deployment container without a liveness probe", async () => {
        await assertOneViolation(
            "health-probes",
            deployment((d) => {
                delete d.spec!.template.spec!.containers[0].livenessProbe;
            }),
            `${DEPLOYMENT}: container "auth-service" has no livenessProbe`,
            /add probes/,
        );
    });

    it("refuses a data store without a readiness probe", async () => {
        await assertOneViolation(
            "health-probes",
            datastore((s) => {
                delete s.spec!.template.spec!.containers[0].readinessProbe;
            }),
            `StatefulSet/${NS}/postgres: container "postgres" has no readinessProbe`,
            /health endpoint/,
        );
    });
});

describe("policies: bounded scratch space", () => {
    it("is mandatory and passes every compliant workload", async () => {
        assert.strictEqual(policy("bounded-scratch-space").enforcementLevel, "mandatory");
        for (const w of everyWorkload()) {
            assert.deepStrictEqual((await run("bounded-scratch-space", w)).violations, []);
        }
    });

    it("refuses an emptyDir without a sizeLimit, naming the volume", async () => {
        await assertOneViolation(
            "bounded-scratch-space",
            deployment((d) => {
                d.spec!.template.spec!.volumes![0].emptyDir = {};
            }),
            `${DEPLOYMENT}: emptyDir volume "tmp" has no sizeLimit`,
            /emptyDir.sizeLimit/,
        );
    });

    it("refuses a container, or an init container, without an ephemeral-storage limit", async () => {
        await assertOneViolation(
            "bounded-scratch-space",
            migrationJob((j) => {
                delete j.spec!.template.spec!.containers[0].resources!.limits!["ephemeral-storage"];
            }),
            `Job/${NS}/auth-service-migrate: container "auth-service-migrate" has no resources.limits.ephemeral-storage`,
            /logs and scratch/,
        );
        const init = deployment((d) => {
            const c = JSON.parse(JSON.stringify(d.spec!.template.spec!.containers[0]));
            c.name = "seed";
            delete c.resources.limits["ephemeral-storage"];
            d.spec!.template.spec!.initContainers = [c];
        });
        await assertOneViolation(
            "bounded-scratch-space",
            init,
            `${DEPLOYMENT}: init container "seed" has no resources.limits.ephemeral-storage`,
            /ephemeral-storage/,
        );
    });
});

describe("policies: startup probes on stateful workloads", () => {
    it("is mandatory, passes a data store with a startup probe, and applies to StatefulSets only", async () => {
        assert.strictEqual(policy("stateful-startup-probes").enforcementLevel, "mandatory");
        assert.deepStrictEqual((await run("stateful-startup-probes", datastore())).violations, []);
        assert.ok((await run("stateful-startup-probes", deployment())).notApplicable !== undefined);
        assert.ok((await run("stateful-startup-probes", migrationJob())).notApplicable !== undefined);
    });

    it("refuses a StatefulSet container without a startup probe, naming it", async () => {
        await assertOneViolation(
            "stateful-startup-probes",
            datastore((s) => {
                delete s.spec!.template.spec!.containers[0].startupProbe;
            }),
            `StatefulSet/${NS}/postgres: container "postgres" has no startupProbe`,
            /failureThreshold x periodSeconds/,
        );
    });
});

describe("policies: topology spread (advisory)", () => {
    it("is advisory", () => {
        assert.strictEqual(policy("topology-spread").enforcementLevel, "advisory");
    });

    it("passes a spread Deployment and ignores single-replica StatefulSets", async () => {
        assert.deepStrictEqual((await run("topology-spread", deployment())).violations, []);
        assert.ok((await run("topology-spread", datastore())).notApplicable !== undefined);
    });

    it("accepts pod anti-affinity instead of spread constraints", async () => {
        const r = deployment((d) => {
            delete d.spec!.template.spec!.topologySpreadConstraints;
            d.spec!.template.spec!.affinity = {
                podAntiAffinity: {
                    preferredDuringSchedulingIgnoredDuringExecution: [
                        {
                            weight: 100,
                            podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "x" } } },
                        },
                    ],
                },
            };
        });
        assert.deepStrictEqual((await run("topology-spread", r)).violations, []);
    });

    it("flags a replicated Deployment whose pods may all land on one node", async () => {
        await assertOneViolation(
            "topology-spread",
            deployment((d) => {
                delete d.spec!.template.spec!.topologySpreadConstraints;
            }),
            DEPLOYMENT,
            /add topologySpreadConstraints on kubernetes.io\/hostname/,
        );
    });
});

describe("policies: request/limit ratio (advisory)", () => {
    it("parses Kubernetes quantities", () => {
        assert.strictEqual(parseQuantity("250m"), 0.25);
        assert.strictEqual(parseQuantity("2"), 2);
        assert.strictEqual(parseQuantity("512Mi"), 512 * 2 ** 20);
        assert.strictEqual(parseQuantity("1G"), 1e9);
        assert.strictEqual(parseQuantity("1e3"), 1000);
        assert.strictEqual(parseQuantity("lots"), undefined);
    });

    it("passes limits within 4x (cpu) and 2x (memory) of requests", async () => {
        for (const w of everyWorkload()) {
            assert.deepStrictEqual((await run("request-limit-ratio", w)).violations, []);
        }
    });

    it("flags a memory limit 8x its request", async () => {
        await assertOneViolation(
            "request-limit-ratio",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].resources = {
                    requests: { cpu: "100m", memory: "128Mi" },
                    limits: { cpu: "200m", memory: "1Gi" },
                };
            }),
            `${DEPLOYMENT}: container "auth-service" memory limit is 8.0x its request (max 2x)`,
            /raise the request or lower the limit/,
        );
    });

    it("takes the bounds from policy config", async () => {
        await assertOneViolation("request-limit-ratio", deployment(), DEPLOYMENT, /cpu limit is 4.0x its request \(max 2x\)/, {
            maxCpuRatio: 2,
        });
    });
});
