import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    ConfigError,
    DEFAULT_RUNBOOK_BASE_URL,
    parseConfig,
    RawConfig,
    REQUIRED_PRODUCTION_SECRETS,
    SECRET_CONFIG_KEYS,
} from "../../config";
import { CATALOG } from "../../components/model/catalog";
import { makeAppRepo, PRODUCTION_SECRET_VALUES, REPO_ROOT, withUploadsChoice } from "./support/harness";
import { productionValues } from "./support/platform";

function raw(stack: string, values: Record<string, string>, plaintext: string[] = []): RawConfig {
    const secretKeys = new Set(SECRET_CONFIG_KEYS.filter((k) => !plaintext.includes(k)));
    return { stack, values: withUploadsChoice(values, stack), secretKeys, baseDir: REPO_ROOT };
}

/** The problems parseConfig reports, asserting it throws a ConfigError. */
function problems(stack: string, values: Record<string, string>, plaintext: string[] = []): string[] {
    try {
        parseConfig(raw(stack, values, plaintext));
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
        return e.problems;
    }
    assert.fail("expected the configuration to be refused");
}

const mentions = (list: string[], key: string, ...words: RegExp[]) => {
    const hit = list.find((p) => p.includes(`ultramarket:${key}`));
    assert.ok(hit, `no problem names ultramarket:${key}; got:\n${list.join("\n")}`);
    for (const w of words) assert.match(hit, w);
};

describe("config validation", () => {
    it("accepts the production stack file with its secrets", () => {
        const cfg = parseConfig(raw("production", productionValues()));
        assert.equal(cfg.namespace, "ultramarket-production");
        assert.deepEqual(cfg.hosts, {
            web: "ultramarket.uz",
            api: "api.ultramarket.uz",
            admin: "admin.ultramarket.uz",
            mobile: "m.ultramarket.uz",
        });
        assert.equal(cfg.isProduction, true);
        assert.ok(
            cfg.apps.every((a) => a.replicas >= 2),
            "production runs at least 2 replicas of everything",
        );
        assert.ok(!cfg.apps.some((a) => a.name === "mobile-app"), "mobile-app is off unless enabled");
    });

    it("fills a default for every optional key outside production", () => {
        const cfg = parseConfig(raw("dev", {}));
        assert.equal(cfg.namespace, "ultramarket-dev");
        assert.equal(cfg.domain, "ultramarket.local");
        assert.equal(cfg.images.tag, "dev");
        assert.equal(cfg.images.build, false);
        assert.equal(cfg.protectData, true);
        assert.equal(cfg.app.rateLimitMax, 1000);
        assert.equal(cfg.storage.sizes.postgres, "20Gi");
        assert.deepEqual(cfg.generatedSecrets.sort(), [
            "ELASTICSEARCH_PASSWORD",
            "JWT_REFRESH_SECRET",
            "JWT_SECRET",
            "MONGODB_PASSWORD",
            "POSTGRES_PASSWORD",
            "REDIS_PASSWORD",
        ]);
    });

    it("parses booleans, numbers and structured values as Pulumi stores them", () => {
        const cfg = parseConfig(
            raw("dev", { enableMobileApp: "true", rateLimitMax: "250", replicas: '{"cart-service":4}', storageSizes: '{"redis":"8Gi"}' }),
        );
        assert.ok(cfg.apps.some((a) => a.name === "mobile-app"));
        assert.equal(cfg.app.rateLimitMax, 250);
        assert.equal(cfg.apps.find((a) => a.name === "cart-service")!.replicas, 4);
        assert.equal(cfg.storage.sizes.redis, "8Gi");
        assert.equal(cfg.storage.sizes.postgres, "20Gi", "unset sizes keep their defaults");
    });

    it("refuses a namespace that is not a DNS label", () => {
        mentions(problems("dev", { namespace: "Ultra_Market" }), "namespace", /DNS label/, /Ultra_Market/, /pulumi config set namespace/);
    });

    it("refuses a stack name that cannot form the default namespace", () => {
        const list = problems("My_Stack", {});
        assert.ok(
            list.some((p) => /stack name "My_Stack"/.test(p) && /ultramarket:namespace/.test(p)),
            list.join("\n"),
        );
    });

    it("refuses a domain that is not a host name", () => {
        mentions(problems("dev", { domain: "https://ultramarket.uz/" }), "domain", /host name/);
    });

    it('refuses "latest" as the production image tag', () => {
        mentions(problems("production", productionValues({ imageTag: "latest" })), "imageTag", /immutable/, /pulumi config set imageTag/);
    });

    it('refuses "latest" as a per-service tag in production, and unknown service names anywhere', () => {
        const list = problems("production", productionValues({ serviceImageTags: '{"cart-service":"latest","carts":"1.0.1"}' }));
        mentions(list, "serviceImageTags.cart-service", /immutable/);
        mentions(list, "serviceImageTags.carts", /names no app/);
    });

    it("requires an explicit image tag in production", () => {
        const values = productionValues();
        delete values.imageTag;
        mentions(problems("production", values), "imageTag", /required/);
    });

    for (const key of Object.keys(REQUIRED_PRODUCTION_SECRETS)) {
        it(`requires the secret ${key} in the production stack, and says how to set it`, () => {
            const values = productionValues();
            delete values[key];
            mentions(
                problems("production", values),
                key,
                /required in the production stack/,
                new RegExp(`pulumi config set --secret ${key}`),
            );
        });
    }

    it("does not require third-party credentials outside production", () => {
        assert.doesNotThrow(() => parseConfig(raw("staging", {})));
    });

    it("refuses a secret stored in plain text, without echoing its value", () => {
        const list = problems("production", productionValues(), ["clickSecretKey"]);
        mentions(list, "clickSecretKey", /plain text/, /--secret/);
        assert.ok(!list.join("\n").includes(PRODUCTION_SECRET_VALUES.clickSecretKey));
    });

    it("refuses a configured password too short to be safe, suggesting generation instead", () => {
        const list = problems("dev", { jwtSecret: "short" });
        mentions(list, "jwtSecret", /shorter than 32/, /config rm jwtSecret/);
        assert.ok(!list.join("\n").includes('"short"'));
    });

    it("validates pinnedImages: full image references of catalog apps, each error naming the key", () => {
        mentions(
            problems("dev", { pinnedImages: JSON.stringify({ "cart-service": "not a reference" }) }),
            "pinnedImages.cart-service",
            /must be a full image reference/,
        );
        mentions(
            problems("dev", { pinnedImages: JSON.stringify({ "cart-servce": `r/cart-service@sha256:${"c".repeat(64)}` }) }),
            "pinnedImages.cart-servce",
            /names no app in the catalog/,
        );
        const ref = `registry.example.com:5000/ultramarket/cart-service@sha256:${"c".repeat(64)}`;
        assert.deepEqual(parseConfig(raw("dev", { pinnedImages: JSON.stringify({ "cart-service": ref }) })).images.pinned, {
            "cart-service": ref,
        });
        assert.deepEqual(parseConfig(raw("dev", {})).images.pinned, {});
    });

    it("requires sourceRoot when building images, and that it is a directory", () => {
        mentions(problems("dev", { buildImages: "true" }), "sourceRoot", /required when ultramarket:buildImages is true/);
        mentions(problems("dev", { buildImages: "true", sourceRoot: "./no/such/checkout" }), "sourceRoot", /not a directory/);
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "um-src-"));
        mentions(
            problems("dev", { buildImages: "true", sourceRoot: empty }),
            "sourceRoot",
            /missing microservices\/core\/auth-service\/Dockerfile/,
        );
        const repo = makeAppRepo(CATALOG.map((a) => a.context));
        assert.equal(parseConfig(raw("dev", { buildImages: "true", sourceRoot: repo })).images.sourceRoot, repo);
    });

    it("refuses a kubeconfig path that does not exist", () => {
        mentions(problems("dev", { kubeconfig: "/no/such/kubeconfig" }), "kubeconfig", /does not exist/);
    });

    it("refuses a ReadWriteMany upload volume from the cluster's default class, naming both ways out", () => {
        const refused = (values: Record<string, string>) => {
            try {
                parseConfig({ stack: "staging", values, secretKeys: new Set(SECRET_CONFIG_KEYS), baseDir: REPO_ROOT });
            } catch (e) {
                assert.ok(e instanceof ConfigError);
                return e.problems;
            }
            return [];
        };
        const [problem, ...rest] = refused({});
        assert.deepEqual(rest, []);
        assert.match(problem, /^ultramarket:fileUploadsAccessMode is ReadWriteMany, but the file-uploads volume names no StorageClass/);
        assert.match(problem, /stay Pending/);
        assert.match(problem, /pulumi config set --path storageClasses\.fileUploads <class>/);
        assert.match(problem, /pulumi config set fileUploadsAccessMode ReadWriteOnce/);
        assert.deepEqual(refused({ storageClasses: JSON.stringify({ fileUploads: "efs-sc" }) }), []);
        assert.deepEqual(refused({ storageClass: "shared" }), []);
        assert.deepEqual(refused({ fileUploadsAccessMode: "ReadWriteOnce" }), []);
        // A class for the stores alone still leaves the uploads on the default.
        assert.equal(refused({ storageClasses: JSON.stringify({ postgres: "fast-ssd" }) }).length, 1);
    });

    it("refuses fewer than 2 replicas in production and unknown apps in replicas", () => {
        const list = problems("production", productionValues({ replicas: '{"auth-service":1,"no-such-service":3}' }));
        mentions(list, "replicas.auth-service", /at least 2/);
        mentions(list, "replicas.no-such-service", /names no app/);
    });

    it("refuses values of the wrong type, naming the key and the value", () => {
        const list = problems("dev", {
            buildImages: "yes please",
            rateLimitMax: "many",
            storageSizes: '{"postgres":"lots"}',
            replicas: "{not json",
        });
        mentions(list, "buildImages", /"true" or "false"/, /yes please/);
        mentions(list, "rateLimitMax", /whole number/);
        mentions(list, "storageSizes.postgres", /storage quantity/, /--path storageSizes.postgres/);
        mentions(list, "replicas", /JSON/);
    });

    it("links alerts to an absolute http(s) runbook URL by default, and refuses a relative path naming the key and the command", () => {
        assert.equal(parseConfig(raw("dev", {})).monitoring.runbookBaseUrl, DEFAULT_RUNBOOK_BASE_URL);
        assert.match(DEFAULT_RUNBOOK_BASE_URL, /^https:\/\/.+\/docs\/observability\.md$/);
        assert.equal(
            parseConfig(raw("dev", { runbookBaseUrl: "http://wiki.internal/ultramarket/observability" })).monitoring.runbookBaseUrl,
            "http://wiki.internal/ultramarket/observability",
        );
        for (const bad of [
            "docs/observability.md",
            "/docs/observability.md",
            "ftp://docs.example/observability.md",
            "https://docs.example/observability.md#alerts",
            "https://",
        ]) {
            mentions(
                problems("dev", { runbookBaseUrl: bad }),
                "runbookBaseUrl",
                /absolute http\(s\) URL/,
                /pulumi config set runbookBaseUrl/,
            );
        }
    });

    it("bounds Redis at 75% of its memory limit with volatile-lru unless configured, and refuses bounds and policies Redis would not survive", () => {
        assert.deepEqual(parseConfig(raw("dev", {})).redis, { maxMemoryPercent: 75, evictionPolicy: "volatile-lru" });
        assert.deepEqual(parseConfig(raw("dev", { redisMaxMemoryPercent: "60", redisEvictionPolicy: "allkeys-lfu" })).redis, {
            maxMemoryPercent: 60,
            evictionPolicy: "allkeys-lfu",
        });
        const list = problems("dev", { redisMaxMemoryPercent: "100", redisEvictionPolicy: "lru" });
        mentions(list, "redisMaxMemoryPercent", /at most 90/, /pulumi config set redisMaxMemoryPercent/);
        mentions(list, "redisEvictionPolicy", /volatile-lru/);
    });

    it("names a refused field by the path --path reads, quoted for the shell, and how to set a map's entries", () => {
        mentions(
            problems("dev", { replicas: '{"auth service":0}' }),
            'replicas["auth service"]',
            /at least 1/,
            /pulumi config set --path 'replicas\["auth service"\]' <value>/,
        );
        mentions(
            problems("dev", { workloadPlacement: "{database-backup: {}" }),
            "workloadPlacement",
            /must be JSON \(or set it with --path\) \(got "\{database-backup: \{\}"\)/,
            /pulumi config set workloadPlacement <value>, or one entry at a time: pulumi config set --path workloadPlacement\.<workload>\.nodeSelector\.<label> <value>/,
        );
    });

    it("refuses unknown keys and suggests the intended one", () => {
        mentions(problems("dev", { imagetag: "1.2.3" }), "imagetag", /did you mean ultramarket:imageTag/, /config rm imagetag/);
    });

    it("requires registry username and password together", () => {
        mentions(problems("dev", { registryUsername: "ci" }), "registryUsername", /go together/);
    });

    it("reports every bad key in one error", () => {
        const values = productionValues({ namespace: "BAD", domain: "not a domain", imageTag: "latest" });
        delete values.smtpPassword;
        const list = problems("production", values);
        for (const key of ["namespace", "domain", "imageTag", "smtpPassword"]) mentions(list, key);
        try {
            parseConfig(raw("production", values));
        } catch (e) {
            assert.match((e as Error).message, /Invalid configuration for stack "production" \(4 problems\); nothing was deployed/);
        }
    });

    it("keeps the error's trace and message for anything that prints err.stack (mocha, the ops CLI, util.inspect)", () => {
        const values = productionValues({ imageTag: "latest" });
        let err: unknown;
        try {
            parseConfig(raw("production", values));
        } catch (e) {
            err = e;
        }
        assert.ok(err instanceof ConfigError);
        assert.equal(err.stackName, "production");
        assert.match(String(err.stack), /^ConfigError: Invalid configuration for stack "production"/);
        assert.match(String(err.stack), /ultramarket:imageTag/);
        assert.match(String(err.stack), /\n\s+at /, "the trace (call sites) is missing");
    });

    it("refuses a malformed update id from the environment, naming the variable", () => {
        let err: unknown;
        try {
            parseConfig({ ...raw("production", productionValues()), updateId: "x; rm -rf /" });
        } catch (e) {
            err = e;
        }
        assert.ok(err instanceof ConfigError);
        assert.ok(
            err.problems.some((p) => p.includes("ULTRAMARKET_UPDATE_ID")),
            err.problems.join("\n"),
        );
        assert.equal(
            parseConfig({ ...raw("production", productionValues()), updateId: "deploy-20261127-1a2b" }).verification.updateId,
            "deploy-20261127-1a2b",
        );
    });

    describe("the public edge", () => {
        it("defaults to the Gateway API edge with a per-client API limit and a private admin", () => {
            const cfg = parseConfig(raw("dev", {}));
            assert.equal(cfg.edge.mode, "gateway");
            assert.equal(cfg.edge.apiRateLimitPerMinute, 600);
            assert.deepEqual(cfg.edge.adminAllowedCidrs, [], "nobody, until an allowlist is set");
            assert.deepEqual(cfg.edge.gatewayControllerChart, { repo: "oci://docker.io/envoyproxy", version: "v1.9.1" });
            assert.deepEqual(cfg.warnings, []);
        });

        it("requires the admin allowlist in production, naming the key and the command that sets it", () => {
            const list = problems("production", productionValues({ adminAllowedCidrs: "[]" }));
            mentions(
                list,
                "adminAllowedCidrs",
                /required in the production stack/,
                /admin\.ultramarket\.uz/,
                /pulumi config set --path 'adminAllowedCidrs\[0\]' <cidr>/,
            );
        });

        it("refuses an allowlist that opens admin to the internet, and ranges that are not CIDRs", () => {
            const list = problems("staging", { adminAllowedCidrs: '["10.0.0.0/8","0.0.0.0/0"]' });
            mentions(list, "adminAllowedCidrs[1]", /whole internet/);
            mentions(
                problems("staging", { adminAllowedCidrs: '["10.0.0.300/8"]' }),
                "adminAllowedCidrs[0]",
                /CIDR/,
                /pulumi config set --path 'adminAllowedCidrs\[0\]' <value>/,
            );
            mentions(problems("staging", { rateLimitExemptCidr: "::/0" }), "rateLimitExemptCidr", /every client/);
            mentions(problems("staging", { rateLimitExemptCidr: "load-generator" }), "rateLimitExemptCidr", /CIDR/);
            assert.equal(
                parseConfig(raw("staging", { adminAllowedCidrs: '["2001:db8::/48"]' })).edge.adminAllowedCidrs[0],
                "2001:db8::/48",
            );
        });

        it("warns that ingress-nginx is retired (March 2026) whenever a stack opts into it", () => {
            for (const edge of ["ingress-nginx", "both"]) {
                const cfg = parseConfig(raw("staging", { edge }));
                assert.equal(cfg.warnings.length, 1);
                assert.match(cfg.warnings[0], /retired by Kubernetes SIG Network in March 2026/);
                assert.match(cfg.warnings[0], /pulumi config set edge gateway/);
            }
        });

        it("refuses installing a controller the chosen edge does not use, and unknown edges", () => {
            mentions(problems("staging", { installIngressController: "true" }), "installIngressController", /edge is "gateway"/);
            mentions(
                problems("staging", { edge: "none", installGatewayController: "true" }),
                "installGatewayController",
                /nothing would use Envoy Gateway/,
            );
            mentions(problems("staging", { edge: "traefik" }), "edge");
        });

        it("accepts the local stack without the Gateway API: edge none", () => {
            const cfg = parseConfig(raw("local", { edge: "none", certManager: "false" }));
            assert.equal(cfg.edge.mode, "none");
        });
    });
});
