// The stand-in images (scripts/local-images.sh, docs/local-engine.md "Stand-in images") are data about images the
// program runs: their references must be ones `thirdPartyImages` accepts, and their users the uids the program runs
// them as, or the first pod on the real node would fail on a permission rather than on anything it tests.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { thirdPartyImagesConfig } from "../../config/images";
import { DATA_STORE_SPECS } from "../../components/data/stores";
import { CATALOG } from "../../components/model/catalog";
import { EXPORTER_UID } from "../../components/observability/exporters";
import { REPO_ROOT } from "./support/harness";

const read = (...p: string[]) => fs.readFileSync(path.join(REPO_ROOT, ...p), "utf8");
const script = read("scripts", "local-images.sh");
const imageOf = (variable: string) => {
    const m = new RegExp(`^${variable}="([^"]+)"$`, "m").exec(script);
    assert.ok(m, `scripts/local-images.sh sets no ${variable}`);
    return m[1];
};
/** user -> uid, as the base's customize hook fixes them. */
const uids = Object.fromEntries(
    [...read("scripts", "local-images", "base-customize.sh").matchAll(/^remap ([a-z]+) ([0-9]+) /gm)].map((m) => [m[1], Number(m[2])]),
);

describe("stand-in images", () => {
    const overrides = {
        postgres: imageOf("POSTGRES_IMAGE"),
        redis: imageOf("REDIS_IMAGE"),
        pgbouncer: imageOf("PGBOUNCER_IMAGE"),
        "postgres-exporter": imageOf("POSTGRES_EXPORTER_IMAGE"),
        "redis-exporter": imageOf("REDIS_EXPORTER_IMAGE"),
    };

    it("are references thirdPartyImages accepts, in production too", () => {
        for (const production of [false, true]) {
            const problems: string[] = [];
            const images = thirdPartyImagesConfig({ thirdPartyImages: overrides }, production, problems);
            assert.deepEqual(problems, []);
            for (const [name, ref] of Object.entries(overrides)) assert.equal(images[name as keyof typeof overrides], ref);
        }
    });

    it("are the ones docs/local-engine.md tells the local stack to use", () => {
        const docs = read("docs", "local-engine.md");
        for (const [name, ref] of Object.entries(overrides)) assert.ok(docs.includes(`    ${name}: ${ref}\n`), `docs miss ${name}: ${ref}`);
    });

    it("run PostgreSQL and Redis as the uids the StatefulSets ask for", () => {
        assert.equal(uids.postgres, DATA_STORE_SPECS.postgres.uid);
        assert.equal(uids.redis, DATA_STORE_SPECS.redis.uid);
    });

    it("run PgBouncer as the uid its Deployment asks for", () => {
        const m = /const PGBOUNCER_UID = ([0-9]+);/.exec(read("components", "data", "pgbouncer.ts"));
        assert.ok(m);
        assert.equal(uids.pgbouncer, Number(m[1]));
    });

    it("run the exporters as the uid their Deployments ask for, with the packaged binary as the entrypoint", () => {
        for (const [variable, binary] of [
            ["POSTGRES_EXPORTER_CONFIG", "prometheus-postgres-exporter"],
            ["REDIS_EXPORTER_CONFIG", "prometheus-redis-exporter"],
        ]) {
            const config = new RegExp(`^${variable}=\\(([^)]*)\\)`, "m").exec(script);
            assert.ok(config, `scripts/local-images.sh sets no ${variable}`);
            assert.match(config[1], new RegExp(`--config\\.user ${EXPORTER_UID}:${EXPORTER_UID}`), variable);
            assert.match(config[1], new RegExp(`--config\\.entrypoint /usr/bin/${binary}\\b`), variable);
            assert.match(script, new RegExp(`^BASE_PACKAGES=".*\\b${binary}\\b`, "m"), `the base does not install ${binary}`);
        }
    });

    it("give the app image the uid of the catalog's services", () => {
        const serviceUids = new Set(CATALOG.filter((a) => a.group !== "frontend").map((a) => a.runAsUser));
        assert.deepEqual([...serviceUids], [uids.node]);
        assert.match(script, new RegExp(`--config\\.user ${uids.node}:${uids.node}`));
    });
});
