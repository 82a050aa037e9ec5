// Third-party images are configuration: one catalog of defaults (components/model/third-party-images.ts), per-name
// overrides (`thirdPartyImages`) and a mirror (`imageMirror`), validated before anything is registered.
import { strict as assert } from "assert";
import { ConfigError, parseConfig, SECRET_CONFIG_KEYS } from "../../config";
import { isImageReference, isRegistryPrefix, parseImageReference, underRegistry } from "../../config/image-reference";
import { closestName } from "../../config/suggest";
import {
    DEFAULT_THIRD_PARTY_IMAGES,
    THIRD_PARTY_IMAGE_NAMES,
    THIRD_PARTY_IMAGES,
    ThirdPartyImageName,
} from "../../components/model/third-party-images";
import { Registration, REPO_ROOT, runProgram, PRODUCTION_SECRET_VALUES, stackFileConfig, withUploadsChoice } from "./support/harness";
import { evaluatePlatform, evaluateProduction, productionValues } from "./support/platform";

const WORKLOADS = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"];
const KIND = (type: string) => type.split(":").pop()!;

/** Every container of every Deployment, StatefulSet and Job: `Kind/name/container` -> image. */
function containerImages(regs: Registration[]): Map<string, string> {
    const images = new Map<string, string>();
    for (const r of regs.filter((x) => WORKLOADS.includes(x.type))) {
        const pod = r.inputs.spec.template.spec;
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) images.set(`${KIND(r.type)}/${r.name}/${c.name}`, c.image);
    }
    return images;
}

/** The containers each image reaches: the catalog's `usedBy`, spelled out as the rendered objects name them. */
const USES: Record<ThirdPartyImageName, string[]> = {
    postgres: [
        "StatefulSet/postgres/postgres",
        "Job/database-users-postgres/users",
        "Job/database-backup/dump-postgres",
        "Job/database-backup/finish",
        "Job/verify-postgres/check",
    ],
    mongodb: [
        "StatefulSet/mongodb/mongodb",
        "Job/database-users-mongodb/users",
        "Job/database-backup/dump-mongodb",
        "Job/verify-mongodb/check",
    ],
    redis: ["StatefulSet/redis/redis-init", "StatefulSet/redis/redis", "Job/verify-redis/check"],
    elasticsearch: [
        "StatefulSet/elasticsearch/elasticsearch-init",
        "StatefulSet/elasticsearch/elasticsearch",
        "Job/database-users-elasticsearch/users",
        "Job/verify-elasticsearch/check",
    ],
    pgbouncer: ["Deployment/pgbouncer/pgbouncer"],
    "postgres-exporter": ["Deployment/postgres-exporter/postgres-exporter"],
    "mongodb-exporter": ["Deployment/mongodb-exporter/mongodb-exporter"],
    "redis-exporter": ["Deployment/redis-exporter/redis-exporter"],
    "elasticsearch-exporter": ["Deployment/elasticsearch-exporter/elasticsearch-exporter"],
};

const STANDIN = (name: string) => `ultramarket.local/${name}:15-standin`;
const overrides = (images: Partial<Record<string, string>>) => ({ thirdPartyImages: JSON.stringify(images) });

function problems(stack: string, values: Record<string, string>): string[] {
    try {
        parseConfig({
            stack,
            values: withUploadsChoice(values, stack),
            secretKeys: new Set(SECRET_CONFIG_KEYS),
            baseDir: REPO_ROOT,
        });
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
        return e.problems;
    }
    assert.fail("expected the configuration to be refused");
}
const naming = (list: string[], key: string) => {
    const hit = list.find((p) => p.startsWith(`ultramarket:${key} `));
    assert.ok(hit, `no problem names ultramarket:${key}; got:\n${list.join("\n")}`);
    return hit;
};

describe("third-party images", () => {
    describe("the catalog", () => {
        it("keeps production's references exactly as they were", () => {
            assert.deepEqual(DEFAULT_THIRD_PARTY_IMAGES, {
                postgres: "postgres:16.4-alpine",
                mongodb: "mongo:7.0.14",
                redis: "redis:7.4.1-alpine",
                elasticsearch: "docker.elastic.co/elasticsearch/elasticsearch:8.15.3",
                pgbouncer: "ghcr.io/cloudnative-pg/pgbouncer:1.25.2",
                "postgres-exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.20.1",
                "mongodb-exporter": "percona/mongodb_exporter:0.54.0",
                "redis-exporter": "oliver006/redis_exporter:v1.97.0",
                "elasticsearch-exporter": "quay.io/prometheuscommunity/elasticsearch-exporter:v1.11.0",
            });
        });

        it("pins every default to a release and says what runs it", () => {
            for (const name of THIRD_PARTY_IMAGE_NAMES) {
                const ref = parseImageReference(THIRD_PARTY_IMAGES[name].reference);
                assert.ok(ref?.tag && ref.tag !== "latest", name);
                assert.ok(THIRD_PARTY_IMAGES[name].usedBy.includes(name), `${name}: usedBy names the workload`);
            }
        });

        it("gives every default its own repository under a mirror", () => {
            const mirrored = THIRD_PARTY_IMAGE_NAMES.map((n) =>
                underRegistry(parseImageReference(DEFAULT_THIRD_PARTY_IMAGES[n])!, "m.example.com"),
            );
            assert.equal(new Set(mirrored.map((m) => m.split(":")[0])).size, mirrored.length, mirrored.join("\n"));
        });
    });

    describe("image references", () => {
        it("parses registry, repository, tag and digest as Docker does", () => {
            const digest = `sha256:${"0a".repeat(32)}`;
            assert.deepEqual(parseImageReference("postgres:16.4-alpine"), {
                registry: undefined,
                repository: "postgres",
                tag: "16.4-alpine",
                digest: undefined,
            });
            assert.deepEqual(parseImageReference("percona/mongodb_exporter:0.54.0")?.repository, "percona/mongodb_exporter");
            assert.deepEqual(parseImageReference(`localhost:5000/a/b@${digest}`), {
                registry: "localhost:5000",
                repository: "a/b",
                tag: undefined,
                digest,
            });
            assert.deepEqual(parseImageReference(STANDIN("postgres"))?.registry, "ultramarket.local");
            for (const bad of [
                "Postgres:16",
                "postgres:",
                "https://r.example.com/postgres:16",
                "r.example.com/postgres@sha256:abc",
                "postgres:16 ",
                "",
            ])
                assert.equal(isImageReference(bad), false, bad);
        });

        it("moves a default under a mirror, keeping Docker Hub's library/ path, the tag and the digest", () => {
            const m = "registry.example.com/mirror";
            assert.equal(underRegistry(parseImageReference("postgres:16.4-alpine")!, m), `${m}/library/postgres:16.4-alpine`);
            assert.equal(underRegistry(parseImageReference("percona/mongodb_exporter:0.54.0")!, m), `${m}/percona/mongodb_exporter:0.54.0`);
            assert.equal(
                underRegistry(parseImageReference(`quay.io/prometheuscommunity/postgres-exporter:v0.20.1@sha256:${"1".repeat(64)}`)!, m),
                `${m}/prometheuscommunity/postgres-exporter:v0.20.1@sha256:${"1".repeat(64)}`,
            );
            assert.ok(isRegistryPrefix("localhost:5000") && isRegistryPrefix(m));
            for (const bad of ["mirror", "https://registry.example.com", "registry.example.com/", "registry.example.com/Mirror"])
                assert.equal(isRegistryPrefix(bad), false, bad);
        });

        it("suggests the logical name a typo meant", () => {
            assert.equal(closestName("postgresql", THIRD_PARTY_IMAGE_NAMES), "postgres");
            assert.equal(closestName("postgres_exporter", THIRD_PARTY_IMAGE_NAMES), "postgres-exporter");
            assert.equal(closestName("mongo", THIRD_PARTY_IMAGE_NAMES), "mongodb");
            assert.equal(closestName("kafka", THIRD_PARTY_IMAGE_NAMES), undefined);
        });
    });

    describe("validation", () => {
        it("refuses an unknown logical name, suggesting the intended one and the commands that fix it", () => {
            const hit = naming(problems("dev", overrides({ postgresql: STANDIN("postgres") })), "thirdPartyImages.postgresql");
            assert.match(hit, /did you mean thirdPartyImages\.postgres\?/);
            assert.match(
                hit,
                /pulumi config rm --path thirdPartyImages\.postgresql, then pulumi config set --path thirdPartyImages\.postgres <image>/,
            );
        });

        it("refuses a value that is not an image reference, naming the key and the fix", () => {
            const hit = naming(problems("dev", overrides({ redis: "https://registry.example.com/redis:7" })), "thirdPartyImages.redis");
            assert.match(hit, /must be a full image reference/);
            assert.match(hit, /pulumi config set --path thirdPartyImages\.redis <value>/);
            assert.match(
                naming(problems("dev", { thirdPartyImages: "postgres=x" }), "thirdPartyImages"),
                /must be JSON.*\(got "postgres=x"\)/,
            );
        });

        it('refuses "latest" and tagless references in production, and accepts a digest there', () => {
            const list = problems(
                "production",
                productionValues(overrides({ postgres: "registry.example.com/postgres:latest", redis: "registry.example.com/redis" })),
            );
            assert.match(
                naming(list, "thirdPartyImages.postgres"),
                /tagged "latest"; production needs an immutable reference.*pulumi config set --path thirdPartyImages\.postgres/,
            );
            assert.match(naming(list, "thirdPartyImages.redis"), /without a tag or digest/);
            const digest = `registry.example.com/redis@sha256:${"ab".repeat(32)}`;
            const cfg = parseConfig({
                stack: "production",
                values: productionValues(overrides({ redis: digest })),
                secretKeys: new Set(SECRET_CONFIG_KEYS),
                baseDir: REPO_ROOT,
            });
            assert.equal(cfg.thirdPartyImages.redis, digest);
            const dev = parseConfig({
                stack: "dev",
                values: withUploadsChoice(overrides({ redis: "registry.example.com/redis" })),
                secretKeys: new Set(),
                baseDir: REPO_ROOT,
            });
            assert.equal(
                dev.thirdPartyImages.redis,
                "registry.example.com/redis",
                "outside production config accepts it, as imageTag; the policy pack refuses it at preview",
            );
        });

        it("refuses a mirror that is not a registry host", () => {
            for (const bad of ["https://registry.example.com", "mirror"])
                assert.match(
                    naming(problems("dev", { imageMirror: bad }), "imageMirror"),
                    /must be a registry host.*pulumi config set imageMirror <value>/,
                );
        });

        it("stops the program before any resource is registered", async () => {
            const { registrations, error } = await runProgram(
                "production",
                {
                    ...stackFileConfig("production"),
                    ...PRODUCTION_SECRET_VALUES,
                    ...overrides({ pgbouncer: "ghcr.io/cloudnative-pg/pgbouncer:latest" }),
                },
                Object.keys(PRODUCTION_SECRET_VALUES),
            );
            assert.ok(error instanceof Error);
            assert.match(error.message, /ultramarket:thirdPartyImages\.pgbouncer/);
            assert.deepEqual(registrations, []);
        });
    });

    describe("rendered workloads", () => {
        let baseline: Map<string, string>;
        before(async () => {
            baseline = containerImages((await evaluatePlatform("dev", {})).registrations);
        });

        it("runs the catalog's defaults in production, in exactly the containers the catalog lists", async () => {
            const { config, registrations } = await evaluateProduction();
            assert.deepEqual(config.thirdPartyImages, DEFAULT_THIRD_PARTY_IMAGES);
            const images = containerImages(registrations);
            for (const name of THIRD_PARTY_IMAGE_NAMES) {
                const users = [...images].filter(([, image]) => image === DEFAULT_THIRD_PARTY_IMAGES[name]).map(([c]) => c);
                assert.deepEqual(users.sort(), [...USES[name]].sort(), name);
            }
        });

        for (const name of THIRD_PARTY_IMAGE_NAMES) {
            it(`sends an override of ${name} to every container that runs it, and to no other`, async () => {
                const images = containerImages((await evaluatePlatform("dev", overrides({ [name]: STANDIN(name) }))).registrations);
                const changed = [...images].filter(([c, image]) => baseline.get(c) !== image);
                assert.deepEqual(changed.map(([c]) => c).sort(), [...USES[name]].sort());
                assert.ok(changed.every(([, image]) => image === STANDIN(name)));
            });
        }

        it("moves every third-party image under the mirror, and a per-name override wins over it", async () => {
            const mirror = "registry.example.com/mirror";
            const { registrations } = await evaluatePlatform("dev", { imageMirror: mirror, ...overrides({ redis: STANDIN("redis") }) });
            const images = containerImages(registrations);
            const expected: Record<string, string> = {
                "StatefulSet/postgres/postgres": `${mirror}/library/postgres:16.4-alpine`,
                "StatefulSet/mongodb/mongodb": `${mirror}/library/mongo:7.0.14`,
                "StatefulSet/redis/redis": STANDIN("redis"),
                "StatefulSet/elasticsearch/elasticsearch": `${mirror}/elasticsearch/elasticsearch:8.15.3`,
                "Deployment/pgbouncer/pgbouncer": `${mirror}/cloudnative-pg/pgbouncer:1.25.2`,
                "Deployment/postgres-exporter/postgres-exporter": `${mirror}/prometheuscommunity/postgres-exporter:v0.20.1`,
                "Deployment/mongodb-exporter/mongodb-exporter": `${mirror}/percona/mongodb_exporter:0.54.0`,
                "Deployment/redis-exporter/redis-exporter": `${mirror}/oliver006/redis_exporter:v1.97.0`,
                "Deployment/elasticsearch-exporter/elasticsearch-exporter": `${mirror}/prometheuscommunity/elasticsearch-exporter:v1.11.0`,
            };
            for (const [container, image] of Object.entries(expected)) assert.equal(images.get(container), image, container);
            const defaults = Object.values(DEFAULT_THIRD_PARTY_IMAGES);
            assert.ok(![...images.values()].some((i) => defaults.includes(i)), "a default escaped the mirror");
        });
    });
});
