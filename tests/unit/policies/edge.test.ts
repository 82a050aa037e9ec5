import * as assert from "assert";
import type { StackValidationPolicy } from "@pulumi/policy";
import { gatewaySpec, redirectRouteSpec, appRouteSpec, PublicHost } from "../../../components/edge/routes";
import { adminAllowlistPolicySpec } from "../../../components/edge/envoy-policies";
import { CATALOG } from "../../../components/model/catalog";
import { FakeResource, policy, validateStack, variant } from "./harness";

const NS = "ultramarket-production";
const app = (name: string) => CATALOG.find((a) => a.name === name)!;
const HOSTS: PublicHost[] = [
    { app: app("web-app"), key: "web", host: "ultramarket.uz" },
    { app: app("admin-panel"), key: "admin", host: "admin.ultramarket.uz" },
];
const cr = (type: string, name: string, spec: any): FakeResource => ({
    type: `kubernetes:${type}`,
    name,
    props: { metadata: { name, namespace: NS }, spec },
});
const gateway = () => cr("gateway.networking.k8s.io/v1:Gateway", "ultramarket", gatewaySpec("envoy-gateway", HOSTS));
const route = (h: PublicHost) => cr("gateway.networking.k8s.io/v1:HTTPRoute", h.app.name, appRouteSpec(h, h.app.name));
const redirect = () => cr("gateway.networking.k8s.io/v1:HTTPRoute", "https-redirect", redirectRouteSpec(HOSTS));
const allowlist = (cidrs: string[]) =>
    cr("gateway.envoyproxy.io/v1alpha1:SecurityPolicy", "admin-panel-allowlist", adminAllowlistPolicySpec("admin-panel", cidrs));
const edge = () => [gateway(), redirect(), ...HOSTS.map(route), allowlist(["203.0.113.0/24"])];
const run = (name: string, resources: FakeResource[], stack = "production") =>
    validateStack(policy<StackValidationPolicy>(name, stack), resources);

describe("policies: TLS on every Gateway listener (production)", () => {
    it("passes HTTPS listeners with certificates and an HTTP listener that only redirects", async () => {
        assert.deepStrictEqual((await run("production-gateway-tls", edge())).violations, []);
    });

    it("refuses an HTTPS listener without a certificate, naming the Gateway and listener", async () => {
        const broken = variant(gateway(), (g) => {
            delete g.props.spec.listeners[1].tls.certificateRefs;
        });
        const { violations } = await run("production-gateway-tls", [broken, redirect()]);
        assert.strictEqual(violations.length, 1);
        assert.ok(
            violations[0].startsWith(`Gateway/${NS}/ultramarket: listener https-web (ultramarket.uz) serves HTTPS without terminating TLS`),
            violations[0],
        );
    });

    it("refuses an app served on the plain-HTTP listener", async () => {
        const plain = variant(route(HOSTS[0]), (r) => {
            r.props.spec.parentRefs[0].sectionName = "http";
        });
        const { violations } = await run("production-gateway-tls", [gateway(), plain]);
        assert.strictEqual(violations.length, 1);
        assert.match(violations[0], /^HTTPRoute\/ultramarket-production\/web-app: serves plain HTTP/);
    });

    it("does not apply outside production", async () => {
        const broken = variant(gateway(), (g) => {
            delete g.props.spec.listeners[1].tls;
        });
        assert.ok((await run("production-gateway-tls", [broken], "dev")).notApplicable !== undefined);
    });
});

describe("policies: the admin host is private (production)", () => {
    it("passes an admin route behind a default-deny SecurityPolicy with an office allowlist", async () => {
        assert.deepStrictEqual((await run("production-private-admin", edge())).violations, []);
    });

    it("refuses an admin route with no SecurityPolicy, naming the route and the config key", async () => {
        const { violations } = await run(
            "production-private-admin",
            edge().filter((r) => !r.type.endsWith("SecurityPolicy")),
        );
        assert.strictEqual(violations.length, 1);
        assert.match(
            violations[0],
            /^HTTPRoute\/ultramarket-production\/admin-panel: private host admin\.ultramarket\.uz is open to everyone.*ultramarket:adminAllowedCidrs/,
        );
    });

    it("refuses an allowlist that admits the whole internet, or a policy that allows by default", async () => {
        const open = await run("production-private-admin", [...edge().slice(0, 4), allowlist(["10.0.0.0/8", "0.0.0.0/0"])]);
        assert.match(open.violations.join("\n"), /admits the whole internet \(0\.0\.0\.0\/0\)/);
        const allowByDefault = variant(allowlist(["203.0.113.0/24"]), (p) => {
            p.props.spec.authorization.defaultAction = "Allow";
        });
        assert.strictEqual((await run("production-private-admin", [...edge().slice(0, 4), allowByDefault])).violations.length, 1);
    });

    it("refuses an admin Ingress without a source allowlist", async () => {
        const ing: FakeResource = {
            type: "kubernetes:networking.k8s.io/v1:Ingress",
            name: "admin-panel",
            props: {
                metadata: { name: "admin-panel", namespace: NS, annotations: {} },
                spec: { rules: [{ host: "admin.ultramarket.uz" }] },
            },
        };
        assert.strictEqual((await run("production-private-admin", [ing])).violations.length, 1);
        const fenced = variant(ing, (i) => {
            i.props.metadata.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] = "203.0.113.0/24";
        });
        assert.deepStrictEqual((await run("production-private-admin", [fenced])).violations, []);
    });
});
