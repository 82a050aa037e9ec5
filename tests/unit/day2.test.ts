// Day two under mocks: what the second `up` changes after a setting change or a secret rotation.
// The same rules are proven on the real engine in tests/e2e/day2.e2e.test.ts.
import { strict as assert } from "assert";
import { CATALOG, DATA_STORE_PASSWORD_KEY, DATABASES_WITH_USERS, GATEWAY, secretKeysFor } from "../../components/model/catalog";
import { CONFIG_CHECKSUM_ANNOTATION, digest, REPLACE_UNREADY, SECRET_CHECKSUM_ANNOTATION } from "../../components/model/rollout";
import { generatedValue, Registration } from "./support/harness";
import { runChecks } from "../../components/verification/checks";
import { evaluatePlatform, evaluateProduction, productionValues } from "./support/platform";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const STATEFULSET = "kubernetes:apps/v1:StatefulSet";
const JOB = "kubernetes:batch/v1:Job";

/** Pod templates of every Deployment and StatefulSet, by kind/name. */
function podTemplates(regs: Registration[]): Map<string, any> {
    const out = new Map<string, any>();
    for (const r of regs.filter((x) => x.type === DEPLOYMENT || x.type === STATEFULSET))
        out.set(`${r.type.split(":").pop()}/${r.inputs.metadata.name}`, r.inputs.spec.template);
    return out;
}

/** The workloads whose pod template differs between two evaluations. */
function rolled(before: Registration[], after: Registration[]): string[] {
    const a = podTemplates(before);
    const b = podTemplates(after);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), "the set of workloads changed");
    return [...a.keys()].filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k))).sort();
}

/** URNs whose inputs differ between two evaluations once the pod templates' checksum annotations are set aside. */
function changedBesidesChecksums(before: Registration[], after: Registration[], normalise: (text: string) => string = (t) => t): string[] {
    const strip = (r: Registration) => {
        const ann = r.inputs?.spec?.template?.metadata?.annotations;
        if (!ann) return normalise(JSON.stringify(r.inputs));
        const { [CONFIG_CHECKSUM_ANNOTATION]: _c, [SECRET_CHECKSUM_ANNOTATION]: _s, ...rest } = ann;
        return normalise(
            JSON.stringify({
                ...r.inputs,
                spec: {
                    ...r.inputs.spec,
                    template: { ...r.inputs.spec.template, metadata: { ...r.inputs.spec.template.metadata, annotations: rest } },
                },
            }),
        );
    };
    const a = new Map(before.map((r) => [r.urn, strip(r)]));
    const b = new Map(after.map((r) => [r.urn, strip(r)]));
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), "resources were added or removed");
    return [...a.keys()].filter((u) => a.get(u) !== b.get(u)).sort();
}

const deploymentsOf = (apps: readonly string[]) => apps.map((a) => `Deployment/${a}`).sort();
const enabledApps = CATALOG.filter((a) => a.enabledByDefault || a.name === "mobile-app");

describe("day two: a setting change or a secret rotation rolls exactly the workloads that read it", () => {
    let base: Registration[];
    before(async () => {
        base = (await evaluateProduction()).registrations;
    });

    it("updates the ConfigMap and Secret in place: the provider makes both mutable, so no replacement cascades", () => {
        const provider = base.find((r) => r.type === "pulumi:providers:kubernetes");
        assert.ok(provider, "no explicit Kubernetes provider");
        assert.equal(String(provider.inputs.enableConfigMapMutable), "true");
        assert.equal(String(provider.inputs.enableSecretMutable), "true");
    });

    it("a log-level change rolls every app (they read the ConfigMap) and no data store, and changes nothing else", async () => {
        const after = (await evaluateProduction({ logLevel: "debug" })).registrations;
        const apps = podTemplates(base);
        // The data stores' exporters read no setting of the ConfigMap, and PgBouncer reads its own: they stay.
        const appDeployments = [...apps.keys()].filter(
            (k) => k.startsWith("Deployment/") && !k.endsWith("-exporter") && k !== "Deployment/pgbouncer",
        );
        assert.ok(appDeployments.length >= 19, `expected every app's Deployment, got ${appDeployments.length}`);
        assert.deepEqual(rolled(base, after), appDeployments.sort());
        const others = changedBesidesChecksums(base, after, (t) => t.replace(/"LOG_LEVEL":"debug"/g, '"LOG_LEVEL":"info"'));
        // Besides the readers, only the post-deploy verification changes: it runs again for what was deployed.
        const verification = others.filter((u) => u.includes("ultramarket:verification:DeploymentVerification$"));
        assert.ok(
            verification.some((u) => u.endsWith("::verify-deployment")),
            "the verification does not run again after a setting change",
        );
        assert.deepEqual(
            others.filter((u) => !verification.includes(u)),
            [],
            "objects other than the readers' pod templates changed",
        );
    });

    it("a rate-limit change rolls the apps; the ConfigMap keeps its name", async () => {
        const after = await evaluateProduction({ rateLimitMax: "250" });
        const cm = after.registrations.find(
            (r) => r.type === "kubernetes:core/v1:ConfigMap" && r.inputs.metadata.name === "ultramarket-config",
        );
        assert.ok(cm, "the ConfigMap ultramarket-config is gone");
        assert.equal(cm.inputs.data.RATE_LIMIT_MAX, "250");
        assert.ok(rolled(base, after.registrations).every((k) => k.startsWith("Deployment/")));
    });

    it("rotating a payment provider key rolls only payment-service", async () => {
        const after = (await evaluateProduction({ paymeSecretKey: "payme-secret-ROTATED-77" })).registrations;
        const readers = enabledApps.filter((a) => secretKeysFor(a).includes("PAYME_SECRET_KEY")).map((a) => a.name);
        assert.deepEqual(readers, ["payment-service"]);
        assert.deepEqual(rolled(base, after), deploymentsOf(readers));
    });

    it("rotating the JWT secret rolls only the apps that read JWT_SECRET", async () => {
        const after = (await evaluateProduction({ jwtSecret: "a-new-jwt-secret-that-is-long-enough-0123456789" })).registrations;
        const readers = enabledApps.filter((a) => secretKeysFor(a).includes("JWT_SECRET")).map((a) => a.name);
        assert.ok(readers.includes(GATEWAY) && readers.includes("auth-service"));
        assert.deepEqual(rolled(base, after), deploymentsOf(readers));
    });

    it("rotating the Redis password rolls Redis (it applies requirepass on start) and its clients, not the other stores", async () => {
        const after = (await evaluateProduction({ redisPassword: "a-new-redis-password-0123456789" })).registrations;
        const clients = enabledApps.filter((a) => a.dataStores.includes("redis")).map((a) => a.name);
        // redis-exporter reads the password too (tests/unit/data-metrics.test.ts).
        assert.deepEqual(rolled(base, after), [...deploymentsOf([...clients, "redis-exporter"]), "StatefulSet/redis"].sort());
    });

    it("rotating the Elasticsearch password rolls Elasticsearch alone (its probes authenticate with the pod's environment): its apps and exporter log in as their own users", async () => {
        const after = (await evaluateProduction({ elasticsearchPassword: "a-new-elastic-password-0123456789" })).registrations;
        assert.ok(enabledApps.some((a) => a.dataStores.includes("elasticsearch")));
        assert.deepEqual(
            enabledApps.filter((a) => secretKeysFor(a).includes(DATA_STORE_PASSWORD_KEY.elasticsearch)),
            [],
        );
        assert.deepEqual(rolled(base, after), ["StatefulSet/elasticsearch"]);
    });

    it("rotating the PostgreSQL superuser password rolls nothing: no app reads it, and PostgreSQL applies it only at initialisation", async () => {
        const after = (await evaluateProduction({ postgresPassword: "a-new-postgres-password-0123456789" })).registrations;
        assert.deepEqual(
            enabledApps.filter((a) => secretKeysFor(a).includes(DATA_STORE_PASSWORD_KEY.postgres)),
            [],
        );
        assert.deepEqual(rolled(base, after), []);
    });

    it("rotating one service's database password rolls that service and PgBouncer only, and re-runs the users Job", async () => {
        const after = (await evaluateProduction({ databasePasswordVersions: JSON.stringify({ "order-service": 2 }) })).registrations;
        assert.deepEqual(rolled(base, after), ["Deployment/order-service", "Deployment/pgbouncer"]);
        const usersJob = (regs: Registration[]) =>
            regs.find((r) => r.type === JOB && r.name === "database-users-postgres")!.inputs.spec.template;
        assert.notDeepEqual(usersJob(after), usersJob(base), "the users Job must run again to set the new password");
        const mongoJob = (regs: Registration[]) =>
            regs.find((r) => r.type === JOB && r.name === "database-users-mongodb")!.inputs.spec.template;
        assert.deepEqual(mongoJob(after), mongoJob(base), "MongoDB's users are untouched");
    });

    for (const store of DATABASES_WITH_USERS) {
        it(`rotating ${store}-exporter's monitoring password rolls that exporter alone (it logs in only on start)`, async () => {
            const after = (await evaluateProduction({ databasePasswordVersions: JSON.stringify({ [`${store}-exporter`]: 2 }) }))
                .registrations;
            assert.deepEqual(rolled(base, after), [`Deployment/${store}-exporter`]);
            const usersJob = (regs: Registration[]) =>
                regs.find((r) => r.type === JOB && r.name === `database-users-${store}`)!.inputs.spec.template;
            assert.notDeepEqual(usersJob(after), usersJob(base), "the users Job must run again to set the new password");
        });
    }

    it("a secret checksum is a Pulumi secret and a digest: no value reaches a pod template", async () => {
        const ev = await evaluateProduction();
        const template = ev.platform.apps.services["payment-service"].deployment.spec.template.metadata.annotations;
        const isSecret = await (template as any).isSecret;
        assert.equal(isSecret, true, "the pod template annotations holding the secret digest are not marked secret");
        const annotations = ev.registrations.find((r) => r.type === DEPLOYMENT && r.inputs.metadata.name === "payment-service")!.inputs.spec
            .template.metadata.annotations;
        assert.match(annotations[SECRET_CHECKSUM_ANNOTATION], /^[0-9a-f]{64}$/);
        assert.ok(!JSON.stringify(annotations).includes("payme-secret-ZX9r1"));
    });

    it("the secret checksum is an HMAC keyed with the stack's generated key: without the key a guess cannot be checked", async () => {
        const redis = (regs: Registration[]) =>
            regs.find((r) => r.type === STATEFULSET && r.inputs.metadata.name === "redis")!.inputs.spec.template.metadata.annotations[
                SECRET_CHECKSUM_ANNOTATION
            ];
        const password = "a-redis-password-for-the-hmac-test-01";
        const generated = (await evaluateProduction({ redisPassword: password })).registrations;
        // Redis reads REDIS_PASSWORD alone, so its annotation is exactly the digest of that one value.
        assert.equal(redis(generated), digest({ REDIS_PASSWORD: password }, generatedValue("rollout-checksum-key")));
        assert.notEqual(redis(generated), digest({ REDIS_PASSWORD: password }), "the unkeyed digest of the password matches");
        const key = "an-operator-supplied-checksum-key-0123456789";
        const configured = await evaluateProduction({ redisPassword: password, rolloutChecksumKey: key });
        assert.equal(redis(configured.registrations), digest({ REDIS_PASSWORD: password }, key));
        assert.ok(!configured.registrations.some((r) => r.name === "rollout-checksum-key"), "a configured key must not also be generated");
    });

    it("nothing but the key's own rotation changes it: settings and secret rotations leave its generator alone", async () => {
        const generator = (regs: Registration[]) => regs.find((r) => r.name === "rollout-checksum-key" && r.type.startsWith("random:"))!;
        for (const overrides of <Record<string, string>[]>[
            { logLevel: "debug" },
            { redisPassword: "a-new-redis-password-0123456789" },
            { databaseUsersSeed: "a-new-database-users-seed-0123456789abcdef" },
        ]) {
            const after = (await evaluateProduction(overrides)).registrations;
            assert.deepEqual(generator(after).inputs, generator(base).inputs, `${Object.keys(overrides)[0]} changes the key's generator`);
            assert.equal(generator(after).protect, true, "the generated key is not protected");
        }
    });

    it("rotating the checksum key rolls each workload that reads a secret once, changing only its checksum annotation", async () => {
        const first = (await evaluateProduction({ rolloutChecksumKey: "the-first-rollout-checksum-key-0123456789" })).registrations;
        const second = (await evaluateProduction({ rolloutChecksumKey: "the-second-rollout-checksum-key-0123456789" })).registrations;
        const readers = [...podTemplates(first)]
            .filter(([, t]) => t.metadata?.annotations?.[SECRET_CHECKSUM_ANNOTATION] !== undefined)
            .map(([k]) => k)
            .sort();
        assert.ok(readers.includes("StatefulSet/redis") && readers.includes("Deployment/payment-service"));
        assert.deepEqual(rolled(first, second), readers);
        // The users Jobs' templates carry the checksum too (they are replaced and run again, setting the same passwords).
        assert.deepEqual(changedBesidesChecksums(first, second), [], "the key changes more than the checksum annotations");
    });

    it("migration and data-store verification Jobs are re-run after a failure (replaceUnready) and carry no checksum", () => {
        // The database users Jobs carry one on purpose: a new password must re-run them (tests/unit/database-users.test.ts).
        const jobs = base.filter((r) => r.type === JOB && r.inputs.metadata.labels["app.kubernetes.io/component"] !== "database-users");
        assert.ok(jobs.length >= 2, "no Jobs registered");
        for (const j of jobs) {
            assert.deepEqual(j.inputs.metadata.annotations, REPLACE_UNREADY, `${j.name} would be awaited again after failing`);
            const ann = j.inputs.spec.template.metadata?.annotations ?? {};
            assert.ok(
                !(CONFIG_CHECKSUM_ANNOTATION in ann) && !(SECRET_CHECKSUM_ANNOTATION in ann),
                `${j.name}: a setting change would re-run it`,
            );
        }
    });

    it("the digest depends on every key and value it covers, and on the HMAC key, and on nothing else", () => {
        assert.equal(digest({ A: "1", B: "2" }, "k"), digest({ B: "2", A: "1" }, "k"));
        assert.notEqual(digest({ A: "1" }, "k1"), digest({ A: "1" }, "k2"));
        assert.equal(digest({ A: "1", B: "2" }), digest({ B: "2", A: "1" }));
        assert.notEqual(digest({ A: "1", B: "2" }), digest({ A: "1", B: "3" }));
        assert.notEqual(digest({ A: "12" }), digest({ A: "1", B: "2" }));
        assert.notEqual(digest({ A: "1" }), digest({ B: "1" }));
    });

    it("an update started by deploy (its update id) runs the verification again, and the report names that update", async () => {
        const withId = (
            await evaluatePlatform("production", productionValues(), {
                adjust: (c) => ({ ...c, verification: { ...c.verification, updateId: "deploy-7f3a" } }),
            })
        ).registrations;
        const changed = changedBesidesChecksums(base, withId);
        assert.ok(
            changed.length > 0 && changed.every((u) => u.includes("ultramarket:verification:DeploymentVerification$")),
            `unexpected changes: ${changed.join(", ")}`,
        );
        const command = withId.find((r) => r.type === "command:local:Command" && r.name === "verify-deployment")!;
        assert.equal(JSON.parse(command.inputs.environment.ULTRAMARKET_VERIFY_PLAN).updateId, "deploy-7f3a");
        const report = await runChecks({
            health: [],
            tls: [],
            securityHeaders: [],
            migrations: [],
            minCertificateDays: 14,
            timeoutMs: 1000,
            updateId: "deploy-7f3a",
        });
        assert.equal(report.updateId, "deploy-7f3a");
    });
});
