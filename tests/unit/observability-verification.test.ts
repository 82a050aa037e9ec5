// Post-deploy verification: the check logic against a fake platform on 127.0.0.1, the runner script,
// and the wiring in the graph (after everything rolled out; secrets only by reference).
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import { CATALOG, EXPORTER_CREDENTIALS } from "../../components/model/catalog";
import {
    buildVerificationPlan,
    checkHealth,
    checkTls,
    evaluateCertificate,
    evaluateMigration,
    formatReport,
    PeerCertificate,
    runChecks,
    VerificationPlan,
} from "../../components/verification/checks";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { DATA_STORE_CHECKS, DeploymentVerification, VERIFY_COMMAND } from "../../components/verification/deployment-verification";
import { byType, installMocks, REPO_ROOT, settle } from "./support/harness";
import { DEFAULT_THIRD_PARTY_IMAGES } from "../../components/model/third-party-images";

const APPS = CATALOG.filter((a) => a.enabledByDefault);
const GATEWAY_ROUTED = APPS.filter((a) => a.route.kind === "gateway");

interface FakePlatform {
    port: number;
    close: () => Promise<void>;
    hits: () => number;
}

/** A stand-in for the public edge: health on every path, configurable failures, headers and a rate limiter. */
async function fakePlatform(o: { failPaths?: string[]; dropHeader?: string; limit?: number }): Promise<FakePlatform> {
    let count = 0;
    const server = http.createServer((req, res) => {
        count++;
        const headers: Record<string, string> = {
            "strict-transport-security": "max-age=31536000; includeSubDomains",
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
        };
        if (o.dropHeader) delete headers[o.dropHeader];
        if (o.limit !== undefined && count > o.limit) {
            res.writeHead(429, { ...headers, "retry-after": "900" }).end("Too Many Requests");
            return;
        }
        const status = o.failPaths?.includes(req.url ?? "") ? 503 : 200;
        res.writeHead(status, headers).end(JSON.stringify({ status: status === 200 ? "ok" : "down" }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
        port: (server.address() as AddressInfo).port,
        hits: () => count,
        close: () => new Promise<void>((r) => server.close(() => r())),
    };
}

const localPlan = (port: number, rateLimitMax: number) =>
    buildVerificationPlan({
        hosts: { web: "127.0.0.1", api: "127.0.0.1", admin: "127.0.0.1", mobile: "127.0.0.1" },
        apps: APPS,
        rateLimit: { perMinute: rateLimitMax },
        scheme: "http",
        port,
        migrations: { "auth-service": { job: "auth-service-migrate-x1", succeeded: 1 } },
    });

describe("verification plan (from the catalog)", () => {
    const plan = buildVerificationPlan({
        hosts: { web: "ultramarket.uz", api: "api.ultramarket.uz", admin: "admin.ultramarket.uz", mobile: "m.ultramarket.uz" },
        apps: APPS,
        rateLimit: { perMinute: 600, path: "/.well-known/ultramarket/rate-limit-probe" },
    });

    it("checks the gateway's /health and every service's health through the gateway, as runbook 4.1.4/4.1.5", () => {
        const urls = plan.health.map((h) => h.url);
        assert.equal(urls[0], "https://api.ultramarket.uz/health");
        for (const u of [
            "https://api.ultramarket.uz/auth/health",
            "https://api.ultramarket.uz/users/health",
            "https://api.ultramarket.uz/products/health",
        ])
            assert.ok(urls.includes(u), u);
        for (const app of GATEWAY_ROUTED)
            assert.ok(
                plan.health.some((h) => h.name.includes(app.name)),
                app.name,
            );
    });

    it("checks TLS and security headers on every public host, and the per-client limit on the API's probe path", () => {
        assert.deepEqual(plan.tls.map((t) => `${t.host}:${t.port}`).sort(), [
            "admin.ultramarket.uz:443",
            "api.ultramarket.uz:443",
            "ultramarket.uz:443",
        ]);
        assert.equal(plan.securityHeaders.length, 3);
        assert.deepEqual(plan.rateLimit, {
            url: "https://api.ultramarket.uz/.well-known/ultramarket/rate-limit-probe",
            max: 600,
            slack: 10,
        });
    });

    it("spends the rate-limit budget on the API's health path when no probe path is given, and skips the check without a limit", () => {
        const hosts = { web: "ultramarket.uz", api: "api.ultramarket.uz", admin: "admin.ultramarket.uz", mobile: "m.ultramarket.uz" };
        assert.equal(
            buildVerificationPlan({ hosts, apps: APPS, rateLimit: { perMinute: 60 } }).rateLimit?.url,
            "https://api.ultramarket.uz/health",
        );
        assert.equal(buildVerificationPlan({ hosts, apps: APPS }).rateLimit, undefined);
    });

    it("treats the admin host as private: its health check accepts the edge's 403, the others do not", () => {
        const admin = plan.health.find((h) => h.url.startsWith("https://admin.ultramarket.uz"))!;
        assert.equal(admin.private, true);
        assert.ok(plan.health.filter((h) => h !== admin).every((h) => !h.private));
    });

    it("grows with the catalog: a new gateway-routed service gets its health check", () => {
        const extra = { ...GATEWAY_ROUTED[0], name: "wishlist-service", route: { kind: "gateway" as const, prefix: "/wishlist" } };
        const bigger = buildVerificationPlan({
            hosts: { web: "a.b", api: "api.a.b", admin: "admin.a.b", mobile: "m.a.b" },
            apps: [...APPS, extra],
            rateLimit: { perMinute: 5 },
        });
        assert.ok(bigger.health.some((h) => h.url === "https://api.a.b/wishlist/health"));
    });
});

describe("verification checks against a fake platform on 127.0.0.1", () => {
    it("passes a private host's health on the edge's 403, and fails a public host's", async () => {
        const server = http.createServer((_req, res) => res.writeHead(403).end("RBAC: access denied"));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        try {
            const admin = await checkHealth({ name: "health: admin-panel", url, private: true }, 2000);
            assert.equal(admin.ok, true, admin.detail);
            assert.match(admin.detail, /private .*adminAllowedCidrs/);
            assert.equal((await checkHealth({ name: "health: web-app", url }, 2000)).ok, false);
        } finally {
            await new Promise<void>((r) => server.close(() => r()));
        }
    });

    it("passes when every health check answers 2xx, headers are present and the 21st request gets 429", async () => {
        const plan = localPlan(0, 0);
        const probes = plan.health.length + plan.securityHeaders.length;
        const fake = await fakePlatform({ limit: probes + 20 });
        try {
            const report = await runChecks({ ...localPlan(fake.port, 20), migrations: plan.migrations });
            assert.equal(report.ok, true, formatReport(report));
            assert.deepEqual(report.failed, []);
            const rl = report.checks.find((c) => c.category === "rate-limit")!;
            assert.match(rl.detail, /answered 429 within (2\d|30) requests \(the per-client limit is 20 a minute\)/);
            assert.ok(report.checks.some((c) => c.name === "migrations: auth-service" && c.ok));
        } finally {
            await fake.close();
        }
    });

    it("fails with a report naming the failed service, the missing header and the absent rate limit", async () => {
        const fake = await fakePlatform({ failPaths: ["/users/health"], dropHeader: "x-frame-options" });
        try {
            const report = await runChecks(localPlan(fake.port, 20));
            assert.equal(report.ok, false);
            assert.ok(report.failed.includes("health: user-service via gateway /users/health"), report.failed.join(", "));
            assert.ok(report.failed.includes("security headers: 127.0.0.1"));
            assert.ok(report.failed.includes("rate limiting answers 429"));
            const text = formatReport(report);
            assert.match(text, /^Post-deploy verification FAILED: \d+ of \d+ checks failed: /);
            assert.match(
                text,
                /FAIL health: user-service via gateway \/users\/health: GET http:\/\/127\.0\.0\.1:\d+\/users\/health answered 503/,
            );
            assert.match(text, /FAIL security headers: 127\.0\.0\.1: X-Frame-Options is missing/);
            assert.match(text, /FAIL rate limiting answers 429: no 429 after 30 requests/);
            // Failures first, so the reason is on the first lines of the update's error.
            assert.ok(text.indexOf("FAIL") < text.indexOf("ok  "));
        } finally {
            await fake.close();
        }
    });

    it("reports an unreachable gateway as failed health checks, not as a crash", async () => {
        const fake = await fakePlatform({});
        const port = fake.port;
        await fake.close();
        const report = await runChecks({ ...localPlan(port, 5), rateLimit: undefined });
        assert.equal(report.ok, false);
        assert.match(report.checks[0].detail, /failed: ECONNREFUSED/);
    });

    it("names the host when the TLS handshake fails", async () => {
        const fake = await fakePlatform({});
        const port = fake.port;
        await fake.close();
        const result = await checkTls({ host: "127.0.0.1", port }, localPlan(port, 1), () => new Date());
        assert.equal(result.ok, false);
        assert.match(result.detail, new RegExp(`TLS handshake with 127\\.0\\.0\\.1:${port} failed: ECONNREFUSED`));
    });
});

describe("TLS certificate evaluation", () => {
    const now = new Date("2026-11-26T00:00:00Z");
    const cert = (o: Partial<PeerCertificate> = {}): PeerCertificate => ({
        authorized: true,
        validFrom: "Oct  1 00:00:00 2026 GMT",
        validTo: "Jan 29 00:00:00 2027 GMT",
        subjectAltNames: ["api.ultramarket.uz", "ultramarket.uz"],
        ...o,
    });
    it("accepts a trusted certificate naming the host and valid for more than 7 days", () => {
        const r = evaluateCertificate("api.ultramarket.uz", cert(), now, 7);
        assert.equal(r.ok, true);
        assert.match(r.detail, /valid until 2027-01-29T00:00:00\.000Z \(64 days\)/);
    });
    it("accepts a wildcard for one label only", () => {
        assert.equal(evaluateCertificate("api.ultramarket.uz", cert({ subjectAltNames: ["*.ultramarket.uz"] }), now, 7).ok, true);
        assert.equal(evaluateCertificate("a.api.ultramarket.uz", cert({ subjectAltNames: ["*.ultramarket.uz"] }), now, 7).ok, false);
    });
    it("rejects untrusted, expired, not-yet-valid, wrong-host and about-to-expire certificates, saying why", () => {
        const cases: [Partial<PeerCertificate>, RegExp][] = [
            [{ authorized: false, authorizationError: "SELF_SIGNED_CERT_IN_CHAIN" }, /not trusted: SELF_SIGNED_CERT_IN_CHAIN/],
            [{ validTo: "Nov 20 00:00:00 2026 GMT" }, /expired on 2026-11-20/],
            [{ validFrom: "Dec  1 00:00:00 2026 GMT" }, /not valid before 2026-12-01/],
            [{ subjectAltNames: ["ultramarket.com"] }, /does not name api\.ultramarket\.uz \(it names ultramarket\.com\)/],
            [{ validTo: "Nov 30 00:00:00 2026 GMT" }, /expires in 4 days/],
        ];
        for (const [o, why] of cases) {
            const r = evaluateCertificate("api.ultramarket.uz", cert(o), now, 7);
            assert.equal(r.ok, false, JSON.stringify(o));
            assert.match(r.detail, why);
        }
    });
});

describe("migrations applied", () => {
    it("passes only for a migration Job that completed, and says how to look otherwise", () => {
        assert.equal(evaluateMigration({ app: "auth-service", job: "j", succeeded: 1 }).ok, true);
        assert.match(
            evaluateMigration({ app: "auth-service", job: "j", succeeded: 0 }).detail,
            /has not completed; check it with: kubectl logs job\/j/,
        );
        assert.equal(evaluateMigration({ app: "user-service", job: "j", succeeded: null }).ok, false);
    });
});

describe("npm run verify (scripts/verify.ts)", () => {
    const run = (args: string[], env: Record<string, string> = {}) =>
        spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/verify.ts", ...args], {
            cwd: REPO_ROOT,
            encoding: "utf8",
            env: { ...process.env, ...env },
            timeout: 60_000,
        });

    it("prints the JSON report on stdout, the readable report on stderr, and exits 1 when a check fails", async () => {
        const fake = await fakePlatform({ failPaths: ["/auth/health"], limit: 1000 });
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "verify-")), "plan.json");
        try {
            const plan: VerificationPlan = { ...localPlan(fake.port, 5), rateLimit: undefined };
            fs.writeFileSync(file, JSON.stringify(plan));
            // The runner is async: spawnSync would block this process's fake server, so run it in the background.
            const child = spawn(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/verify.ts", "--plan", file], {
                cwd: REPO_ROOT,
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            const code = await new Promise<number>((r) => child.on("close", r));
            assert.equal(code, 1, stderr);
            assert.deepEqual(JSON.parse(stdout).failed, ["health: auth-service via gateway /auth/health"]);
            assert.match(
                stderr,
                /Post-deploy verification FAILED: 1 of \d+ checks failed: health: auth-service via gateway \/auth\/health\./,
            );
        } finally {
            await fake.close();
        }
    });

    it("reads the plan from the environment variable the Pulumi step sets, and explains bad usage with exit code 2", () => {
        const empty = run(["--plan-env", "ULTRAMARKET_VERIFY_PLAN"], { ULTRAMARKET_VERIFY_PLAN: "" });
        assert.equal(empty.status, 2);
        assert.match(empty.stderr, /ULTRAMARKET_VERIFY_PLAN is empty/);
        const none = run([]);
        assert.equal(none.status, 2);
        assert.match(none.stderr, /usage: npm run verify -- --stack <stack>/);
        assert.match(VERIFY_COMMAND, /scripts\/verify\.ts --plan-env ULTRAMARKET_VERIFY_PLAN$/);
    });
});

describe("DeploymentVerification in the graph (mock monitor)", () => {
    const SECRET_NAME = "ultramarket-secrets";
    let regs: ReturnType<typeof installMocks>;
    let readyUrns: string[];
    before(async () => {
        regs = installMocks("production");
        const ready = ["api-gateway", "auth-service"].map(
            (n) =>
                new k8s.apps.v1.Deployment(n, {
                    metadata: { name: n, namespace: "ns" },
                    spec: { selector: { matchLabels: { a: n } }, template: { spec: { containers: [{ name: n, image: `${n}:1` }] } } },
                }),
        );
        const migration = new k8s.batch.v1.Job("auth-service-migrate", {
            metadata: { namespace: "ns" },
            spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "m", image: "auth:1" }] } } },
        });
        new DeploymentVerification("verification", {
            namespace: "ns",
            secretName: SECRET_NAME,
            dataStores: Object.fromEntries(DATA_STORE_NAMES.map((n) => [n, { host: `${n}-service`, port: 1000 + n.length }])) as any,
            plan: buildVerificationPlan({
                hosts: { web: "ultramarket.uz", api: "api.ultramarket.uz", admin: "admin.ultramarket.uz", mobile: "m.ultramarket.uz" },
                apps: APPS,
                rateLimit: { perMinute: 600 },
            }),
            migrationJobs: { "auth-service": migration },
            dependsOn: [...ready, migration],
            trigger: "fingerprint-1",
            images: DEFAULT_THIRD_PARTY_IMAGES,
        });
        await settle(regs);
        readyUrns = regs.filter((r) => ["api-gateway", "auth-service", "auth-service-migrate"].includes(r.name)).map((r) => r.urn);
        assert.equal(readyUrns.length, 3);
    });

    it("runs the runbook's connection check against each data store in a Job, after everything rolled out", () => {
        const jobs = byType(regs, "kubernetes:batch/v1:Job").filter((j) => j.name.startsWith("verify-"));
        assert.deepEqual(jobs.map((j) => j.name).sort(), DATA_STORE_NAMES.map((n) => `verify-${n}`).sort());
        for (const j of jobs) {
            for (const u of readyUrns) assert.ok(j.dependencies.includes(u), `${j.name} waits for ${u}`);
            const c = j.inputs.spec.template.spec.containers[0];
            assert.deepEqual(c.command, DATA_STORE_CHECKS[j.name.slice("verify-".length) as keyof typeof DATA_STORE_CHECKS].command);
            assert.equal(j.inputs.spec.template.metadata.annotations["ultramarket.uz/verification-trigger"], "fingerprint-1");
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        }
        assert.deepEqual(jobs.find((j) => j.name === "verify-postgres")!.inputs.spec.template.spec.containers[0].command.slice(0, 3), [
            "psql",
            "-h",
            "$(DATASTORE_HOST)",
        ]);
    });

    it("opens exactly each check's path through the default-deny network: its pods to its store's port", () => {
        const policies = byType(regs, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
        for (const store of DATA_STORE_NAMES) {
            const egress = policies.find((p) => p.inputs.metadata.name === `allow-verify-${store}`)!;
            assert.deepEqual(egress.inputs.spec.podSelector.matchLabels["app.kubernetes.io/name"], `verify-${store}`);
            assert.deepEqual(egress.inputs.spec.policyTypes, ["Egress"]);
            assert.equal(egress.inputs.spec.egress.length, 1);
            assert.equal(egress.inputs.spec.egress[0].to[0].podSelector.matchLabels["app.kubernetes.io/name"], store);
            const ingress = policies.find((p) => p.inputs.metadata.name === `allow-${store}-from-verification`)!;
            assert.equal(ingress.inputs.spec.podSelector.matchLabels["app.kubernetes.io/name"], store);
            assert.equal(ingress.inputs.spec.ingress[0].from[0].podSelector.matchLabels["app.kubernetes.io/name"], `verify-${store}`);
            assert.deepEqual(ingress.inputs.spec.ingress[0].ports, egress.inputs.spec.egress[0].ports);
            const job = byType(regs, "kubernetes:batch/v1:Job").find((j) => j.name === `verify-${store}`)!;
            assert.ok(
                job.dependencies.includes(egress.urn) && job.dependencies.includes(ingress.urn),
                "the Job starts once its path is open",
            );
        }
    });

    it("gives the Jobs their passwords only by reference to the Secret, never on a command line", () => {
        for (const j of byType(regs, "kubernetes:batch/v1:Job").filter((x) => x.name.startsWith("verify-"))) {
            const c = j.inputs.spec.template.spec.containers[0];
            const secretEnv = c.env.filter((e: any) => e.valueFrom);
            const store = j.name.slice("verify-".length);
            if (store === "postgres" || store === "mongodb") {
                // As the monitoring user (user and password from the exporter's Secret): no superuser for a check.
                assert.deepEqual(
                    secretEnv.map((e: any) => [e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]),
                    [
                        [EXPORTER_CREDENTIALS[store].secretName, "username"],
                        [EXPORTER_CREDENTIALS[store].secretName, "password"],
                    ],
                    j.name,
                );
                assert.ok(!JSON.stringify(c).includes("root") && !c.command.includes("postgres"), `${j.name} logs in as a superuser`);
            } else if (store === "elasticsearch") {
                // As the monitoring user: its password from the exporter's Secret, its name (not `elastic`) in curl's config.
                assert.deepEqual(
                    secretEnv.map((e: any) => [e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]),
                    [[EXPORTER_CREDENTIALS.elasticsearch.secretName, "password"]],
                );
                assert.match(c.command[2], new RegExp(`user = \\\\"${EXPORTER_CREDENTIALS.elasticsearch.user}:%s`));
                assert.doesNotMatch(c.command[2], /elastic:/, `${j.name} logs in as the superuser`);
            } else {
                assert.equal(secretEnv.length, 1, j.name);
                assert.equal(secretEnv[0].valueFrom.secretKeyRef.name, SECRET_NAME);
            }
            const argv = c.command.join(" ");
            assert.doesNotMatch(argv, /(^|\s)(-a|--pass(word)?|-u)\s/, j.name);
            assert.doesNotMatch(argv, /mongodb:\/\/[^@\s]*:[^@\s]*@/, j.name);
        }
    });

    it("runs the outside-in checks last, after the readiness resources and the data-store Jobs, with the plan in its environment", () => {
        const [cmd] = byType(regs, "command:local:Command");
        assert.equal(cmd.inputs.create, VERIFY_COMMAND);
        const jobUrns = byType(regs, "kubernetes:batch/v1:Job")
            .filter((j) => j.name.startsWith("verify-"))
            .map((j) => j.urn);
        for (const u of [...readyUrns, ...jobUrns]) assert.ok(cmd.dependencies.includes(u), `the check waits for ${u}`);
        assert.deepEqual(cmd.inputs.triggers, ["fingerprint-1"]);
        const plan = JSON.parse(cmd.inputs.environment.ULTRAMARKET_VERIFY_PLAN) as VerificationPlan;
        assert.equal(plan.health[0].url, "https://api.ultramarket.uz/health");
        assert.deepEqual(
            plan.migrations.map((m) => m.app),
            ["auth-service"],
        );
        assert.equal(cmd.inputs.logging, "stderr");
    });
});
