// The production stack under mocks: monitoring, verification and the k6 step are in the graph,
// behind their config switches.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { VerificationPlan } from "../../components/verification/checks";
import { byType, Registration } from "./support/harness";
import { evaluateProduction, Evaluation } from "./support/platform";

const RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor";
const COMMAND = "command:local:Command";
const outputValue = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));
const command = (regs: Registration[], name: string) => byType(regs, COMMAND).find((c) => c.name === name);

describe("production stack: observability and post-deploy verification", () => {
    let ev: Evaluation;
    let regs: Registration[];
    before(async () => {
        ev = await evaluateProduction();
        regs = ev.registrations;
    });

    it("creates the alert rules for kube-prometheus-stack's release and a ServiceMonitor per deployed app that serves metrics", () => {
        const [rule] = byType(regs, RULE);
        assert.equal(rule.inputs.metadata.labels.release, "kube-prometheus-stack");
        assert.equal(rule.inputs.metadata.namespace, "ultramarket-production");
        const exporters = ["postgres-exporter", "mongodb-exporter", "redis-exporter", "elasticsearch-exporter"];
        assert.deepEqual(
            byType(regs, MONITOR)
                .map((m) => m.inputs.metadata.name)
                .sort(),
            [...ev.config.apps.filter((a) => a.metricsPath).map((a) => a.name), ...exporters].sort(),
        );
        assert.ok(byType(regs, MONITOR).length >= 17, "every service is scraped");
    });

    it("creates the Grafana dashboards in ConfigMaps the sidecar loads", () => {
        const dashboards = byType(regs, "kubernetes:core/v1:ConfigMap").filter((c) => c.inputs.metadata.labels?.grafana_dashboard === "1");
        assert.equal(dashboards.length, 2);
    });

    it("verifies after every Deployment, migration Job, Gateway object and certificate has rolled out", () => {
        const verify = command(regs, "verify-deployment");
        assert.ok(verify, "the verification command is registered");
        const readyTypes = [
            "kubernetes:apps/v1:Deployment",
            "kubernetes:gateway.networking.k8s.io/v1:Gateway",
            "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
            "kubernetes:cert-manager.io/v1:Certificate",
        ];
        const ready = regs.filter(
            (r) => readyTypes.includes(r.type) || (r.type === "kubernetes:batch/v1:Job" && r.name.endsWith("-migrate")),
        );
        assert.ok(ready.length >= ev.config.apps.length + 2 + 3, `${ready.length} readiness resources`);
        for (const r of ready) assert.ok(verify.dependencies.includes(r.urn), `verification waits for ${r.type} ${r.name}`);
        const plan = JSON.parse(verify.inputs.environment.ULTRAMARKET_VERIFY_PLAN) as VerificationPlan;
        assert.equal(plan.health[0].url, "https://api.ultramarket.uz/health");
        assert.deepEqual(plan.migrations.map((m) => m.app).sort(), ["auth-service", "user-service"]);
        assert.equal(plan.rateLimit?.max, ev.config.edge.apiRateLimitPerMinute, "the check proves the edge's per-client API limit");
        assert.equal(
            plan.rateLimit?.url,
            "https://api.ultramarket.uz/.well-known/ultramarket/rate-limit-probe",
            "on its own route, so it leaves the API's budget alone",
        );
        assert.ok(plan.securityHeaders[0].required.some((h) => h.name === "Strict-Transport-Security"));
    });

    it("exports a verification output the deploy command can read, holding the plan", async () => {
        const out: any = await outputValue(ev.platform.outputs.verification as pulumi.Output<any>);
        assert.equal(out.status, "pending", "under mocks the command never ran");
        assert.equal(out.plan.health[0].url, "https://api.ultramarket.uz/health");
    });

    it("keeps secret values out of the verification's inputs", () => {
        const verify = command(regs, "verify-deployment")!;
        const text = JSON.stringify(verify.inputs);
        const secret = byType(regs, "kubernetes:core/v1:Secret").find((s) => s.inputs.metadata.name === "ultramarket-secrets")!;
        for (const [key, value] of Object.entries<string>(secret.inputs.stringData))
            assert.ok(!text.includes(value), `${key} leaks into the verification`);
    });

    it("runs no load test unless loadTest is set", () => {
        assert.equal(byType(regs, COMMAND).filter((c) => c.name.startsWith("k6-")).length, 0);
    });
});

describe("production stack: the switches", () => {
    it("loadTest=smoke runs the k6 smoke profile after the verification, against the gateway", async () => {
        const { registrations } = await evaluateProduction({ loadTest: "smoke" });
        const k6 = command(registrations, "k6-smoke")!;
        assert.match(
            k6.inputs.create,
            /k6 run --quiet --env BASE_URL=https:\/\/api\.ultramarket\.uz --env PROFILE=smoke tests\/performance\/load-test\.js$/,
        );
        assert.ok(k6.dependencies.includes(command(registrations, "verify-deployment")!.urn));
    });

    it("verifyDeployment=false registers no verification and says so in the output", async () => {
        const { registrations, platform } = await evaluateProduction({ verifyDeployment: "false" });
        assert.equal(command(registrations, "verify-deployment"), undefined);
        assert.equal(registrations.filter((r) => r.name.startsWith("verify-")).length, 0);
        assert.deepEqual(await outputValue(platform.outputs.verification as pulumi.Output<any>), {
            status: "skipped",
            reason: "ultramarket:verifyDeployment is false",
        });
    });

    it("prometheusOperator=false without the install creates no CRD objects (and warns)", async () => {
        const { registrations, platform } = await evaluateProduction({ prometheusOperator: "false" });
        assert.equal(byType(registrations, RULE).length + byType(registrations, MONITOR).length, 0);
        assert.equal(platform.monitoring.enabled, false);
    });

    it("installMonitoringStack=true installs kube-prometheus-stack at the configured chart version", async () => {
        const { registrations } = await evaluateProduction({
            installMonitoringStack: "true",
            monitoringStackChart: JSON.stringify({ version: "66.2.0" }),
        });
        const [release] = byType(registrations, "kubernetes:helm.sh/v3:Release").filter((r) => r.inputs.chart === "kube-prometheus-stack");
        assert.equal(release.inputs.version, "66.2.0");
        assert.equal(release.inputs.name, "kube-prometheus-stack");
        assert.ok(byType(registrations, RULE)[0].dependencies.includes(release.urn));
    });
});
