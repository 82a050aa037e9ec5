import * as assert from "assert";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { datastore, deployment, hpa, migrationJob, NS, pdb, serviceAccount } from "./fixtures";
import { FakeResource, policy, PRODUCTION, urnOf, validateResource, validateStack } from "./harness";

const DEPLOYMENT = `Deployment/${NS}/auth-service`;

describe("policies: at least 2 replicas in production", () => {
    const run = (resources: FakeResource[], stack = PRODUCTION, config: object = {}) =>
        validateStack(policy<StackValidationPolicy>("production-min-replicas", stack), resources, config);

    it("passes a Deployment with 2 replicas, and one scaled by an HPA with minReplicas 2", async () => {
        assert.deepStrictEqual((await run([deployment()])).violations, []);
        const hpaManaged = deployment((d) => {
            delete d.spec!.replicas;
        });
        assert.deepStrictEqual((await run([hpaManaged, hpa()])).violations, []);
    });

    it("refuses a single-replica Deployment and reports it against that Deployment", async () => {
        const single = deployment((d) => {
            d.spec!.replicas = 1;
        });
        const outcome = await run([single]);
        assert.strictEqual(outcome.violations.length, 1);
        assert.ok(
            outcome.violations[0].startsWith(`${DEPLOYMENT}: runs 1 replica(s) and no HorizontalPodAutoscaler targets it`),
            outcome.violations[0],
        );
        assert.match(outcome.violations[0], /set spec.replicas: 2 or add an HPA with minReplicas: 2/);
        assert.deepStrictEqual(outcome.urns, [urnOf(single)]);
    });

    it("passes a single-replica Deployment whose ultramarket.uz/single-replica annotation says why, and only then", async () => {
        const annotated = (reason: string) =>
            deployment((d) => {
                d.spec!.replicas = 1;
                d.metadata!.annotations = { "ultramarket.uz/single-replica": reason };
            });
        assert.deepStrictEqual((await run([annotated("one scrape target per store")])).violations, []);
        assert.strictEqual((await run([annotated(" ")])).violations.length, 1, "an empty reason exempts nothing");
    });

    it("refuses an HPA whose minimum is 1, and names both objects", async () => {
        const outcome = await run([
            deployment(),
            hpa("auth-service", (h) => {
                h.spec!.minReplicas = 1;
            }),
        ]);
        assert.strictEqual(outcome.violations.length, 1);
        assert.ok(
            outcome.violations[0].startsWith(
                `${DEPLOYMENT}: its HorizontalPodAutoscaler HorizontalPodAutoscaler/${NS}/auth-service has minReplicas 1`,
            ),
            outcome.violations[0],
        );
    });

    it("ignores an HPA that targets another Deployment", async () => {
        const single = deployment((d) => {
            d.spec!.replicas = 1;
        });
        assert.strictEqual((await run([single, hpa("cart-service")])).violations.length, 1);
    });

    it("does not apply to other stacks", async () => {
        assert.ok(
            (
                await run(
                    [
                        deployment((d) => {
                            d.spec!.replicas = 1;
                        }),
                    ],
                    "dev",
                )
            ).notApplicable !== undefined,
        );
    });
});

describe("policies: a PodDisruptionBudget for each Deployment in production", () => {
    const run = (resources: FakeResource[], stack = PRODUCTION) =>
        validateStack(policy<StackValidationPolicy>("production-pdb-per-deployment", stack), resources);

    it("passes a Deployment whose pods a PDB selects", async () => {
        assert.deepStrictEqual((await run([deployment(), pdb()])).violations, []);
    });

    it("accepts matchExpressions selectors", async () => {
        const byExpression = pdb("auth-service", (p) => {
            p.spec!.selector = {
                matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["auth-service", "user-service"] }],
            };
        });
        assert.deepStrictEqual((await run([deployment(), byExpression])).violations, []);
    });

    it("refuses a Deployment without a PDB, naming it and its pod labels", async () => {
        const d = deployment();
        const outcome = await run([d, pdb("cart-service")]);
        assert.strictEqual(outcome.violations.length, 1);
        assert.ok(
            outcome.violations[0].startsWith(
                `${DEPLOYMENT}: no PodDisruptionBudget selects its pods (app.kubernetes.io/name=auth-service, app.kubernetes.io/part-of=ultramarket)`,
            ),
            outcome.violations[0],
        );
        assert.match(outcome.violations[0], /add a policy\/v1 PodDisruptionBudget/);
        assert.deepStrictEqual(outcome.urns, [urnOf(d)]);
    });

    it("does not count a PDB in another namespace", async () => {
        const elsewhere = pdb("auth-service", (p) => {
            p.metadata!.namespace = "other";
        });
        assert.strictEqual((await run([deployment(), elsewhere])).violations.length, 1);
    });
});

describe("policies: protected data stores in production", () => {
    const run = (r: FakeResource, stack = PRODUCTION) =>
        validateResource(policy<ResourceValidationPolicy>("production-protected-datastores", stack), r);
    const POSTGRES = `StatefulSet/${NS}/postgres`;

    it("passes a protected data store with retained volumes", async () => {
        assert.deepStrictEqual((await run(datastore())).violations, []);
    });

    it("refuses a data store without Pulumi protect", async () => {
        const { violations } = await run(datastore(undefined, false));
        assert.strictEqual(violations.length, 1);
        assert.ok(violations[0].startsWith(`${POSTGRES}: the data store is not protected`), violations[0]);
        assert.match(violations[0], /protect: true/);
    });

    it("refuses a PVC retention policy that deletes volumes", async () => {
        const { violations } = await run(
            datastore((s) => {
                s.spec!.persistentVolumeClaimRetentionPolicy = { whenDeleted: "Delete", whenScaled: "Retain" };
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(violations[0].startsWith(`${POSTGRES}: persistentVolumeClaimRetentionPolicy.whenDeleted is Delete`), violations[0]);
        assert.match(violations[0], /set it to Retain/);
    });

    it("refuses a data store without persistent volumes", async () => {
        const { violations } = await run(
            datastore((s) => {
                delete s.spec!.volumeClaimTemplates;
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.match(violations[0], /postgres: the data store keeps its data on no persistent volume/);
    });

    it("ignores StatefulSets that are not labelled as data stores, and other stacks", async () => {
        const plain = datastore((s) => {
            delete s.metadata!.labels!["app.kubernetes.io/component"];
            delete s.spec!.template.metadata!.labels!["app.kubernetes.io/component"];
        }, false);
        assert.ok((await run(plain)).notApplicable !== undefined);
        assert.ok((await run(datastore(undefined, false), "dev")).notApplicable !== undefined);
    });
});

describe("policies: ServiceAccount token automount off (advisory)", () => {
    const run = (resources: FakeResource[]) =>
        validateStack(policy<StackValidationPolicy>("no-service-account-token-automount"), resources);

    it("is advisory", () => {
        assert.strictEqual(policy("no-service-account-token-automount").enforcementLevel, "advisory");
    });

    it("passes pods that opt out, on the pod or on their ServiceAccount", async () => {
        assert.deepStrictEqual((await run([deployment(), migrationJob()])).violations, []);
        const viaAccount = deployment((d) => {
            delete d.spec!.template.spec!.automountServiceAccountToken;
        });
        assert.deepStrictEqual((await run([viaAccount, serviceAccount()])).violations, []);
    });

    it("flags a pod that inherits the default automount", async () => {
        const d = deployment((d) => {
            delete d.spec!.template.spec!.automountServiceAccountToken;
        });
        const outcome = await run([
            d,
            serviceAccount("auth-service", (s) => {
                delete s.automountServiceAccountToken;
            }),
        ]);
        assert.strictEqual(outcome.violations.length, 1);
        assert.ok(
            outcome.violations[0].startsWith(`${DEPLOYMENT}: pods mount the token of ServiceAccount ${NS}/auth-service`),
            outcome.violations[0],
        );
        assert.match(outcome.violations[0], /automountServiceAccountToken: false/);
        assert.deepStrictEqual(outcome.urns, [urnOf(d)]);
    });

    it("lets the pod setting win over its ServiceAccount", async () => {
        const d = deployment((d) => {
            d.spec!.template.spec!.automountServiceAccountToken = true;
        });
        assert.strictEqual((await run([d, serviceAccount()])).violations.length, 1);
    });
});
