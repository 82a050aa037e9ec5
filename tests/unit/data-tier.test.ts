// Issue 14's data tier: bounded stores, secrets off every command line, startup probes, bounded scratch space.
import { strict as assert } from "assert";
import { SECRET_KEYS } from "../../components/model/catalog";
import { DATA_STORE_NAMES, quantityBytes } from "../../components/data/stores";
import { MIGRATION_HOME } from "../../components/apps/microservice";
import { generatedValue, named, PRODUCTION_SECRET_VALUES, Registration } from "./support/harness";
import { STS } from "./support/kinds";
import { evaluateProduction } from "./support/platform";

const POD_KINDS = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"];
const podOf = (r: Registration) => r.inputs.spec.template.spec;
const containersOf = (r: Registration): any[] => [...(podOf(r).initContainers ?? []), ...podOf(r).containers];
const workloads = (regs: Registration[]) => regs.filter((r) => POD_KINDS.includes(r.type));
const ref = (r: Registration, c: any) => `${r.type.split(":").pop()}/${r.inputs.metadata.name ?? r.name} ${c.name}`;

/** Every command line a container starts: its command and args, and its probes' exec commands. */
function commandLines(c: any): string[] {
    const probes = [c.startupProbe, c.readinessProbe, c.livenessProbe].flatMap((p) => p?.exec?.command ?? []);
    return [...(c.command ?? []), ...(c.args ?? []), ...probes];
}

/** `$(NAME)` (expanded by the kubelet), `$NAME` or `${NAME}` (expanded by a shell): the value lands in some argv. */
const expands = (name: string) => new RegExp(`\\$[({]?${name}\\b`);

const redisArgs = (regs: Registration[]) => podOf(named(regs, STS, "redis")).containers[0].command as string[];
const flag = (argv: string[], name: string) => argv[argv.indexOf(name) + 1];

describe("data tier (issue 14): bounded and robust stores", () => {
    let regs: Registration[];
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
    });

    it("puts no secret on any command line: no container, init container or probe expands a secret variable", () => {
        const checked = workloads(regs).flatMap((r) => containersOf(r).map((c) => ({ r, c })));
        assert.ok(checked.length > 20);
        for (const { r, c } of checked) {
            const secretEnv = (c.env ?? []).filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.name);
            const argv = commandLines(c).join(" ");
            for (const name of [...secretEnv, ...SECRET_KEYS])
                assert.doesNotMatch(argv, expands(name), `${ref(r, c)} expands ${name} on a command line`);
            assert.doesNotMatch(argv, /--requirepass|-u\s+"?elastic:|--pass(word)?[\s=]/, ref(r, c));
            for (const value of [
                ...Object.values(PRODUCTION_SECRET_VALUES),
                generatedValue("redis-password"),
                generatedValue("elasticsearch-password"),
            ]) {
                assert.ok(!argv.includes(value), `${ref(r, c)} carries a secret value`);
            }
        }
    });

    it("runs Redis with maxmemory at 75% of its 1Gi memory limit, in bytes, and the volatile-lru eviction policy", () => {
        const redis = podOf(named(regs, STS, "redis")).containers[0];
        assert.equal(redis.resources.limits.memory, "1Gi");
        assert.equal(flag(redisArgs(regs), "--maxmemory"), String(0.75 * 1024 ** 3));
        assert.equal(flag(redisArgs(regs), "--maxmemory-policy"), "volatile-lru");
    });

    it("takes Redis's bound and eviction policy from config", async () => {
        const { registrations } = await evaluateProduction({ redisMaxMemoryPercent: "50", redisEvictionPolicy: "allkeys-lru" });
        assert.equal(flag(redisArgs(registrations), "--maxmemory"), String(512 * 1024 ** 2));
        assert.equal(flag(redisArgs(registrations), "--maxmemory-policy"), "allkeys-lru");
    });

    it("has Redis read its password from a file its init step writes (0600) from the Secret, and probe with REDISCLI_AUTH", () => {
        const pod = podOf(named(regs, STS, "redis"));
        const [init] = pod.initContainers;
        const main = pod.containers[0];
        const authFile = redisArgs(regs)[1];
        assert.equal(redisArgs(regs)[0], "redis-server");
        assert.match(authFile, /^\/.*\.conf$/);
        const script = init.command.join(" ");
        assert.match(script, /umask 077/);
        assert.match(script, new RegExp(`requirepass .*> ${authFile}$`));
        assert.deepEqual(
            init.env.map((e: any) => [e.name, e.valueFrom.secretKeyRef.key]),
            [["REDIS_PASSWORD", "REDIS_PASSWORD"]],
        );
        const dir = authFile.slice(0, authFile.lastIndexOf("/"));
        const volumeAt = (c: any) => c.volumeMounts.find((m: any) => m.mountPath === dir)?.name;
        assert.ok(volumeAt(init) && volumeAt(init) === volumeAt(main), "the init step and Redis share the file's directory");
        assert.ok(
            pod.volumes.find((v: any) => v.name === volumeAt(main)).emptyDir,
            "the password file lives in an emptyDir, never on the data volume",
        );
        assert.deepEqual(
            main.env.map((e: any) => e.name),
            ["REDISCLI_AUTH"],
        );
        for (const p of [main.startupProbe, main.readinessProbe, main.livenessProbe])
            assert.match(p.exec.command.join(" "), /redis-cli ping/);
    });

    it("has Elasticsearch's probes and verification check authenticate through curl's stdin, never -u on argv", () => {
        const es = podOf(named(regs, STS, "elasticsearch")).containers[0];
        for (const p of [es.startupProbe, es.readinessProbe, es.livenessProbe]) {
            assert.match(
                p.exec.command[2],
                /ENVIRON\["ELASTIC_PASSWORD"\].*\| curl -fsS -K - "http:\/\/127\.0\.0\.1:9200\/_cluster\/health/,
            );
        }
        const check = podOf(named(regs, "kubernetes:batch/v1:Job", "verify-elasticsearch")).containers[0];
        assert.match(
            check.command[2],
            /ENVIRON\["ELASTIC_PASSWORD"\].*\| curl -fsS -K - "http:\/\/\$DATASTORE_HOST:\$DATASTORE_PORT\/_cluster\/health/,
        );
    });

    it("gives every store a startup probe of at least 10 minutes, so liveness never kills a store still recovering", () => {
        for (const store of DATA_STORE_NAMES) {
            const c = podOf(named(regs, STS, store)).containers[0];
            assert.ok(c.startupProbe, `${store} has no startup probe`);
            assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 600, store);
            assert.deepEqual(c.startupProbe.exec, c.livenessProbe.exec, `${store}: the startup probe waits for what liveness checks`);
            assert.equal(c.livenessProbe.initialDelaySeconds, undefined, `${store}: the startup probe replaces a fixed delay`);
        }
    });

    it("keeps each StatefulSet's immutable fields as live stacks have them (the update stays in place)", () => {
        for (const store of DATA_STORE_NAMES) {
            const spec = named(regs, STS, store).inputs.spec;
            assert.equal(spec.serviceName, `${store}-service`);
            assert.equal(spec.podManagementPolicy, undefined);
            assert.deepEqual(spec.selector, {
                matchLabels: { "app.kubernetes.io/name": store, "app.kubernetes.io/part-of": "ultramarket" },
            });
            assert.deepEqual(
                spec.volumeClaimTemplates.map((t: any) => ({
                    name: t.metadata.name,
                    accessModes: t.spec.accessModes,
                    keys: Object.keys(t.spec).sort(),
                })),
                [{ name: "data", accessModes: ["ReadWriteOnce"], keys: ["accessModes", "resources", "storageClassName"] }],
            );
        }
    });

    it("bounds every emptyDir with a sizeLimit and gives every container and init container an ephemeral-storage request and limit", () => {
        for (const r of workloads(regs)) {
            for (const v of (podOf(r).volumes ?? []).filter((x: any) => x.emptyDir))
                assert.ok(v.emptyDir.sizeLimit, `${r.name} volume ${v.name} is unbounded`);
            for (const c of containersOf(r)) {
                assert.ok(c.resources.requests["ephemeral-storage"], `${ref(r, c)} has no ephemeral-storage request`);
                assert.ok(c.resources.limits["ephemeral-storage"], `${ref(r, c)} has no ephemeral-storage limit`);
            }
        }
    });

    it("sizes each pod's ephemeral storage above its scratch volumes plus logs, so the limit never cuts a volume short", () => {
        const LOGS = 64 * 1024 ** 2;
        for (const r of workloads(regs)) {
            const scratch = (podOf(r).volumes ?? [])
                .filter((x: any) => x.emptyDir)
                .reduce((n: number, v: any) => n + quantityBytes(v.emptyDir.sizeLimit), 0);
            const limit = podOf(r).containers.reduce((n: number, c: any) => n + quantityBytes(c.resources.limits["ephemeral-storage"]), 0);
            assert.ok(limit >= scratch + LOGS, `${r.name}: ephemeral-storage limit ${limit} < scratch ${scratch} + logs`);
        }
    });

    it("gives migration Jobs a writable HOME for npm on their read-only root filesystem", () => {
        const jobs = workloads(regs).filter((r) => r.inputs.metadata.labels?.["app.kubernetes.io/component"] === "migration");
        assert.ok(jobs.length >= 2);
        for (const job of jobs) {
            const pod = podOf(job);
            const c = pod.containers[0];
            assert.deepEqual(c.command, ["npm", "run", "migrate"]);
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
            const home = c.env.find((e: any) => e.name === "HOME");
            assert.equal(home?.value, MIGRATION_HOME.path, job.name);
            const mount = c.volumeMounts.find((m: any) => m.mountPath === home.value);
            assert.ok(mount, `${job.name}: nothing is mounted at HOME`);
            assert.ok(pod.volumes.find((v: any) => v.name === mount.name).emptyDir.sizeLimit, job.name);
        }
    });
});
