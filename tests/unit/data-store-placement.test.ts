// Data-store placement is configuration (`ultramarket:dataStorePlacement`): per store a nodeSelector and tolerations,
// validated before anything is registered, reaching that store's StatefulSet pods and nothing else.
import { strict as assert } from "assert";
import { ConfigError, parseConfig, SECRET_CONFIG_KEYS } from "../../config";
import { configPath } from "../../config/problems";
import { DATA_STORES } from "../../components/model/placement";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { createPolicies } from "../../policies/rules";
import { PRODUCTION_SECRET_VALUES, withUploadsChoice, Registration, REPO_ROOT, runProgram, stackFileConfig } from "./support/harness";
import { evaluatePlatform, evaluateProduction, productionValues } from "./support/platform";
import { validateResource, validateStack } from "./policies/harness";

const placement = (value: unknown) => ({ dataStorePlacement: JSON.stringify(value) });
/** The README's dedicated database node pool. */
const DATABASE_POOL = {
    nodeSelector: { "node-pool": "databases" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "databases", effect: "NoSchedule" }],
};

function problems(values: Record<string, string>, stack = "dev"): string[] {
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
const parsed = (values: Record<string, string>) =>
    parseConfig({ stack: "dev", values: withUploadsChoice(values), secretKeys: new Set(SECRET_CONFIG_KEYS), baseDir: REPO_ROOT })
        .dataStorePlacement;

const POD_WORKLOADS = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"];
const podSpec = (r: Registration) => r.inputs.spec.template.spec;
const byUrn = (regs: Registration[]) => new Map(regs.map((r) => [r.urn, r]));
/** The workloads whose pod spec carries a nodeSelector or tolerations: `Kind/name`. */
const placedWorkloads = (regs: Registration[]) =>
    regs
        .filter((r) => POD_WORKLOADS.includes(r.type) && ("nodeSelector" in podSpec(r) || "tolerations" in podSpec(r)))
        .map((r) => `${r.type.split(":").pop()}/${r.name}`)
        .sort();

describe("data-store placement", () => {
    describe("validation", () => {
        it("accepts a dedicated node pool, reading YAML booleans and numbers as the label values they were typed as", () => {
            assert.deepEqual(parsed(placement({ postgres: DATABASE_POOL })), { postgres: DATABASE_POOL });
            // `pulumi config set --path ... true` stores a boolean, and `... 2` a number.
            assert.deepEqual(
                parsed(
                    placement({
                        redis: {
                            nodeSelector: { ssd: true, generation: 2 },
                            tolerations: [{ key: "ultramarket.local/real-node", operator: "Equal", value: true, effect: "NoSchedule" }],
                        },
                        mongodb: {
                            tolerations: [
                                { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: "30" },
                            ],
                        },
                    }),
                ),
                {
                    redis: {
                        nodeSelector: { ssd: "true", generation: "2" },
                        tolerations: [{ key: "ultramarket.local/real-node", operator: "Equal", value: "true", effect: "NoSchedule" }],
                    },
                    mongodb: {
                        tolerations: [
                            { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 },
                        ],
                    },
                },
            );
            assert.deepEqual(parsed({}), {});
        });

        it("refuses an unknown data store, suggesting the intended one and the commands that fix it", () => {
            const hit = naming(problems(placement({ postgresql: DATABASE_POOL })), "dataStorePlacement.postgresql");
            assert.match(hit, /did you mean dataStorePlacement\.postgres\?/);
            assert.match(hit, /known: postgres, mongodb, redis, elasticsearch/);
            assert.match(
                hit,
                /remove it with: pulumi config rm --path dataStorePlacement\.postgresql, and set it under dataStorePlacement\.postgres/,
            );
            assert.match(
                naming(problems(placement({ mongo: {} })), "dataStorePlacement.mongo"),
                /did you mean dataStorePlacement\.mongodb\?/,
            );
            assert.doesNotMatch(naming(problems(placement({ kafka: {} })), "dataStorePlacement.kafka"), /did you mean/);
        });

        it("refuses node labels that are not Kubernetes label syntax, naming the exact --path", () => {
            const list = problems(
                placement({
                    postgres: {
                        nodeSelector: { "Node Pool": "databases", "example.com/pool": "db pool", "Example.com/x": "y", "a/b/c": "d" },
                    },
                    redis: { nodeSelector: { "node-pool": "x".repeat(64), tier: ["a"] } },
                }),
            );
            assert.match(
                naming(list, 'dataStorePlacement.postgres.nodeSelector["Node Pool"]'),
                /not a node label key: its name "Node Pool" must be 1-63 letters.*pulumi config rm --path 'dataStorePlacement\.postgres\.nodeSelector\["Node Pool"\]'/,
            );
            assert.match(
                naming(list, 'dataStorePlacement.postgres.nodeSelector["example.com/pool"]'),
                /is "db pool", not a label value.*pulumi config set --path 'dataStorePlacement\.postgres\.nodeSelector\["example\.com\/pool"\]' <value>/,
            );
            assert.match(
                naming(list, 'dataStorePlacement.postgres.nodeSelector["Example.com/x"]'),
                /prefix "Example\.com" is not a DNS subdomain/,
            );
            naming(list, 'dataStorePlacement.postgres.nodeSelector["a/b/c"]');
            assert.match(naming(list, "dataStorePlacement.redis.nodeSelector.node-pool"), /at most 63/);
            assert.match(naming(list, "dataStorePlacement.redis.nodeSelector.tier"), /must be a single value/);
            assert.equal(list.length, 6, list.join("\n"));
        });

        it("refuses tolerations Kubernetes would refuse or misread, each naming its field and the fix", () => {
            const at = (i: number, field: string) => `dataStorePlacement.elasticsearch.tolerations[${i}].${field}`;
            const list = problems(
                placement({
                    elasticsearch: {
                        tolerations: [
                            { key: "dedicated", operator: "Exists", value: "databases", effect: "NoSchedule" },
                            { key: "dedicated", operator: "Equal", value: "databases", effect: "NoSchedul" },
                            { key: "dedicated", operator: "In", value: "databases" },
                            { operator: "Exists" },
                            { key: "dedicated", operator: "Equal", value: "databases", effect: "NoSchedule", tolerationSeconds: 60 },
                            { key: "dedicated", operator: "Exists", effect: "NoExecute", tolerationSeconds: -1 },
                            { key: "dedicated", operator: "Exists", effects: "NoSchedule" },
                            { key: "-dedicated", value: "x y" },
                        ],
                    },
                }),
            );
            assert.match(
                naming(list, at(0, "value")),
                /operator Exists matches any value of the taint; remove it \(pulumi config rm --path 'dataStorePlacement\.elasticsearch\.tolerations\[0\]\.value'\) or set pulumi config set --path '.*\[0\]\.operator' Equal/,
            );
            assert.match(naming(list, at(1, "effect")), /"NoSchedul", not a taint effect \(NoSchedule, PreferNoSchedule, NoExecute/);
            assert.match(
                naming(list, at(1, "effect")),
                /pulumi config set --path 'dataStorePlacement\.elasticsearch\.tolerations\[1\]\.effect' NoSchedule/,
            );
            assert.match(naming(list, at(2, "operator")), /is "In"; it must be Equal .* or Exists/);
            assert.match(naming(list, at(3, "key")), /is missing \(a toleration without a key would tolerate every taint/);
            assert.match(naming(list, at(4, "tolerationSeconds")), /applies only with effect NoExecute/);
            assert.match(naming(list, at(5, "tolerationSeconds")), /not a whole number of seconds/);
            assert.match(
                naming(list, at(6, "effects")),
                /is not a toleration field \(did you mean effect\?.*pulumi config rm --path '.*\[6\]\.effects'/,
            );
            assert.match(naming(list, at(7, "operator")), /is missing/);
            assert.match(naming(list, at(7, "key")), /not a taint key/);
            assert.match(naming(list, at(7, "value")), /not a taint value/);
            assert.equal(list.length, 10, list.join("\n"));
        });

        it("refuses values of the wrong shape and unknown placement fields", () => {
            assert.match(
                naming(problems({ dataStorePlacement: "postgres=databases" }), "dataStorePlacement"),
                /must be JSON \(or set it with --path\)/,
            );
            assert.match(naming(problems(placement(["postgres"])), "dataStorePlacement"), /must be a map of data store/);
            const list = problems(
                placement({
                    postgres: "databases",
                    redis: { nodeSelectors: { a: "b" } },
                    mongodb: { nodeSelector: ["a"], tolerations: { key: "a" } },
                }),
            );
            assert.match(naming(list, "dataStorePlacement.postgres"), /must be a map with nodeSelector and\/or tolerations/);
            assert.match(naming(list, "dataStorePlacement.redis.nodeSelectors"), /did you mean nodeSelector\?/);
            assert.match(naming(list, "dataStorePlacement.mongodb.nodeSelector"), /must be a map of node label -> value/);
            assert.match(naming(list, "dataStorePlacement.mongodb.tolerations"), /must be a list of tolerations.*tolerations\[0\]\.key/);
        });

        it("knows every data store the platform runs", () => {
            assert.deepEqual([...DATA_STORES].sort(), [...DATA_STORE_NAMES].sort());
        });

        it("writes paths the way pulumi config set --path reads them", () => {
            assert.equal(
                configPath(["dataStorePlacement", "postgres", "nodeSelector", "node-pool"]),
                "dataStorePlacement.postgres.nodeSelector.node-pool",
            );
            assert.equal(configPath(["a", "nodeSelector", "kubernetes.io/hostname"]), 'a.nodeSelector["kubernetes.io/hostname"]');
            assert.equal(configPath(["a", "tolerations", 0, "key"]), "a.tolerations[0].key");
        });

        it("stops the program before any resource is registered", async () => {
            const { registrations, error } = await runProgram(
                "production",
                {
                    ...stackFileConfig("production"),
                    ...PRODUCTION_SECRET_VALUES,
                    ...placement({ postgres: { tolerations: [{ key: "dedicated", operator: "Exists", value: "databases" }] } }),
                },
                Object.keys(PRODUCTION_SECRET_VALUES),
            );
            assert.ok(error instanceof Error);
            assert.match(error.message, /ultramarket:dataStorePlacement\.postgres\.tolerations\[0\]\.value/);
            assert.deepEqual(registrations, []);
        });
    });

    describe("rendered workloads", () => {
        let baseline: Registration[];
        before(async () => {
            baseline = (await evaluatePlatform("dev", {})).registrations;
        });

        it("sets no nodeSelector or tolerations on any pod by default, in production or elsewhere", async () => {
            assert.deepEqual(placedWorkloads(baseline), []);
            assert.deepEqual(placedWorkloads((await evaluateProduction()).registrations), []);
            const empty = (await evaluatePlatform("dev", placement({}))).registrations;
            assert.deepEqual(
                empty.map((r) => [r.urn, r.inputs]),
                baseline.map((r) => [r.urn, r.inputs]),
            );
        });

        for (const store of DATA_STORES) {
            it(`places ${store}'s StatefulSet pods, and changes nothing else`, async () => {
                const placed = (await evaluatePlatform("dev", placement({ [store]: DATABASE_POOL }))).registrations;
                assert.deepEqual(placedWorkloads(placed), [`StatefulSet/${store}`]);
                const before = byUrn(baseline);
                const changed = placed.filter((r) => JSON.stringify(r.inputs) !== JSON.stringify(before.get(r.urn)?.inputs));
                assert.deepEqual(
                    changed.map((r) => r.name),
                    [store],
                );
                const { nodeSelector, tolerations, ...rest } = podSpec(changed[0]);
                assert.deepEqual({ nodeSelector, tolerations }, DATABASE_POOL);
                assert.deepEqual(rest, podSpec(before.get(changed[0].urn)!), "the rest of the pod spec is unchanged");
                assert.equal(placed.length, baseline.length);
            });
        }
    });

    describe("the policy pack", () => {
        it("has no finding on placed stores, at any level", async () => {
            const everyStore = Object.fromEntries(DATA_STORES.map((s) => [s, DATABASE_POOL]));
            const { registrations } = await evaluatePlatform("production", productionValues(placement(everyStore)));
            const resources = registrations
                .filter((r) => r.custom && r.type.startsWith("kubernetes:"))
                .map((r) => ({ type: r.type, name: r.name, props: r.inputs, opts: { protect: r.protect } }));
            assert.deepEqual(placedWorkloads(registrations).length, DATA_STORES.length);
            const findings: string[] = [];
            for (const p of createPolicies({ stackName: () => "production" })) {
                if ("validateStack" in p) findings.push(...(await validateStack(p, resources)).violations.map((m) => `${p.name}: ${m}`));
                else
                    for (const r of resources.filter((x) => x.type === "kubernetes:apps/v1:StatefulSet"))
                        findings.push(...(await validateResource(p, r)).violations.map((m) => `${p.name}: ${m}`));
            }
            assert.deepEqual(findings, []);
        });
    });
});
