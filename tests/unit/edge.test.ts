// The public edge: Gateway API (standard channel v1) with Envoy Gateway's typed policies, the retired
// ingress-nginx as an explicit opt-in, and no edge at all for a control plane without the CRDs.
import { strict as assert } from "assert";
import { GATEWAY } from "../../components/model/catalog";
import { RATE_LIMIT_PROBE_PATH, SECURITY_HEADERS } from "../../components/edge/headers";
import { byType, named, Registration } from "./support/harness";
import { BACKEND_POLICY, CERT, DEP, GATEWAY_CLASS, GATEWAY_KIND, ING, NP, RELEASE, ROUTE, SECURITY_POLICY } from "./support/kinds";
import { evaluatePlatform, evaluateProduction, productionValues } from "./support/platform";

const HOSTS: Record<string, string> = {
    "web-app": "ultramarket.uz",
    "admin-panel": "admin.ultramarket.uz",
    [GATEWAY]: "api.ultramarket.uz",
};
const dependsOn = (r: Registration, target: Registration) => r.dependencies.includes(target.urn);
const targets = (p: Registration) => p.inputs.spec.targetRefs.map((t: any) => `${t.kind}/${t.name}`);
const policiesFor = (regs: Registration[], type: string, route: string) =>
    byType(regs, type).filter((p) => targets(p).includes(`HTTPRoute/${route}`));

// What the standard-channel v1 CRDs (sigs.k8s.io/gateway-api v1.7.0 config/crd/standard) accept, for the fields used here.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LISTENER_KEYS = ["name", "hostname", "port", "protocol", "tls", "allowedRoutes"];
const RULE_KEYS = ["name", "matches", "filters", "backendRefs", "timeouts"];
const STANDARD_FILTERS: Record<string, string> = {
    RequestHeaderModifier: "requestHeaderModifier",
    ResponseHeaderModifier: "responseHeaderModifier",
    RequestMirror: "requestMirror",
    RequestRedirect: "requestRedirect",
    URLRewrite: "urlRewrite",
    ExtensionRef: "extensionRef",
    CORS: "cors",
};

function assertStandardRoute(route: Registration) {
    assert.equal(route.inputs.apiVersion, "gateway.networking.k8s.io/v1");
    for (const ref of route.inputs.spec.parentRefs)
        assert.deepEqual(Object.keys(ref).sort(), ["group", "kind", "name", "sectionName"], route.name);
    for (const rule of route.inputs.spec.rules) {
        for (const key of Object.keys(rule)) assert.ok(RULE_KEYS.includes(key), `${route.name}: rule field ${key}`);
        for (const f of rule.filters ?? []) {
            assert.ok(f.type in STANDARD_FILTERS, `${route.name}: filter ${f.type} is not in the standard channel`);
            assert.deepEqual(
                Object.keys(f).sort(),
                ["type", STANDARD_FILTERS[f.type]].sort(),
                `${route.name}: a ${f.type} filter carries exactly its own field`,
            );
        }
        for (const m of rule.matches ?? [])
            assert.ok(["Exact", "PathPrefix"].includes(m.path.type), `${route.name}: path match ${m.path.type}`);
    }
}

describe("production stack: the Gateway API edge", () => {
    let regs: Registration[];
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
    });

    it("renders one Gateway with an HTTPS listener per public host, each terminating TLS with the host's cert-manager certificate", () => {
        const gw = named(regs, GATEWAY_KIND, "ultramarket");
        assert.equal(gw.inputs.apiVersion, "gateway.networking.k8s.io/v1");
        assert.equal(gw.inputs.spec.gatewayClassName, "envoy-gateway");
        const https = gw.inputs.spec.listeners.filter((l: any) => l.protocol === "HTTPS");
        assert.deepEqual(https.map((l: any) => l.hostname).sort(), Object.values(HOSTS).sort());
        for (const l of gw.inputs.spec.listeners) {
            assert.match(l.name, DNS_LABEL);
            for (const key of Object.keys(l)) assert.ok(LISTENER_KEYS.includes(key), `listener field ${key}`);
            assert.deepEqual(l.allowedRoutes, { namespaces: { from: "Same" } });
        }
        for (const [app, host] of Object.entries(HOSTS)) {
            const l = https.find((x: any) => x.hostname === host);
            assert.equal(l.port, 443);
            assert.equal(l.tls.mode, "Terminate");
            const cert = named(regs, CERT, `${app}-tls`);
            assert.deepEqual(l.tls.certificateRefs, [{ group: "", kind: "Secret", name: cert.inputs.spec.secretName }]);
            assert.deepEqual(cert.inputs.spec.dnsNames, [host]);
            assert.deepEqual(cert.inputs.spec.issuerRef, { kind: "ClusterIssuer", name: "letsencrypt-prod" });
            assert.ok(dependsOn(gw, cert), `the Gateway waits until ${cert.name} is issued`);
        }
        assert.equal(gw.inputs.metadata.annotations["pulumi.com/waitFor"], "condition=Programmed");
    });

    it("answers plain HTTP on every host with a permanent redirect to HTTPS, never a backend", () => {
        const gw = named(regs, GATEWAY_KIND, "ultramarket");
        const http = gw.inputs.spec.listeners.filter((l: any) => l.protocol === "HTTP");
        assert.equal(http.length, 1);
        assert.equal(http[0].port, 80);
        const onHttp = byType(regs, ROUTE).filter((r) => r.inputs.spec.parentRefs.some((p: any) => p.sectionName === http[0].name));
        assert.deepEqual(
            onHttp.map((r) => r.name),
            ["https-redirect"],
        );
        assert.deepEqual(onHttp[0].inputs.spec.hostnames.sort(), Object.values(HOSTS).sort());
        for (const rule of onHttp[0].inputs.spec.rules) {
            assert.equal(rule.backendRefs, undefined);
            assert.deepEqual(rule.filters, [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }]);
        }
    });

    it("routes each host to its app's Service on its own HTTPS listener, setting the security headers", () => {
        for (const [app, host] of Object.entries(HOSTS)) {
            const route = named(regs, ROUTE, app);
            assertStandardRoute(route);
            assert.deepEqual(route.inputs.spec.hostnames, [host]);
            assert.equal(route.inputs.spec.parentRefs[0].name, "ultramarket");
            const listener = named(regs, GATEWAY_KIND, "ultramarket").inputs.spec.listeners.find(
                (l: any) => l.name === route.inputs.spec.parentRefs[0].sectionName,
            );
            assert.equal(listener.hostname, host);
            const [rule] = route.inputs.spec.rules;
            assert.equal(rule.backendRefs[0].name, app);
            assert.equal(rule.backendRefs[0].port, named(regs, "kubernetes:core/v1:Service", app).inputs.spec.ports[0].port);
            const set = rule.filters.find((f: any) => f.type === "ResponseHeaderModifier").responseHeaderModifier.set;
            assert.deepEqual(Object.fromEntries(set.map((h: any) => [h.name, h.value])), SECURITY_HEADERS);
        }
        assert.match(SECURITY_HEADERS["Strict-Transport-Security"], /max-age=\d+/);
    });

    it("limits each client of the API per minute from config, and leaves the static frontends unlimited", () => {
        const [policy] = policiesFor(regs, BACKEND_POLICY, GATEWAY);
        assert.equal(policy.inputs.apiVersion, "gateway.envoyproxy.io/v1alpha1");
        const rules = policy.inputs.spec.rateLimit.local.rules;
        assert.deepEqual(
            rules.map((r: any) => r.clientSelectors[0].sourceCIDR),
            [
                { type: "Distinct", value: "0.0.0.0/0" },
                { type: "Distinct", value: "::/0" },
            ],
            "one bucket per source address, IPv4 and IPv6",
        );
        for (const r of rules) assert.deepEqual(r.limit, { requests: 600, unit: "Minute" });
        for (const app of ["web-app", "admin-panel"]) assert.deepEqual(policiesFor(regs, BACKEND_POLICY, app), [], app);
    });

    it("gives the rate-limit check its own route and counters on the API host, with the same limit", () => {
        const probe = named(regs, ROUTE, "api-gateway-rate-limit-probe");
        assertStandardRoute(probe);
        const [rule] = probe.inputs.spec.rules;
        assert.deepEqual(rule.matches, [{ path: { type: "Exact", value: RATE_LIMIT_PROBE_PATH } }]);
        assert.deepEqual(rule.filters.find((f: any) => f.type === "URLRewrite").urlRewrite, {
            path: { type: "ReplaceFullPath", replaceFullPath: "/health" },
        });
        const [limit] = policiesFor(regs, BACKEND_POLICY, "api-gateway-rate-limit-probe");
        assert.deepEqual(limit.inputs.spec.rateLimit, policiesFor(regs, BACKEND_POLICY, GATEWAY)[0].inputs.spec.rateLimit);
    });

    it("allows the browser apps' origins on the API with CORS", () => {
        const [cors] = policiesFor(regs, SECURITY_POLICY, GATEWAY);
        assert.deepEqual(cors.inputs.spec.cors.allowOrigins, ["https://ultramarket.uz", "https://admin.ultramarket.uz"]);
        assert.equal(cors.inputs.spec.cors.allowCredentials, true);
        assert.ok(cors.inputs.spec.cors.allowMethods.includes("OPTIONS"));
    });

    it("keeps admin private: default deny, allowing only the stack's adminAllowedCidrs", () => {
        const [allow] = policiesFor(regs, SECURITY_POLICY, "admin-panel");
        assert.deepEqual(allow.inputs.spec.authorization, {
            defaultAction: "Deny",
            rules: [{ name: "admin-allowlist", action: "Allow", principal: { clientCIDRs: ["203.0.113.0/24"] } }],
        });
        assert.deepEqual(policiesFor(regs, SECURITY_POLICY, "web-app"), [], "the storefront is public");
    });

    it("renders no Ingress, no nginx annotation and no Helm release by default", () => {
        assert.equal(byType(regs, ING).length, 0);
        assert.ok(!regs.some((r) => JSON.stringify(r.inputs.metadata?.annotations ?? {}).includes("nginx.ingress.kubernetes.io")));
        assert.equal(byType(regs, RELEASE).length, 0);
    });

    it("carries the live Certificates over from the Ingress edge component (an alias, no reissue)", () => {
        for (const cert of byType(regs, CERT)) {
            assert.deepEqual(
                cert.aliasParents,
                ["urn:pulumi:production::ultramarket::ultramarket:index:Platform$ultramarket:network:EdgeIngress::edge"],
                cert.name,
            );
        }
    });
});

describe("the edge under other settings", () => {
    it("exempts the load generator's range from the API limit, but not from the rate-limit probe", async () => {
        const { registrations: regs } = await evaluatePlatform(
            "production",
            productionValues({ rateLimitExemptCidr: "198.51.100.7/32", apiRateLimitPerMinute: "1200" }),
        );
        const api = policiesFor(regs, BACKEND_POLICY, GATEWAY)[0].inputs.spec.rateLimit.local.rules;
        assert.deepEqual(api, [
            {
                clientSelectors: [{ sourceCIDR: { type: "Distinct", value: "198.51.100.7/32", invert: true } }],
                limit: { requests: 1200, unit: "Minute" },
            },
        ]);
        const probe = policiesFor(regs, BACKEND_POLICY, "api-gateway-rate-limit-probe")[0].inputs.spec.rateLimit.local.rules;
        assert.ok(probe.every((r: any) => !r.clientSelectors[0].sourceCIDR.invert));
    });

    it("admin with no allowlist (outside production) still answers nobody: default deny, no allow rule", async () => {
        const { registrations: regs } = await evaluatePlatform("staging", {});
        assert.deepEqual(policiesFor(regs, SECURITY_POLICY, "admin-panel")[0].inputs.spec.authorization, {
            defaultAction: "Deny",
            rules: [],
        });
    });

    it("installs Envoy Gateway from its pinned OCI chart and registers the GatewayClass before the Gateway", async () => {
        const { registrations: regs } = await evaluatePlatform("staging", { installGatewayController: "true" });
        const release = named(regs, RELEASE, "envoy-gateway");
        assert.equal(release.inputs.chart, "oci://docker.io/envoyproxy/gateway-helm");
        assert.equal(release.inputs.version, "v1.9.1");
        assert.equal(release.inputs.repositoryOpts, undefined, "OCI charts are pulled by reference");
        assert.equal(release.inputs.namespace, "envoy-gateway-system");
        const cls = named(regs, GATEWAY_CLASS, "envoy-gateway");
        assert.equal(cls.inputs.spec.controllerName, "gateway.envoyproxy.io/gatewayclass-controller");
        assert.ok(dependsOn(cls, release));
        const gw = named(regs, GATEWAY_KIND, "ultramarket");
        assert.ok(dependsOn(gw, release) && dependsOn(gw, cls));
        for (const p of [...byType(regs, BACKEND_POLICY), ...byType(regs, SECURITY_POLICY), ...byType(regs, ROUTE)])
            assert.ok(dependsOn(p, release), `${p.name} waits for the CRDs`);
    });

    it("installs cert-manager (current release by default) with Gateway API support when the edge is the Gateway, so HTTP-01 can answer through it", async () => {
        const gateway = named((await evaluatePlatform("staging", { installCertManager: "true" })).registrations, RELEASE, "cert-manager");
        assert.equal(gateway.inputs.version, "v1.21.2");
        assert.equal(gateway.inputs.values.config.enableGatewayAPI, true);
        const nginx = named(
            (await evaluatePlatform("staging", { installCertManager: "true", edge: "ingress-nginx" })).registrations,
            RELEASE,
            "cert-manager",
        );
        assert.equal(nginx.inputs.values.config, undefined);
    });

    it("keeps ingress-nginx as an explicit opt-in: Ingresses with the API-only limit, CORS and the admin allowlist", async () => {
        const { registrations: regs, config } = await evaluatePlatform(
            "production",
            productionValues({ edge: "ingress-nginx", rateLimitExemptCidr: "198.51.100.7/32" }),
        );
        assert.match(config.warnings.join("\n"), /retired .* March 2026/);
        assert.equal(byType(regs, GATEWAY_KIND).length, 0);
        const a = (app: string) => named(regs, ING, app).inputs.metadata.annotations;
        assert.equal(a(GATEWAY)["nginx.ingress.kubernetes.io/limit-rpm"], "600");
        assert.equal(a(GATEWAY)["nginx.ingress.kubernetes.io/limit-burst-multiplier"], "1");
        assert.equal(a(GATEWAY)["nginx.ingress.kubernetes.io/limit-whitelist"], "198.51.100.7/32");
        assert.equal(a(GATEWAY)["nginx.ingress.kubernetes.io/cors-allow-origin"], "https://ultramarket.uz, https://admin.ultramarket.uz");
        assert.equal(a("web-app")["nginx.ingress.kubernetes.io/limit-rpm"], undefined, "the storefront is not limited per client");
        assert.equal(a("admin-panel")["nginx.ingress.kubernetes.io/whitelist-source-range"], "203.0.113.0/24");
        assert.equal(named(regs, ING, "web-app").inputs.spec.tls[0].secretName, named(regs, CERT, "web-app-tls").inputs.spec.secretName);
        const from = named(regs, NP, `allow-${GATEWAY}`).inputs.spec.ingress.flatMap((r: any) => r.from);
        assert.ok(from.some((p: any) => p.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"] === "ingress-nginx"));
    });

    it("serves both edges side by side during the move (same certificates), so DNS can switch without downtime", async () => {
        const { registrations: regs } = await evaluatePlatform("production", productionValues({ edge: "both" }));
        assert.equal(byType(regs, ING).length, 3);
        assert.equal(byType(regs, ROUTE).filter((r) => Object.keys(HOSTS).includes(r.name)).length, 3);
        assert.equal(byType(regs, CERT).length, 3, "one Certificate per host, shared by both edges");
        const from = named(regs, NP, "allow-web-app").inputs.spec.ingress.flatMap((r: any) => r.from);
        const namespaces = from.map((p: any) => p.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"]);
        assert.ok(namespaces.includes("ingress-nginx") && namespaces.includes("envoy-gateway-system"));
    });

    it("without an edge (the local stack: no Gateway API CRDs) renders no edge object and never opens the public apps to everyone", async () => {
        const { registrations: regs } = await evaluatePlatform("local-test", {
            edge: "none",
            certManager: "false",
            prometheusOperator: "false",
            verifyDeployment: "false",
        });
        assert.ok(byType(regs, DEP).length > 10, "the apps still deploy");
        for (const type of [GATEWAY_KIND, ROUTE, BACKEND_POLICY, SECURITY_POLICY, ING, CERT])
            assert.equal(byType(regs, type).length, 0, type);
        assert.ok(!regs.some((r) => r.type.startsWith("kubernetes:gateway.")), "nothing needs the Gateway API or Envoy Gateway CRDs");
        for (const app of ["web-app", GATEWAY]) {
            const rules = named(regs, NP, `allow-${app}`).inputs.spec.ingress;
            assert.ok(
                rules.every((r: any) => r.from?.length > 0),
                `${app}: an ingress rule without peers would admit everyone`,
            );
        }
    });

    it("lets the edge's proxies, and nothing else, reach cert-manager's HTTP-01 solver pods, on 8089 only", async () => {
        const solver = (regs: Registration[]) => regs.find((r) => r.type === NP && r.name === "allow-acme-http01-solver");
        const { registrations: regs } = await evaluateProduction();
        const policy = solver(regs)!.inputs.spec;
        assert.deepEqual(policy.podSelector, { matchLabels: { "acme.cert-manager.io/http01-solver": "true" } });
        assert.deepEqual(policy.policyTypes, ["Ingress", "Egress"]);
        assert.deepEqual(policy.egress, [], "the solver reaches nothing");
        assert.equal(policy.ingress.length, 1);
        assert.deepEqual(policy.ingress[0].ports, [{ protocol: "TCP", port: 8089 }]);
        // The same peers as the public apps': the Envoy proxies in the controller's namespace.
        const webFrom = named(regs, NP, "allow-web-app").inputs.spec.ingress.find((r: any) =>
            r.from.some((p: any) => p.namespaceSelector),
        ).from;
        assert.deepEqual(policy.ingress[0].from, webFrom);
        assert.equal(
            solver((await evaluatePlatform("staging", { certManager: "false" })).registrations),
            undefined,
            "no cert-manager, no solver",
        );
        assert.equal(solver((await evaluatePlatform("staging", { edge: "none" })).registrations), undefined, "no edge, no solver path");
    });

    it("references the operator's <app>-tls Secrets when certManager is off", async () => {
        const { registrations: regs } = await evaluatePlatform("staging", { certManager: "false" });
        assert.equal(byType(regs, CERT).length, 0);
        const api = named(regs, GATEWAY_KIND, "ultramarket").inputs.spec.listeners.find((l: any) => l.name === "https-api");
        assert.equal(api.tls.certificateRefs[0].name, "api-gateway-tls");
    });
});
