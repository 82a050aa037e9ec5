// What puts the platform on a small real cluster, as the local stack does on its one real node: workloadPlacement
// (per app or platform workload), storageClasses (per volume), cpuScalePercent and dnsServerCidrs, each validated
// before anything is registered; and the local stack's own lines (Pulumi.local.yaml): everything that has an image on
// the real node runs there, and everything else stays on the simulated nodes.
import { strict as assert } from "assert";
import { ConfigError, parseConfig, SECRET_CONFIG_KEYS } from "../../config";
import { CATALOG } from "../../components/model/catalog";
import { scaleCpu } from "../../components/model/cpu-scale";
import { PLATFORM_WORKLOADS } from "../../components/model/placement";
import { Registration, REPO_ROOT, stackFileConfig, withUploadsChoice } from "./support/harness";
import { evaluatePlatform } from "./support/platform";

const WORKLOAD_TYPES = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"];
const workloads = (regs: Registration[]) => regs.filter((r) => WORKLOAD_TYPES.includes(r.type));
const podSpec = (r: Registration) => r.inputs.spec.template.spec;
const kindName = (r: Registration) => `${r.type.split(":").pop()}/${r.name}`;
const placed = (regs: Registration[]) =>
    workloads(regs)
        .filter((r) => "nodeSelector" in podSpec(r) || "tolerations" in podSpec(r))
        .map(kindName)
        .sort();
const containers = (r: Registration): any[] => [...(podSpec(r).initContainers ?? []), ...podSpec(r).containers];
const POOL = { nodeSelector: { pool: "apps" }, tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }] };

function problems(values: Record<string, string>): string[] {
    try {
        parseConfig({ stack: "dev", values: withUploadsChoice(values), secretKeys: new Set(SECRET_CONFIG_KEYS), baseDir: REPO_ROOT });
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
        return e.problems;
    }
    return assert.fail("expected the configuration to be refused");
}

describe("a platform on a small real cluster", () => {
    let baseline: Registration[];
    before(async () => {
        baseline = (await evaluatePlatform("dev", {})).registrations;
    });

    describe("workloadPlacement", () => {
        it("refuses a name that is no workload, suggesting the intended one, before anything is registered", () => {
            const [problem] = problems({ workloadPlacement: JSON.stringify({ "auth-servce": POOL }) });
            assert.match(
                problem,
                /^ultramarket:workloadPlacement\.auth-servce names no workload \(did you mean workloadPlacement\.auth-service\?/,
            );
            assert.match(problem, /pulumi config rm --path workloadPlacement\.auth-servce/);
            const [bad] = problems({ workloadPlacement: JSON.stringify({ pgbouncer: { tolerations: [{ operator: "Exists" }] } }) });
            assert.match(bad, /^ultramarket:workloadPlacement\.pgbouncer\.tolerations\[0\]\.key is missing/);
        });

        it("places an app's Deployment and its migration Job, and nothing else", async () => {
            const regs = (await evaluatePlatform("dev", { workloadPlacement: JSON.stringify({ "auth-service": POOL }) })).registrations;
            assert.deepEqual(placed(regs), ["Deployment/auth-service", "Job/auth-service-migrate"]);
            for (const r of workloads(regs).filter((w) => w.name.startsWith("auth-service")))
                assert.deepEqual({ nodeSelector: podSpec(r).nodeSelector, tolerations: podSpec(r).tolerations }, POOL);
        });

        for (const name of PLATFORM_WORKLOADS) {
            it(`places ${name}'s pods, and nothing else`, async () => {
                const regs = (await evaluatePlatform("dev", { workloadPlacement: JSON.stringify({ [name]: POOL }) })).registrations;
                assert.deepEqual(
                    placed(regs).map((w) => w.split("/")[1]),
                    [name],
                );
                assert.equal(regs.length, baseline.length);
            });
        }
    });

    describe("storageClasses", () => {
        const claimClass = (regs: Registration[], store: string) =>
            workloads(regs).find((r) => r.type.endsWith("StatefulSet") && r.name === store)!.inputs.spec.volumeClaimTemplates[0].spec
                .storageClassName;

        it("gives a volume its own class, the others storageClass (or the cluster's default)", async () => {
            const regs = (
                await evaluatePlatform("dev", { storageClass: "standard", storageClasses: JSON.stringify({ postgres: "fast-ssd" }) })
            ).registrations;
            assert.equal(claimClass(regs, "postgres"), "fast-ssd");
            for (const store of ["mongodb", "redis", "elasticsearch"]) assert.equal(claimClass(regs, store), "standard", store);
            assert.equal(claimClass(baseline, "postgres"), undefined);
        });

        it("refuses an unknown volume and a name that is no StorageClass, naming the key", () => {
            const list = problems({ storageClasses: JSON.stringify({ postgress: "fast", redis: "Not_A_Class" }) });
            assert.ok(
                list.some((p) => p.startsWith("ultramarket:storageClasses") && p.includes("postgress")),
                list.join("\n"),
            );
            assert.ok(
                list.some((p) => p.startsWith("ultramarket:storageClasses") && /StorageClass name/.test(p)),
                list.join("\n"),
            );
        });
    });

    describe("cpuScalePercent", () => {
        it("scales a CPU quantity to millicores, never below 1m", () => {
            assert.equal(scaleCpu("250m", 15), "38m");
            assert.equal(scaleCpu("1", 15), "150m");
            assert.equal(scaleCpu("0.5", 50), "250m");
            assert.equal(scaleCpu("1m", 1), "1m");
        });

        it("scales every container's CPU request and limit alike, and nothing else", async () => {
            const scaled = (await evaluatePlatform("dev", { cpuScalePercent: "15" })).registrations;
            const before = new Map(baseline.map((r) => [r.urn, r]));
            let seen = 0;
            for (const r of workloads(scaled)) {
                const original = containers(before.get(r.urn)!);
                containers(r).forEach((c, i) => {
                    const o = original[i];
                    assert.equal(c.resources.requests.cpu, scaleCpu(o.resources.requests.cpu, 15), `${kindName(r)} ${c.name}`);
                    assert.equal(c.resources.limits.cpu, scaleCpu(o.resources.limits.cpu, 15), `${kindName(r)} ${c.name}`);
                    assert.deepEqual(
                        {
                            ...c,
                            resources: {
                                ...c.resources,
                                requests: { ...c.resources.requests, cpu: 0 },
                                limits: { ...c.resources.limits, cpu: 0 },
                            },
                        },
                        {
                            ...o,
                            resources: {
                                ...o.resources,
                                requests: { ...o.resources.requests, cpu: 0 },
                                limits: { ...o.resources.limits, cpu: 0 },
                            },
                        },
                    );
                    seen++;
                });
            }
            assert.ok(seen >= 30, `only ${seen} containers`);
            const full = (await evaluatePlatform("dev", { cpuScalePercent: "100" })).registrations;
            assert.deepEqual(
                full.map((r) => r.inputs),
                baseline.map((r) => r.inputs),
            );
        });

        it("refuses a percent outside 1-100, naming the key", () => {
            assert.ok(problems({ cpuScalePercent: "0" }).some((p) => p.startsWith("ultramarket:cpuScalePercent ")));
            assert.ok(problems({ cpuScalePercent: "150" }).some((p) => p.startsWith("ultramarket:cpuScalePercent ")));
        });
    });

    describe("dnsServerCidrs", () => {
        const dnsPeers = (regs: Registration[]) =>
            regs.find((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && r.name === "allow-dns")!.inputs.spec.egress[0]
                .to;

        it("lets every pod reach those DNS servers on port 53 besides the kube-dns pods", async () => {
            const regs = (await evaluatePlatform("dev", { dnsServerCidrs: JSON.stringify(["169.254.20.10/32"]) })).registrations;
            assert.deepEqual(dnsPeers(regs).slice(1), [{ ipBlock: { cidr: "169.254.20.10/32" } }]);
            assert.deepEqual(dnsPeers(regs)[0], dnsPeers(baseline)[0]);
            assert.equal(dnsPeers(baseline).length, 1);
        });

        it("refuses an address that is not a CIDR range, naming the key", () => {
            assert.ok(
                problems({ dnsServerCidrs: JSON.stringify(["169.254.20.10"]) }).some((p) => p.startsWith("ultramarket:dnsServerCidrs")),
            );
        });
    });

    describe("the local stack (Pulumi.local.yaml)", () => {
        let regs: Registration[];
        const REAL = {
            nodeSelector: { "ultramarket.local/node": "real" },
            tolerations: [{ key: "ultramarket.local/real-node", operator: "Exists", effect: "NoSchedule" }],
        };
        before(async () => {
            // The kubeconfig exists only while the local cluster runs; nothing here talks to it.
            const { kubeconfig: _unused, ...local } = stackFileConfig("local");
            regs = (await evaluatePlatform("local", local)).registrations;
        });

        it("runs on the real node everything that has an image there, and only that", () => {
            const runnable = CATALOG.filter((a) => a.enabledByDefault && a.dataStores.every((s) => s === "postgres" || s === "redis"));
            const expected = [
                "StatefulSet/postgres",
                "StatefulSet/redis",
                "Deployment/pgbouncer",
                "Deployment/postgres-exporter",
                "Deployment/redis-exporter",
                "Job/database-users-postgres",
                "Job/database-backup",
                ...runnable.flatMap((a) => [`Deployment/${a.name}`, ...(a.migrations ? [`Job/${a.name}-migrate`] : [])]),
            ].sort();
            assert.deepEqual(placed(regs), expected);
            for (const r of workloads(regs).filter((w) => expected.includes(kindName(w))))
                assert.deepEqual({ nodeSelector: podSpec(r).nodeSelector, tolerations: podSpec(r).tolerations }, REAL, kindName(r));
        });

        it("gives every pod on the real node an image the node has: the app registry's or a stand-in", () => {
            const real = workloads(regs).filter((r) => "nodeSelector" in podSpec(r));
            for (const r of real)
                for (const c of containers(r))
                    assert.match(
                        c.image,
                        /^(127\.0\.0\.1:5001\/ultramarket\/[a-z-]+:|ultramarket\.local\/[a-z-]+:[0-9]+-standin$)/,
                        `${kindName(r)} ${c.name}`,
                    );
        });

        it("keeps PostgreSQL's and Redis's data, and the backups, on the real node's volumes", () => {
            for (const store of ["postgres", "redis"]) {
                const sts = workloads(regs).find((r) => kindName(r) === `StatefulSet/${store}`)!;
                assert.equal(sts.inputs.spec.volumeClaimTemplates[0].spec.storageClassName, "local-node", store);
            }
            const backups = regs.find((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim" && r.name === "database-backups")!;
            assert.equal(backups.inputs.spec.storageClassName, "local-node");
        });

        it("backs up the one database the real node runs, PostgreSQL, with its stand-in's client tools", () => {
            const job = workloads(regs).find((r) => kindName(r) === "Job/database-backup")!;
            assert.deepEqual(
                containers(job).map((c) => [c.name, c.image]),
                [
                    ["dump-postgres", "ultramarket.local/postgres:15-standin"],
                    ["finish", "ultramarket.local/postgres:15-standin"],
                ],
            );
        });
    });
});
