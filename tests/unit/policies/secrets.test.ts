import * as assert from "assert";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isSecretLikeKey, secretLikeValue } from "../../../policies/lib/secrets";
import { expandedVariables } from "../../../policies/secrets";
import { configMap, cronJob, datastore, deployment, everyWorkload, migrationJob, NS } from "./fixtures";
import { FakeResource, policy, validateResource } from "./harness";

const CONFIGMAP = `ConfigMap/${NS}/ultramarket-config`;

async function run(name: string, r: FakeResource, config: object = {}) {
    return validateResource(policy<ResourceValidationPolicy>(name), r, config);
}

describe("policies: secret detection heuristics", () => {
    it("recognises secret key names however they are spelled", () => {
        for (const key of [
            "POSTGRES_PASSWORD",
            "jwtSecret",
            "JWT_REFRESH_SECRET",
            "SENDGRID_API_KEY",
            "clickSecretKey",
            "db.password",
            "PAYME_SECRET_KEY",
            "GITHUB_TOKEN",
            "privateKey",
            "AWS_ACCESS_KEY_ID",
        ]) {
            assert.ok(isSecretLikeKey(key), key);
        }
    });

    it("leaves settings about secrets and ordinary keys alone", () => {
        for (const key of [
            "NODE_ENV",
            "DATABASE_URL",
            "JWT_EXPIRES_IN",
            "JWT_SECRET_TTL",
            "PASSWORD_MIN_LENGTH",
            "SECRET_NAME",
            "RATE_LIMIT_MAX",
            "ALLOWED_ORIGINS",
            "keyspace",
        ]) {
            assert.ok(!isSecretLikeKey(key), key);
        }
    });

    it("recognises credential-shaped values", () => {
        assert.strictEqual(secretLikeValue("postgresql://app:s3cr3t@postgres:5432/db"), "a URL with an embedded password");
        assert.strictEqual(secretLikeValue("redis://:s3cr3t@redis:6379"), "a URL with an embedded password");
        assert.strictEqual(secretLikeValue("-----BEGIN RSA PRIVATE KEY-----\nMIIE..."), "a PEM private key");
        assert.strictEqual(secretLikeValue("AKIAABCDEFGHIJKLMNOP"), "an AWS access key id");
        assert.strictEqual(secretLikeValue("postgresql://postgres:5432/db"), undefined);
        assert.strictEqual(secretLikeValue("https://ultramarket.uz"), undefined);
    });
});

describe("policies: no secrets in ConfigMaps", () => {
    it("passes a ConfigMap of plain settings and password-free URLs", async () => {
        assert.deepStrictEqual((await run("no-secrets-in-configmaps", configMap())).violations, []);
    });

    it("refuses a secret-looking key and names the ConfigMap and key", async () => {
        const { violations } = await run(
            "no-secrets-in-configmaps",
            configMap((c) => {
                c.data!.JWT_SECRET = "changeme";
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(violations[0].startsWith(`${CONFIGMAP}: key "JWT_SECRET" looks like a secret`), violations[0]);
        assert.match(violations[0], /move it to a Secret and reference it with secretKeyRef/);
    });

    it("refuses a URL that carries a password, whatever the key", async () => {
        const { violations } = await run(
            "no-secrets-in-configmaps",
            configMap((c) => {
                c.data!.DATABASE_URL = "postgresql://postgres:hunter2@postgres:5432/ultramarket";
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(violations[0].startsWith(`${CONFIGMAP}: key "DATABASE_URL" holds a URL with an embedded password`), violations[0]);
    });

    it("honours allowedKeys from policy config", async () => {
        const r = configMap((c) => {
            c.data!.CSRF_TOKEN = "header-name";
        });
        assert.strictEqual((await run("no-secrets-in-configmaps", r)).violations.length, 1);
        assert.deepStrictEqual((await run("no-secrets-in-configmaps", r, { allowedKeys: ["CSRF_TOKEN"] })).violations, []);
    });
});

describe("policies: no secrets in literal env values", () => {
    it("passes secrets read through secretKeyRef", async () => {
        for (const w of everyWorkload()) {
            assert.deepStrictEqual((await run("no-secrets-in-env-literals", w)).violations, []);
        }
    });

    it("refuses a password written as a literal env value", async () => {
        const { violations } = await run(
            "no-secrets-in-env-literals",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].env!.push({ name: "POSTGRES_PASSWORD", value: "hunter2" });
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(
            violations[0].startsWith(`Deployment/${NS}/auth-service: container "auth-service" env POSTGRES_PASSWORD is a literal value`),
            violations[0],
        );
        assert.match(violations[0], /valueFrom.secretKeyRef/);
    });

    it("refuses a credential-shaped literal under an innocent name", async () => {
        const { violations } = await run(
            "no-secrets-in-env-literals",
            cronJob((c) => {
                c.spec!.jobTemplate.spec!.template.spec!.containers[0].env!.push({
                    name: "MONGO",
                    value: "mongodb://root:pw@mongodb:27017",
                });
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(
            violations[0].startsWith(`CronJob/${NS}/report: container "report" env MONGO holds a URL with an embedded password`),
            violations[0],
        );
    });
});

describe("policies: no secrets in argv", () => {
    const redisPassword = { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "ultramarket-secrets", key: "REDIS_PASSWORD" } } };

    it("finds the variables a command line expands, whether the kubelet or a shell expands them", () => {
        assert.deepStrictEqual(
            expandedVariables('redis-server --requirepass $(REDIS_PASSWORD) -u "${ELASTIC_PASSWORD}" $PGPASSWORD ${X:-y}'),
            ["REDIS_PASSWORD", "ELASTIC_PASSWORD", "PGPASSWORD", "X"],
        );
        assert.deepStrictEqual(expandedVariables("awk 'BEGIN { print ENVIRON[\"REDIS_PASSWORD\"] }'"), []);
    });

    it("is mandatory and passes programs that read secrets from their environment or a file", async () => {
        assert.strictEqual(policy<ResourceValidationPolicy>("no-secrets-in-argv").enforcementLevel, "mandatory");
        for (const w of everyWorkload()) {
            assert.deepStrictEqual((await run("no-secrets-in-argv", w)).violations, []);
        }
        const fromFile = datastore((s) => {
            const c = s.spec!.template.spec!.containers[0];
            c.env!.push({ name: "REDISCLI_AUTH", valueFrom: redisPassword.valueFrom });
            c.command = ["redis-server", "/usr/local/etc/redis/auth.conf", "--maxmemory", "805306368"];
            c.livenessProbe = { exec: { command: ["sh", "-c", "redis-cli ping | grep -q PONG"] } };
        });
        assert.deepStrictEqual((await run("no-secrets-in-argv", fromFile)).violations, []);
    });

    it("refuses a Secret-sourced variable expanded by the kubelet into a command, naming the object and the variable", async () => {
        const { violations } = await run(
            "no-secrets-in-argv",
            datastore((s) => {
                const c = s.spec!.template.spec!.containers[0];
                c.env!.push(redisPassword);
                c.command = ["redis-server", "--requirepass", "$(REDIS_PASSWORD)"];
            }),
        );
        assert.strictEqual(violations.length, 1);
        assert.ok(
            violations[0].startsWith(`StatefulSet/${NS}/postgres: container "postgres" command expands the secret env REDIS_PASSWORD`),
            violations[0],
        );
        assert.match(violations[0], /from a file written from it/);
    });

    it("refuses a shell expanding a secret in a probe or an init container's args", async () => {
        const probe = await run(
            "no-secrets-in-argv",
            datastore((s) => {
                s.spec!.template.spec!.containers[0].env!.push({
                    name: "ELASTIC_PASSWORD",
                    valueFrom: { secretKeyRef: { name: "s", key: "ELASTICSEARCH_PASSWORD" } },
                });
                s.spec!.template.spec!.containers[0].readinessProbe = {
                    exec: { command: ["sh", "-c", 'curl -u "elastic:${ELASTIC_PASSWORD}" http://127.0.0.1:9200'] },
                };
            }),
        );
        assert.strictEqual(probe.violations.length, 1);
        assert.match(probe.violations[0], /container "postgres" readinessProbe expands the secret env ELASTIC_PASSWORD/);
        const init = await run(
            "no-secrets-in-argv",
            migrationJob((j) => {
                const c = JSON.parse(JSON.stringify(j.spec!.template.spec!.containers[0]));
                c.name = "seed";
                c.command = ["sh", "-c"];
                c.args = ["psql -c \"ALTER USER app PASSWORD '$JWT_SECRET'\""];
                j.spec!.template.spec!.initContainers = [c];
            }),
        );
        assert.strictEqual(init.violations.length, 1);
        assert.match(init.violations[0], /init container "seed" args expands the secret env JWT_SECRET/);
    });

    it("refuses a credential-shaped literal on a command line, and honours allowedKeys", async () => {
        const literal = await run(
            "no-secrets-in-argv",
            deployment((d) => {
                d.spec!.template.spec!.containers[0].args = ["--db", "postgresql://app:hunter2@postgres:5432/ultramarket"];
            }),
        );
        assert.strictEqual(literal.violations.length, 1);
        assert.match(literal.violations[0], /container "auth-service" args carries a URL with an embedded password/);
        const named = deployment((d) => {
            d.spec!.template.spec!.containers[0].args = ["--token-header", "$(CSRF_TOKEN)"];
        });
        assert.strictEqual((await run("no-secrets-in-argv", named)).violations.length, 1);
        assert.deepStrictEqual((await run("no-secrets-in-argv", named, { allowedKeys: ["CSRF_TOKEN"] })).violations, []);
    });
});
