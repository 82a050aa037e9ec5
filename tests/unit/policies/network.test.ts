import * as assert from "assert";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { tlsCovers } from "../../../policies/network";
import { allowDns, datastore, defaultDeny, deployment, ingress, namespace, NS, service } from "./fixtures";
import { FakeResource, policy, PRODUCTION, urnOf, validateResource, validateStack } from "./harness";

describe("policies: Service types", () => {
    const run = (r: FakeResource) => validateResource(policy<ResourceValidationPolicy>("no-external-service-types"), r);

    it("passes ClusterIP and headless Services", async () => {
        assert.deepStrictEqual((await run(service())).violations, []);
        assert.deepStrictEqual(
            (
                await run(
                    service((s) => {
                        s.spec!.clusterIP = "None";
                    }),
                )
            ).violations,
            [],
        );
    });

    it("refuses a LoadBalancer Service and names it", async () => {
        const { violations } = await run(
            service((s) => {
                s.spec!.type = "LoadBalancer";
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(violations[0].startsWith(`Service/${NS}/auth-service: type LoadBalancer exposes it outside the cluster`), violations[0]);
        assert.match(violations[0], /use ClusterIP and route through the Ingress/);
    });

    it("refuses a NodePort Service", async () => {
        const { violations } = await run(
            service((s) => {
                s.spec!.type = "NodePort";
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.match(violations[0], /^Service\/ultramarket-production\/auth-service: type NodePort/);
    });

    it("refuses externalIPs on a ClusterIP Service", async () => {
        const { violations } = await run(
            service((s) => {
                s.spec!.externalIPs = ["203.0.113.10"];
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(
            violations[0].startsWith(`Service/${NS}/auth-service: externalIPs 203.0.113.10 expose it outside the cluster`),
            violations[0],
        );
    });

    it("lets the ingress controller's Service, labelled ultramarket.uz/ingress-controller=true, be a LoadBalancer", async () => {
        const controller = service((s) => {
            s.metadata!.name = "ingress-nginx-controller";
            s.metadata!.labels = { "ultramarket.uz/ingress-controller": "true" };
            s.spec!.type = "LoadBalancer";
        });
        assert.deepStrictEqual((await run(controller)).violations, []);
    });
});

describe("policies: TLS for every Ingress host (production)", () => {
    const run = (r: FakeResource, stack = PRODUCTION) =>
        validateResource(policy<ResourceValidationPolicy>("production-ingress-tls", stack), r);

    it("matches wildcard TLS hosts one label deep", () => {
        assert.ok(tlsCovers("*.ultramarket.uz", "api.ultramarket.uz"));
        assert.ok(!tlsCovers("*.ultramarket.uz", "a.b.ultramarket.uz"));
        assert.ok(!tlsCovers("*.ultramarket.uz", "ultramarket.uz"));
    });

    it("passes an Ingress whose every host is under spec.tls", async () => {
        assert.deepStrictEqual((await run(ingress())).violations, []);
    });

    it("refuses a host missing from spec.tls and names the Ingress and host", async () => {
        const { violations } = await run(
            ingress((i) => {
                i.spec!.tls![0].hosts = ["ultramarket.uz", "api.ultramarket.uz"];
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(violations[0].startsWith(`Ingress/${NS}/ultramarket: host admin.ultramarket.uz is not covered by TLS`), violations[0]);
        assert.match(violations[0], /add it to spec.tls\[\].hosts with a secretName/);
    });

    it("refuses TLS entries without a certificate secret", async () => {
        const { violations } = await run(
            ingress((i) => {
                delete i.spec!.tls![0].secretName;
            }),
        );
        assert.strictEqual(violations.length, 3);
    });

    it("does not apply outside the production stack", async () => {
        const outcome = await run(
            ingress((i) => {
                delete i.spec!.tls;
            }),
            "dev",
        );
        assert.deepStrictEqual(outcome.violations, []);
        assert.match(outcome.notApplicable ?? "", /stack "dev" is not a production stack/);
    });

    it("takes the production stack names from policy config", async () => {
        const outcome = await validateResource(
            policy<ResourceValidationPolicy>("production-ingress-tls", "prod-eu"),
            ingress((i) => {
                delete i.spec!.tls;
            }),
            { productionStacks: ["production", "prod-eu"] },
        );
        assert.strictEqual(outcome.violations.length, 3);
    });
});

describe("policies: default-deny NetworkPolicy in every namespace that runs pods (production)", () => {
    const run = (resources: FakeResource[], config: object = {}, stack = PRODUCTION) =>
        validateStack(policy<StackValidationPolicy>("production-default-deny-network-policy", stack), resources, config);

    it("passes a namespace with a default deny for ingress and egress, plus allow rules", async () => {
        assert.deepStrictEqual((await run([namespace(), deployment(), datastore(), defaultDeny(), allowDns()])).violations, []);
    });

    it("accepts the default deny split across two policies", async () => {
        const ingressOnly = defaultDeny((n) => {
            n.metadata!.name = "deny-ingress";
            n.spec!.policyTypes = ["Ingress"];
        });
        const egressOnly = defaultDeny((n) => {
            n.metadata!.name = "deny-egress";
            n.spec!.policyTypes = ["Egress"];
        });
        assert.deepStrictEqual((await run([deployment(), ingressOnly, egressOnly])).violations, []);
    });

    it("reports a namespace without a default deny against the Namespace", async () => {
        const ns = namespace();
        const outcome = await run([ns, deployment(), allowDns()]);
        assert.strictEqual(outcome.violations.length, 1);
        assert.ok(
            outcome.violations[0].startsWith(`Namespace ${NS} runs pods but has no default-deny NetworkPolicy for Ingress and Egress`),
            outcome.violations[0],
        );
        assert.match(outcome.violations[0], /podSelector: \{\} and policyTypes \[Ingress, Egress\]/);
        assert.deepStrictEqual(outcome.urns, [urnOf(ns)]);
    });

    it("does not count a policy that selects only some pods, or that allows traffic", async () => {
        const scoped = defaultDeny((n) => {
            n.spec!.podSelector = { matchLabels: { "app.kubernetes.io/name": "auth-service" } };
        });
        assert.strictEqual((await run([deployment(), scoped])).violations.length, 1);
        const allowAll = defaultDeny((n) => {
            n.spec!.ingress = [{}];
            n.spec!.egress = [{}];
        });
        assert.strictEqual((await run([deployment(), allowAll])).violations.length, 1);
    });

    it("asks only for ingress when requireEgress is false", async () => {
        const ingressOnly = defaultDeny((n) => {
            n.spec!.policyTypes = ["Ingress"];
        });
        const strict = await run([deployment(), ingressOnly]);
        assert.match(strict.violations[0], /for Egress;/);
        assert.deepStrictEqual((await run([deployment(), ingressOnly], { requireEgress: false })).violations, []);
    });

    it("does not apply outside the production stack", async () => {
        assert.ok((await run([deployment()], {}, "dev")).notApplicable !== undefined);
    });
});
