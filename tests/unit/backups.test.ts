// Issue 14, item 5: a backup of the databases before every migration, on a retained volume, named after what triggered it.
import { strict as assert } from "assert";
import { DATA_STORE_PASSWORD_KEY, PLATFORM_SECRET_NAME, SECRET_KEYS } from "../../components/model/catalog";
import { BACKUP_DIR, BACKUP_VOLUME } from "../../components/data/backup-jobs";
import { BACKUP_TRIGGER_ANNOTATION } from "../../components/data/backups";
import { restoreJob } from "../../ops/restore/backups";
import { REPLACE_UNREADY } from "../../components/model/rollout";
import { ConfigError, parseConfig, SECRET_CONFIG_KEYS } from "../../config";
import { asKubeletRuns, generatedValue, named, PRODUCTION_SECRET_VALUES, Registration, REPO_ROOT } from "./support/harness";
import { CM, JOB, NP, PVC, STS } from "./support/kinds";
import { evaluatePlatform, evaluateProduction, productionValues } from "./support/platform";
import { DEFAULT_THIRD_PARTY_IMAGES } from "../../components/model/third-party-images";

const backupJob = (regs: Registration[]) => regs.find((r) => r.type === JOB && r.name === "database-backup");
const podOf = (r: Registration) => r.inputs.spec.template.spec;
const stepsOf = (r: Registration): any[] => [...(podOf(r).initContainers ?? []), ...podOf(r).containers];
const migrationJobs = (regs: Registration[]) =>
    regs.filter((r) => r.type === JOB && r.inputs.metadata.labels["app.kubernetes.io/component"] === "migration");
const selected = (policy: Registration, rule: "ingress" | "egress") =>
    (policy.inputs.spec[rule] ?? []).flatMap((r: any) =>
        (r.from ?? r.to).map((p: any) => p.podSelector?.matchLabels["app.kubernetes.io/name"]),
    );

describe("backups before migrations (issue 14)", () => {
    let regs: Registration[];
    let job: Registration;
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
        job = backupJob(regs)!;
    });

    it("runs a backup Job in production, and every migration Job waits for it, so a failed backup stops the migrations and the rollout", () => {
        assert.ok(job, "no database-backup Job in the production stack");
        const migrations = migrationJobs(regs);
        assert.deepEqual(migrations.map((m) => m.name).sort(), ["auth-service-migrate", "user-service-migrate"]);
        for (const m of migrations) assert.ok(m.dependencies.includes(job.urn), `${m.name} does not wait for the backup`);
        for (const store of ["postgres", "mongodb"])
            assert.ok(job.dependencies.includes(named(regs, STS, store).urn), `the backup does not wait for ${store}`);
    });

    it("dumps PostgreSQL with pg_dump -Fc and MongoDB with mongodump --archive --gzip, with the stores' own images, one after the other", () => {
        const steps = stepsOf(job);
        assert.deepEqual(
            steps.map((c) => [c.name, c.image]),
            [
                ["dump-postgres", named(regs, STS, "postgres").inputs.spec.template.spec.containers[0].image],
                ["dump-mongodb", named(regs, STS, "mongodb").inputs.spec.template.spec.containers[0].image],
                ["finish", "postgres:16.4-alpine"],
            ],
        );
        assert.match(asKubeletRuns(steps[0].command).join(" "), /pg_dump -Fc -d ultramarket -f "\$partial"/);
        assert.match(asKubeletRuns(steps[1].command).join(" "), /mongodump .*--db ultramarket --archive="\$partial" --gzip/);
    });

    it("reads the superuser passwords only through secretKeyRefs to the platform Secret, never on a command line", () => {
        const steps = stepsOf(job);
        const secretEnv = (c: any) =>
            c.env
                .filter((e: any) => e.valueFrom?.secretKeyRef)
                .map((e: any) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]);
        assert.deepEqual(secretEnv(steps[0]), [["PGPASSWORD", PLATFORM_SECRET_NAME, DATA_STORE_PASSWORD_KEY.postgres]]);
        assert.deepEqual(secretEnv(steps[1]), [["MONGODB_PASSWORD", PLATFORM_SECRET_NAME, DATA_STORE_PASSWORD_KEY.mongodb]]);
        assert.deepEqual(secretEnv(steps[2]), [], "the finishing step connects to nothing and gets no password");
        for (const c of steps) {
            assert.ok(
                c.env.every((e: any) => e.valueFrom || !/PASSWORD/.test(e.name)),
                `${c.name} has a literal password variable`,
            );
            const argv = c.command.join(" ");
            for (const name of [...SECRET_KEYS, "PGPASSWORD"])
                assert.doesNotMatch(argv, new RegExp(`\\$[({]?${name}\\b`), `${c.name} expands ${name} on its command line`);
            assert.doesNotMatch(argv, /--pass(word)?[\s=]|-p\s+\S*assword/, c.name);
        }
        // mongodump reads it from a 0600 file written from its environment.
        assert.match(
            asKubeletRuns(stepsOf(job)[1].command).join(" "),
            /\(umask 077 && awk .*ENVIRON\["MONGODB_PASSWORD"\].*> \/run\/backup\/mongo\.yaml\).*--config \/run\/backup\/mongo\.yaml/,
        );
        const text = JSON.stringify(job.inputs);
        for (const value of [
            ...Object.values(PRODUCTION_SECRET_VALUES),
            generatedValue("postgres-password"),
            generatedValue("mongodb-password"),
        ])
            assert.ok(!text.includes(value), "a secret value is in the Job");
    });

    it("writes to the database-backups volume, which is protected, retained and sized from config", async () => {
        const pvc = named(regs, PVC, BACKUP_VOLUME);
        assert.equal(pvc.protect, true, "the backup volume is not protected");
        assert.equal(pvc.inputs.spec.resources.requests.storage, "50Gi");
        assert.deepEqual(pvc.inputs.spec.accessModes, ["ReadWriteOnce"]);
        const volume = podOf(job).volumes.find((v: any) => v.persistentVolumeClaim);
        assert.equal(volume.persistentVolumeClaim.claimName, BACKUP_VOLUME);
        for (const c of stepsOf(job))
            assert.ok(
                c.volumeMounts.some((m: any) => m.name === volume.name && m.mountPath === BACKUP_DIR && !m.readOnly),
                c.name,
            );
        const resized = await evaluateProduction({ storageSizes: JSON.stringify({ backups: "200Gi" }) });
        assert.equal(named(resized.registrations, PVC, BACKUP_VOLUME).inputs.spec.resources.requests.storage, "200Gi");
        const unprotected = await evaluateProduction({ protectData: "false" });
        assert.equal(named(unprotected.registrations, PVC, BACKUP_VOLUME).protect, false);
    });

    it("keeps the newest backupRetention backups (default 7), read from a ConfigMap when the Job runs", async () => {
        assert.equal(named(regs, CM, "database-backups").inputs.data.retention, "7");
        const finish = stepsOf(job)[2];
        assert.deepEqual(finish.env.find((e: any) => e.name === "BACKUP_RETENTION").valueFrom.configMapKeyRef, {
            name: "database-backups",
            key: "retention",
        });
        assert.match(asKubeletRuns(finish.command).join(" "), /tail -n \+\$\(\(BACKUP_RETENTION \+ 1\)\)/);
        const three = await evaluateProduction({ backupRetention: "3" });
        assert.equal(named(three.registrations, CM, "database-backups").inputs.data.retention, "3");
        assert.deepEqual(backupJob(three.registrations)!.inputs, job.inputs, "a retention change re-runs the backup");
    });

    it("takes a new backup when a migrating app's image changes, and not for a setting, a secret or another app's image", async () => {
        const render = async (overrides: Record<string, string>) => backupJob((await evaluateProduction(overrides)).registrations)!.inputs;
        const trigger = (inputs: any) => inputs.spec.template.metadata.annotations[BACKUP_TRIGGER_ANNOTATION];
        assert.match(trigger(job.inputs), /^[0-9a-f]{10}$/);
        const authUpgrade = await render({ serviceImageTags: JSON.stringify({ "auth-service": "1.0.1" }) });
        assert.notEqual(trigger(authUpgrade), trigger(job.inputs), "an auth-service image change does not re-run the backup");
        assert.match(JSON.stringify(authUpgrade), /auth-service:1\.0\.1/);
        const unrelated: Record<string, string>[] = [
            { logLevel: "debug" },
            { rateLimitMax: "250" },
            { postgresPassword: "a-new-postgres-password-0123456789" },
            { serviceImageTags: JSON.stringify({ "cart-service": "1.0.1" }) },
        ];
        for (const overrides of unrelated) {
            assert.deepEqual(await render(overrides), job.inputs, `${JSON.stringify(overrides)} re-runs the backup`);
        }
    });

    it("is retried by the next up when it failed (replaceUnready), and awaited", () => {
        assert.deepEqual(job.inputs.metadata.annotations, REPLACE_UNREADY);
        assert.equal(job.inputs.metadata.name, undefined, "a fixed name could not be replaced create-before-delete");
        assert.ok(job.inputs.spec.activeDeadlineSeconds > 0 && job.inputs.spec.backoffLimit >= 1);
    });

    it("runs under the restricted Pod Security standard with a read-only root filesystem and bounded scratch space", () => {
        const pod = podOf(job);
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        assert.equal(pod.automountServiceAccountToken, false);
        for (const c of stepsOf(job)) {
            const sc = c.securityContext;
            assert.ok(
                sc.readOnlyRootFilesystem &&
                    sc.allowPrivilegeEscalation === false &&
                    sc.capabilities.drop.includes("ALL") &&
                    sc.runAsUser > 0,
                c.name,
            );
            for (const kind of ["requests", "limits"])
                for (const r of ["cpu", "memory", "ephemeral-storage"]) assert.ok(c.resources[kind][r], `${c.name} ${kind}.${r}`);
        }
        const scratch = pod.volumes.filter((v: any) => v.emptyDir);
        assert.ok(scratch.length >= 1 && scratch.every((v: any) => v.emptyDir.sizeLimit), "an emptyDir without sizeLimit");
    });

    it("lets the backup and restore pods reach PostgreSQL and MongoDB only, and the stores admit them", () => {
        for (const name of ["database-backup", "database-restore"]) {
            const policy = named(regs, NP, `allow-${name}`);
            assert.deepEqual(selected(policy, "egress").sort(), ["mongodb", "postgres"], name);
            assert.deepEqual(policy.inputs.spec.egress.map((r: any) => r.ports[0].port).sort(), [27017, 5432]);
            assert.deepEqual(policy.inputs.spec.ingress, [], `${name} admits traffic`);
            for (const store of ["postgres", "mongodb"])
                assert.ok(selected(named(regs, NP, `allow-${store}`), "ingress").includes(name), `${store} does not admit ${name}`);
            for (const store of ["redis", "elasticsearch"])
                assert.ok(!selected(named(regs, NP, `allow-${store}`), "ingress").includes(name), `${store} admits ${name}`);
        }
    });

    it("allow-database-restore says on the object why it stays while no restore runs (it selects only restore pods)", () => {
        const restore = named(regs, NP, "allow-database-restore");
        assert.equal(restore.inputs.spec.podSelector.matchLabels["app.kubernetes.io/name"], "database-restore");
        assert.match(
            restore.inputs.metadata.annotations?.["ultramarket.uz/purpose"] ?? "",
            /only the pods of `npm run restore`.*selects nothing/,
        );
        // The restore Job's pods carry exactly the label it selects.
        const address = { host: "h", port: "1" };
        const job = restoreJob(
            "ultramarket-production",
            "x",
            ["postgres"],
            { postgres: address, mongodb: address },
            DEFAULT_THIRD_PARTY_IMAGES,
        );
        assert.equal((job.spec as any).template.metadata.labels["app.kubernetes.io/name"], "database-restore");
        assert.equal(named(regs, NP, "allow-database-backup").inputs.metadata.annotations, undefined, "only the restore's needs saying");
    });

    it("with backupBeforeMigrations false runs no backup and the migrations wait for nothing new; the volume stays", async () => {
        const off = (await evaluateProduction({ backupBeforeMigrations: "false" })).registrations;
        assert.equal(backupJob(off), undefined);
        assert.ok(named(off, PVC, BACKUP_VOLUME).protect, "turning backups off must not drop the volume holding them");
        const before = (regs2: Registration[]) => Object.fromEntries(migrationJobs(regs2).map((m) => [m.name, m.inputs]));
        assert.deepEqual(before(off), before(regs), "turning backups off changes (re-runs) the migrations");
    });

    it("with backupStores [postgres] (a stack whose MongoDB is not backed up) dumps, awaits and reaches PostgreSQL only, and says so in its manifest", async () => {
        const only = (await evaluatePlatform("staging", productionValues({ backupStores: '["postgres"]' }))).registrations;
        const pgOnly = backupJob(only)!;
        assert.deepEqual(
            stepsOf(pgOnly).map((c) => c.name),
            ["dump-postgres", "finish"],
        );
        const env = (c: any, name: string) => c.env.find((e: any) => e.name === name);
        assert.equal(env(stepsOf(pgOnly).at(-1), "BACKUP_STORES").value, "postgres", "the manifest would not say what the backup holds");
        assert.equal(env(stepsOf(job).at(-1), "BACKUP_STORES").value, "postgres mongodb");
        assert.ok(pgOnly.dependencies.includes(named(only, STS, "postgres").urn));
        assert.ok(!pgOnly.dependencies.includes(named(only, STS, "mongodb").urn), "the backup waits for a store it does not dump");
        for (const name of ["database-backup", "database-restore"]) {
            assert.deepEqual(selected(named(only, NP, `allow-${name}`), "egress"), ["postgres"], name);
            assert.ok(!selected(named(only, NP, "allow-mongodb"), "ingress").includes(name), `mongodb still admits ${name}`);
        }
    });

    it("refuses a production backupStores that leaves out a store its apps write to, and any unknown, repeated or empty list, naming the key and the fix", () => {
        const parse = (stack: string, values: Record<string, string>) =>
            parseConfig({ stack, values: productionValues(values), secretKeys: new Set(SECRET_CONFIG_KEYS), baseDir: REPO_ROOT });
        const refused = (stack: string, value: string, problem: RegExp) =>
            assert.throws(
                () => parse(stack, { backupStores: value }),
                (e: unknown) => e instanceof ConfigError && e.problems.some((p) => problem.test(p)),
                `${stack} ${value}`,
            );
        refused(
            "production",
            '["postgres"]',
            /^ultramarket:backupStores is \["postgres"\], leaving out mongodb, which the production apps write to.*pulumi config set backupStores '\["postgres","mongodb"\]'/,
        );
        for (const stack of ["production", "staging"]) {
            refused(stack, '["postgres","redis"]', /^ultramarket:backupStores/);
            refused(stack, '["postgres","postgres"]', /^ultramarket:backupStores.*names a database twice/);
            refused(stack, "[]", /^ultramarket:backupStores.*at least one database.*backupBeforeMigrations false/);
        }
        assert.deepEqual(parse("staging", { backupStores: '["postgres"]' }).backups.stores, ["postgres"]);
        assert.deepEqual(parse("production", { backupStores: '["mongodb","postgres"]' }).backups.stores, ["postgres", "mongodb"]);
        assert.deepEqual(parse("production", {}).backups.stores, ["postgres", "mongodb"], "the default backs up both");
    });

    it("validates backupRetention in config/, naming the key and the fix; warns when production turns backups off", () => {
        const parse = (values: Record<string, string>) =>
            parseConfig({
                stack: "production",
                values: productionValues(values),
                secretKeys: new Set(SECRET_CONFIG_KEYS),
                baseDir: REPO_ROOT,
            });
        for (const bad of ["0", "many", "101"]) {
            assert.throws(
                () => parse({ backupRetention: bad }),
                (e: unknown) =>
                    e instanceof ConfigError &&
                    e.problems.some((p) => p.startsWith("ultramarket:backupRetention") && p.includes("pulumi config set backupRetention")),
            );
        }
        assert.throws(
            () => parse({ backupBeforeMigrations: "sometimes" }),
            (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith("ultramarket:backupBeforeMigrations")),
        );
        assert.equal(parse({}).backups.retention, 7);
        assert.ok(
            parse({ backupBeforeMigrations: "false" }).warnings.some(
                (w) => w.includes("ultramarket:backupBeforeMigrations") && w.includes("pulumi config set backupBeforeMigrations true"),
            ),
        );
    });
});
