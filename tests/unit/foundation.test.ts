import { strict as assert } from "assert";
import { SECRET_KEYS } from "../../components/model/catalog";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { byType, generatedValue, named, PRODUCTION_SECRET_VALUES, Registration } from "./support/harness";
import { CM, NS, PVC, RANDOM_PASSWORD, SECRET, STS, SVC } from "./support/kinds";
import { evaluatePlatform, evaluateProduction } from "./support/platform";

const RUNBOOK_CONFIG_KEYS = [
    "NODE_ENV",
    "LOG_LEVEL",
    "REDIS_URL",
    "MONGODB_URL",
    "POSTGRES_URL",
    "ALLOWED_ORIGINS",
    "JWT_EXPIRES_IN",
    "RATE_LIMIT_WINDOW",
    "RATE_LIMIT_MAX",
    "CACHE_TTL",
    "CORS_ENABLED",
    "HELMET_ENABLED",
    "COMPRESSION_ENABLED",
    "MONITORING_ENABLED",
    "ANALYTICS_ENABLED",
];
const RUNBOOK_SECRET_KEYS = [
    "POSTGRES_PASSWORD",
    "MONGODB_PASSWORD",
    "REDIS_PASSWORD",
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
    "CLICK_MERCHANT_ID",
    "CLICK_SECRET_KEY",
    "PAYME_MERCHANT_ID",
    "PAYME_SECRET_KEY",
    "ESKIZ_EMAIL",
    "ESKIZ_PASSWORD",
    "PLAY_MOBILE_LOGIN",
    "PLAY_MOBILE_PASSWORD",
    "SENDGRID_API_KEY",
    "SMTP_PASSWORD",
];

const containerOf = (sts: Registration) => sts.inputs.spec.template.spec.containers[0];

describe("production stack: namespace, secrets, config map and data stores", () => {
    let regs: Registration[];
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
    });

    it("creates the namespace ultramarket-production with Pod Security Admission enforcing restricted", () => {
        const ns = named(regs, NS, "ultramarket-production");
        assert.equal(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.equal(ns.protect, true, "the namespace holds the data stores, so it is protected");
    });

    it("puts every namespaced object in the configured namespace", () => {
        const namespaced = regs.filter(
            (r) => r.custom && r.type.startsWith("kubernetes:") && r.type !== NS && r.type !== "pulumi:providers:kubernetes",
        );
        assert.ok(namespaced.length >= 11, `expected the foundation's objects, got ${namespaced.length}`);
        for (const r of namespaced) assert.equal(r.inputs.metadata?.namespace, "ultramarket-production", `${r.type} ${r.name}`);
    });

    it("creates ultramarket-secrets with the runbook's 15 keys and the Elasticsearch password", () => {
        const secret = named(regs, SECRET, "ultramarket-secrets");
        assert.deepEqual(Object.keys(secret.inputs.stringData).sort(), [...RUNBOOK_SECRET_KEYS, "ELASTICSEARCH_PASSWORD"].sort());
        assert.equal(secret.inputs.stringData.CLICK_SECRET_KEY, PRODUCTION_SECRET_VALUES.clickSecretKey);
        assert.equal(secret.inputs.stringData.POSTGRES_PASSWORD, generatedValue("postgres-password"));
    });

    it("generates the unset data-store passwords and JWT secrets with @pulumi/random, protected", () => {
        const generated = byType(regs, RANDOM_PASSWORD);
        // database-users-seed: the database users' passwords derive from it; rollout-checksum-key: keys the pod
        // templates' secret checksums. Neither enters the platform Secret.
        assert.deepEqual(generated.map((g) => g.name).sort(), [
            "database-users-seed",
            "elasticsearch-password",
            "jwt-refresh-secret",
            "jwt-secret",
            "mongodb-password",
            "postgres-password",
            "redis-password",
            "rollout-checksum-key",
        ]);
        for (const g of generated) {
            assert.equal(g.protect, true, `${g.name} must survive an accidental replace`);
            assert.ok(g.inputs.length >= 32);
        }
    });

    it("creates ultramarket-config with the runbook's 15 keys pointing at the real data-store services, without credentials", () => {
        const cm = named(regs, CM, "ultramarket-config");
        for (const key of RUNBOOK_CONFIG_KEYS) assert.ok(key in cm.inputs.data, `missing ${key}`);
        assert.equal(cm.inputs.data.ALLOWED_ORIGINS, "https://ultramarket.uz,https://admin.ultramarket.uz");
        const serviceNames = byType(regs, SVC).map((s) => s.inputs.metadata.name);
        for (const [key, scheme] of [
            ["POSTGRES_URL", "postgresql"],
            ["MONGODB_URL", "mongodb"],
            ["REDIS_URL", "redis"],
            ["ELASTICSEARCH_URL", "http"],
        ]) {
            const url = new URL(cm.inputs.data[key]);
            assert.equal(url.protocol, `${scheme}:`);
            assert.ok(serviceNames.includes(url.hostname), `${key} host ${url.hostname} is not a Service`);
            assert.equal(url.username + url.password, "", `${key} must not carry credentials`);
        }
        // The users Job creates the MongoDB users in admin: a driver authenticates against the URL's database unless
        // authSource says otherwise, so without it every MongoDB-backed app's login fails.
        const mongo = new URL(cm.inputs.data.MONGODB_URL);
        assert.equal(mongo.pathname, "/ultramarket");
        assert.equal(mongo.searchParams.get("authSource"), "admin");
    });

    it("no secret value, configured or generated, appears in any object other than the Secret", () => {
        // The seed and the checksum key stay in the Pulumi state: not in the Secret, nor anywhere else.
        const seed = generatedValue("database-users-seed");
        const checksumKey = generatedValue("rollout-checksum-key");
        const secretValues = [
            ...Object.values(PRODUCTION_SECRET_VALUES),
            ...byType(regs, RANDOM_PASSWORD)
                .map((g) => generatedValue(g.name))
                .filter((v) => v !== seed && v !== checksumKey),
        ];
        const secret = named(regs, SECRET, "ultramarket-secrets");
        const inSecret = JSON.stringify(secret.inputs);
        for (const v of secretValues) assert.ok(inSecret.includes(v), "control: the Secret holds every value");
        for (const r of regs.filter((x) => x !== secret && !x.type.startsWith("random:"))) {
            const text = JSON.stringify(r.inputs);
            for (const v of secretValues) assert.ok(!text.includes(v), `${r.type} ${r.name} leaks a secret value`);
            assert.ok(!text.includes(seed), `${r.type} ${r.name} carries the database users' seed`);
            assert.ok(!text.includes(checksumKey), `${r.type} ${r.name} carries the rollout checksum key`);
        }
        assert.ok(!inSecret.includes(checksumKey), "the rollout checksum key is in the platform Secret");
    });

    it("runs PostgreSQL, MongoDB, Redis and Elasticsearch as protected StatefulSets behind headless Services", () => {
        const stateful = byType(regs, STS);
        assert.deepEqual(stateful.map((s) => s.inputs.metadata.name).sort(), [...DATA_STORE_NAMES].sort());
        for (const s of stateful) {
            assert.equal(s.protect, true, `${s.name} must be protected`);
            assert.deepEqual(s.inputs.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
            const svc = named(regs, SVC, s.inputs.spec.serviceName);
            assert.equal(svc.inputs.spec.clusterIP, "None");
            assert.deepEqual(svc.inputs.spec.selector, s.inputs.spec.selector.matchLabels);
        }
    });

    it("gives each data store a persistent volume claim of the configured size and class", () => {
        const sizes: Record<string, string> = { postgres: "20Gi", mongodb: "20Gi", redis: "5Gi", elasticsearch: "30Gi" };
        for (const s of byType(regs, STS)) {
            const claim = s.inputs.spec.volumeClaimTemplates[0];
            assert.equal(claim.spec.resources.requests.storage, sizes[s.inputs.metadata.name]);
            assert.equal(claim.spec.storageClassName, "standard");
            assert.ok(containerOf(s).volumeMounts.some((m: any) => m.name === claim.metadata.name));
        }
    });

    it("probes readiness with the runbook's own checks", () => {
        const probe = (n: string) => containerOf(named(regs, STS, n)).readinessProbe.exec.command.join(" ");
        assert.match(probe("postgres"), /psql .*SELECT 1/);
        // Ready only once PostgreSQL listens on TCP, not while its first-start init runs on a socket-only server.
        assert.match(probe("postgres"), /^sh -c pg_isready -q -h 127\.0\.0\.1 -p 5432 && psql /);
        assert.match(probe("mongodb"), /mongosh .*ping: 1/);
        assert.match(probe("redis"), /redis-cli ping/);
        assert.match(probe("elasticsearch"), /_cluster\/health/);
    });

    it("runs every data store under the restricted standard with requests and limits", () => {
        for (const s of byType(regs, STS)) {
            const pod = s.inputs.spec.template.spec;
            assert.equal(pod.securityContext.runAsNonRoot, true);
            assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
            for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
                assert.equal(c.securityContext.allowPrivilegeEscalation, false, `${s.name}/${c.name}`);
                assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
                assert.equal(c.securityContext.readOnlyRootFilesystem, true);
                assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.cpu && c.resources.limits.memory);
            }
            assert.ok(!/:latest$/.test(containerOf(s).image) && containerOf(s).image.includes(":"), `${s.name} image must be pinned`);
        }
    });

    it("passes data-store passwords only through secretKeyRef", () => {
        for (const s of byType(regs, STS)) {
            for (const e of containerOf(s).env) {
                if (/PASSWORD|AUTH/.test(e.name)) {
                    assert.equal(e.value, undefined, `${s.name} ${e.name} is a literal`);
                    assert.equal(e.valueFrom.secretKeyRef.name, "ultramarket-secrets");
                    assert.ok(SECRET_KEYS.includes(e.valueFrom.secretKeyRef.key));
                }
            }
        }
    });

    it("keeps the file service's uploads on a protected claim", () => {
        const pvc = named(regs, PVC, "file-uploads");
        assert.equal(pvc.protect, true);
        assert.deepEqual(pvc.inputs.spec.accessModes, ["ReadWriteMany"]);
        assert.equal(pvc.inputs.spec.resources.requests.storage, "50Gi");
    });

    it("sends every Kubernetes object through the one explicit provider", () => {
        const provider = byType(regs, "pulumi:providers:kubernetes");
        assert.equal(provider.length, 1);
        for (const r of regs.filter((x) => x.custom && x.type.startsWith("kubernetes:"))) {
            assert.ok(r.provider.startsWith(provider[0].urn), `${r.type} ${r.name} uses ${r.provider}`);
        }
    });
});

describe("a non-production stack", () => {
    it("defaults the namespace to ultramarket-<stack>, generates secrets, and leaves optional credentials empty", async () => {
        const { registrations: regs, config } = await evaluatePlatform("staging", {});
        assert.equal(config.namespace, "ultramarket-staging");
        named(regs, NS, "ultramarket-staging");
        const secret = named(regs, SECRET, "ultramarket-secrets");
        assert.equal(secret.inputs.stringData.CLICK_SECRET_KEY, "");
        assert.equal(secret.inputs.stringData.JWT_SECRET, generatedValue("jwt-secret"));
    });

    it("uses configured passwords instead of generating them", async () => {
        const { registrations: regs } = await evaluatePlatform("staging", { postgresPassword: "a-configured-postgres-pass" });
        assert.ok(!byType(regs, RANDOM_PASSWORD).some((g) => g.name === "postgres-password"));
        assert.equal(named(regs, SECRET, "ultramarket-secrets").inputs.stringData.POSTGRES_PASSWORD, "a-configured-postgres-pass");
    });

    it("leaves data unprotected only when protectData is false", async () => {
        const { registrations: regs } = await evaluatePlatform("scratch", { protectData: "false" });
        assert.ok(byType(regs, STS).every((s) => !s.protect));
        assert.equal(named(regs, PVC, "file-uploads").protect, false);
    });
});
