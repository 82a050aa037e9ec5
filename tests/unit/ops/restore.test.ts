// npm run restore: listing the backups, refusing what it cannot or must not do, and the restore Job it runs.
import { strict as assert } from "assert";
import { main } from "../../../ops/cli";
import { ExitCode } from "../../../ops/errors";
import type { JobManifest, JobResult, JobRunner } from "../../../ops/restore/jobs";
import { PLATFORM_SECRET_NAME, SECRET_KEYS } from "../../../components/model/catalog";
import { fakeCliDeps, FakeStack, SHA_OLD } from "./fakes";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { createPolicies } from "../../../policies/rules";
import { pulumiTypeOf, validateResource } from "../policies/harness";
import { asKubeletRuns } from "../support/harness";

const NEW = "20261127T110340Z-3f2a9c1b7d";
const OLD = "20261120T093000Z-0123456789";
const BROKEN = "20261126T080000Z-aaaaaaaaaa";
const LISTING = [
    `file\t${OLD}.postgres.dump\t1048576`,
    `file\t${OLD}.mongodb.archive.gz\t2048`,
    `images\t${OLD}.images\tauth-service=reg/auth-service:1.0.0 user-service=reg/user-service:1.0.0 `,
    `file\t${BROKEN}.postgres.dump\t4096`,
    `file\t${NEW}.postgres.dump\t3221225472`,
    `file\t${NEW}.mongodb.archive.gz\t5242880`,
    `images\t${NEW}.images\tauth-service=reg/auth-service:1.1.0 user-service=reg/user-service:1.0.0 `,
    "file\tlost+found-notes.txt\t12",
].join("\n");

/** Answers the list Job with LISTING and the restore Job with `restoreResult`; records every Job and how it was run. */
class FakeJobs implements JobRunner {
    readonly where = "context fake of fake-kubeconfig";
    runs: { job: JobManifest; keep: boolean }[] = [];
    listing = LISTING;
    restoreResult: JobResult = { succeeded: true, logs: "postgres: database ultramarket restored\nmongodb: database ultramarket restored" };
    async run(job: JobManifest, opts: { timeoutSeconds: number; keep: boolean }): Promise<JobResult> {
        this.runs.push({ job: JSON.parse(JSON.stringify(job)), keep: opts.keep });
        return job.metadata.labels["app.kubernetes.io/name"] === "database-backups-list"
            ? { succeeded: true, logs: this.listing }
            : this.restoreResult;
    }
    get restores() {
        return this.runs.filter((r) => r.job.metadata.labels["app.kubernetes.io/name"] === "database-restore");
    }
}

function setup(
    outputs: Record<string, unknown> = {
        namespace: "ultramarket-production",
        dataStores: {
            postgres: "postgres-service.ultramarket-production.svc.cluster.local:5432",
            mongodb: "mongodb-service.ultramarket-production.svc.cluster.local:27017",
        },
    },
) {
    const stack = new FakeStack("production", [{ version: 1, imageTag: "1.0.0", commit: SHA_OLD }]);
    stack.outputsQueue = [Object.fromEntries(Object.entries(outputs).map(([k, value]) => [k, { value, secret: false }]))];
    const jobs = new FakeJobs();
    const { d, io, opened } = fakeCliDeps(stack, { jobs: () => jobs });
    const run = (...argv: string[]) => main(["restore", "--stack", "production", ...argv], d);
    return { d, io, jobs, opened, run, stack };
}

const pod = (job: JobManifest) => (job.spec as any).template.spec;
const steps = (job: JobManifest): any[] => [...(pod(job).initContainers ?? []), ...pod(job).containers];

describe("ops: restore", () => {
    it("--list shows every backup newest first, with when it was taken, its files, the images it preceded, and which are incomplete", async () => {
        const { io, jobs, run } = setup();
        assert.equal(await run("--list"), ExitCode.Ok);
        const text = io.lines.join("\n");
        assert.ok(text.indexOf(NEW) < text.indexOf(BROKEN) && text.indexOf(BROKEN) < text.indexOf(OLD), text);
        assert.match(
            text,
            new RegExp(
                `${NEW}  taken 2026-11-27 11:03:40 UTC  postgres 3\\.0 GiB, mongodb 5\\.0 MiB\\n\\s+before auth-service=reg/auth-service:1\\.1\\.0, user-service=reg/user-service:1\\.0\\.0`,
            ),
        );
        assert.match(text, new RegExp(`${BROKEN} .*mongodb missing INCOMPLETE`));
        assert.ok(!text.includes("lost+found"), "a file that is not a backup is listed");
        assert.equal(jobs.runs.length, 1, "listing ran more than the list Job");
        assert.equal(jobs.restores.length, 0);
    });

    it("lists with a read-only, network-less pod that never sees a password", async () => {
        const { jobs, run } = setup();
        await run("--list");
        const [{ job, keep }] = jobs.runs;
        assert.equal(keep, false, "the list Job is left behind");
        assert.equal(job.metadata.namespace, "ultramarket-production");
        assert.equal(job.metadata.labels["app.kubernetes.io/name"], "database-backups-list", "a label the NetworkPolicies admit somewhere");
        assert.deepEqual(pod(job).volumes, [{ name: "backups", persistentVolumeClaim: { claimName: "database-backups", readOnly: true } }]);
        assert.ok(steps(job).every((c) => !c.env && c.volumeMounts.every((m: any) => m.readOnly)));
    });

    it("refuses a malformed request (exit 2) before opening the stack or running anything", async () => {
        for (const argv of [
            [],
            ["--list", "--to", NEW],
            ["--to", "yesterday"],
            ["--to", NEW, "--store", "redis", "--yes"],
            ["--to", NEW, "--bogus"],
        ]) {
            const { io, jobs, opened, run } = setup();
            assert.equal(await run(...argv), ExitCode.Usage, argv.join(" "));
            assert.deepEqual(opened, []);
            assert.equal(jobs.runs.length, 0);
            assert.ok(io.errors.join("\n").length > 0);
        }
        const { io, run } = setup();
        await run("--to", "yesterday");
        assert.match(io.errors.join("\n"), /--to expects a backup name such as \d{8}T\d{6}Z-[0-9a-f]{10} \(see --list\), got "yesterday"/);
    });

    it("refuses a backup that is not on the volume, naming it and the complete ones to choose from, and restores nothing", async () => {
        const { io, jobs, run } = setup();
        const missing = "20250101T000000Z-ffffffffff";
        assert.equal(await run("--to", missing, "--yes"), ExitCode.Refused);
        const message = io.errors.join("\n");
        assert.ok(
            message.includes(`backup "${missing}" is not on the database-backups volume of namespace ultramarket-production`),
            message,
        );
        assert.ok(message.includes(`choose one of: ${NEW}, ${OLD}`) && !message.includes(`${BROKEN},`), message);
        assert.match(message, /npm run restore -- --stack production --list/);
        assert.equal(jobs.restores.length, 0);
    });

    it("refuses an incomplete backup", async () => {
        const { io, jobs, run } = setup();
        assert.equal(await run("--to", BROKEN, "--yes"), ExitCode.Refused);
        assert.match(io.errors.join("\n"), new RegExp(`backup "${BROKEN}" did not complete \\(no mongodb file\\)`));
        assert.equal(jobs.restores.length, 0);
    });

    it("without --yes says what would be overwritten and lost, and how to confirm, and restores nothing", async () => {
        const { io, jobs, run } = setup();
        assert.equal(await run("--to", NEW), ExitCode.Refused);
        const message = io.errors.join("\n");
        assert.match(
            message,
            /overwrites the ultramarket database of postgres \(postgres-service\.ultramarket-production\.svc\.cluster\.local\) and mongodb \(mongodb-service\S*\) in namespace ultramarket-production/,
        );
        assert.match(message, /everything written since 2026-11-27 11:03:40 UTC is lost/);
        assert.ok(message.includes(`npm run restore -- --stack production --to ${NEW} --yes`), message);
        assert.equal(jobs.restores.length, 0);
    });

    it("with --yes runs one restore Job: pg_restore then mongorestore from that backup, and reports it", async () => {
        const { io, jobs, run } = setup();
        assert.equal(await run("--to", NEW, "--yes"), ExitCode.Ok);
        assert.equal(jobs.restores.length, 1);
        const [{ job, keep }] = jobs.restores;
        assert.equal(keep, true, "the restore Job is not kept for its logs");
        assert.equal(job.metadata.namespace, "ultramarket-production");
        assert.match(job.metadata.name, /^database-restore-[0-9a-f]{6}$/);
        assert.equal((job.spec as any).backoffLimit, 0, "an overwrite is retried behind the operator's back");
        assert.equal(
            (job.spec as any).template.metadata.labels["app.kubernetes.io/name"],
            "database-restore",
            "the NetworkPolicies would not let it reach the stores",
        );
        const [pg, mongo] = steps(job);
        assert.deepEqual(
            [pg.name, pg.image, mongo.name, mongo.image],
            ["restore-postgres", "postgres:16.4-alpine", "restore-mongodb", "mongo:7.0.14"],
        );
        assert.equal(pod(job).initContainers.length, 1, "PostgreSQL is not restored before MongoDB");
        assert.match(
            asKubeletRuns(pg.command).join(" "),
            /dump="\/backups\/\$BACKUP_NAME\.postgres\.dump".*pg_restore --clean --if-exists -f - "\$dump".*\| psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d ultramarket/,
        );
        assert.match(
            asKubeletRuns(mongo.command).join(" "),
            /mongorestore .*--nsInclude 'ultramarket\.\*' --drop --archive="\/backups\/\$BACKUP_NAME\.mongodb\.archive\.gz" --gzip/,
        );
        for (const c of steps(job))
            assert.deepEqual(
                c.env.find((e: any) => e.name === "BACKUP_NAME"),
                { name: "BACKUP_NAME", value: NEW },
            );
        const env = (c: any, name: string) => c.env.find((e: any) => e.name === name);
        assert.equal(env(pg, "PGHOST").value, "postgres-service.ultramarket-production.svc.cluster.local");
        assert.equal(env(pg, "PGPORT").value, "5432");
        assert.equal(env(mongo, "MONGODB_HOST").value, "mongodb-service.ultramarket-production.svc.cluster.local");
        assert.match(io.lines.join("\n"), new RegExp(`restored ${NEW} into postgres .* and mongodb`));
        assert.match(io.lines.join("\n"), /mongodb: database ultramarket restored/);
    });

    it("the restore Job reads passwords only through secretKeyRefs, never on argv, and meets the restricted standard with bounded scratch", async () => {
        const { jobs, run } = setup();
        await run("--to", NEW, "--yes");
        const { job } = jobs.restores[0];
        const [pg, mongo] = steps(job);
        const secretRefs = (c: any) =>
            c.env
                .filter((e: any) => e.valueFrom?.secretKeyRef)
                .map((e: any) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]);
        assert.deepEqual(secretRefs(pg), [["PGPASSWORD", PLATFORM_SECRET_NAME, "POSTGRES_PASSWORD"]]);
        assert.deepEqual(secretRefs(mongo), [["MONGODB_PASSWORD", PLATFORM_SECRET_NAME, "MONGODB_PASSWORD"]]);
        for (const c of [pg, mongo]) {
            const argv = c.command.join(" ");
            for (const name of [...SECRET_KEYS, "PGPASSWORD"])
                assert.doesNotMatch(argv, new RegExp(`\\$[({]?${name}\\b`), `${c.name} expands ${name}`);
            assert.doesNotMatch(argv, /--pass(word)?[\s=]/);
            assert.ok(c.env.every((e: any) => e.valueFrom || !/PASSWORD/.test(e.name)));
            const sc = c.securityContext;
            assert.ok(
                sc.readOnlyRootFilesystem &&
                    sc.allowPrivilegeEscalation === false &&
                    sc.capabilities.drop.includes("ALL") &&
                    sc.seccompProfile.type === "RuntimeDefault" &&
                    sc.runAsUser > 0,
                c.name,
            );
            for (const kind of ["requests", "limits"])
                for (const r of ["cpu", "memory", "ephemeral-storage"]) assert.ok(c.resources[kind][r], `${c.name} ${kind}.${r}`);
            assert.ok(c.volumeMounts.find((m: any) => m.name === "backups").readOnly, "a restore must not change the backups");
        }
        assert.match(
            asKubeletRuns(mongo.command).join(" "),
            /\(umask 077 && awk .*ENVIRON\["MONGODB_PASSWORD"\].*\).*--config \/run\/backup\/mongo\.yaml/,
        );
        const p = pod(job);
        assert.equal(p.securityContext.runAsNonRoot, true);
        assert.equal(p.automountServiceAccountToken, false);
        assert.ok(p.volumes.filter((v: any) => v.emptyDir).every((v: any) => v.emptyDir.sizeLimit));
        assert.deepEqual(p.volumes.find((v: any) => v.persistentVolumeClaim).persistentVolumeClaim, {
            claimName: "database-backups",
            readOnly: true,
        });
    });

    it("creates Jobs that pass every mandatory policy of the pack (restricted security, no secrets in argv, bounded scratch, pinned images)", async () => {
        const { jobs, run } = setup();
        await run("--to", NEW, "--yes");
        const mandatory = createPolicies({ stackName: () => "production" }).filter(
            (p) => p.enforcementLevel === "mandatory" && "validateResource" in p,
        ) as ResourceValidationPolicy[];
        assert.ok(mandatory.some((p) => p.name === "no-secrets-in-argv") && mandatory.some((p) => p.name === "bounded-scratch-space"));
        for (const { job } of jobs.runs) {
            for (const p of mandatory) {
                const outcome = await validateResource(p, { type: pulumiTypeOf(job), name: job.metadata.name, props: job });
                if (["no-secrets-in-argv", "bounded-scratch-space"].includes(p.name))
                    assert.equal(outcome.notApplicable, undefined, `${p.name} does not look at Jobs`);
                assert.deepEqual(outcome.violations, [], `${p.name} on ${job.metadata.name}`);
            }
        }
    });

    it("--store restores one database only", async () => {
        const { jobs, run } = setup();
        assert.equal(await run("--to", OLD, "--store", "mongodb", "--yes"), ExitCode.Ok);
        assert.deepEqual(
            steps(jobs.restores[0].job).map((c) => c.name),
            ["restore-mongodb"],
        );
    });

    it("restores what a backup's manifest says it holds: a PostgreSQL-only backup without --store, and refuses --store mongodb for it", async () => {
        const PG_ONLY = "20261128T090000Z-bbbbbbbbbb";
        const withPgOnly = () => {
            const s = setup();
            s.jobs.listing =
                LISTING +
                `\nfile\t${PG_ONLY}.postgres.dump\t2048\nimages\t${PG_ONLY}.images\tauth-service=reg/auth-service:1.2.0 user-service=reg/user-service:1.0.0 store:postgres `;
            return s;
        };
        const listed = withPgOnly();
        assert.equal(await listed.run("--list"), ExitCode.Ok);
        const text = listed.io.lines.join("\n");
        assert.match(
            text,
            new RegExp(
                `${PG_ONLY}  taken 2026-11-28 09:00:00 UTC  postgres 2 KiB\\n\\s+before auth-service=reg/auth-service:1\\.2\\.0, user-service=reg/user-service:1\\.0\\.0\\n`,
            ),
        );
        assert.ok(!new RegExp(`${PG_ONLY}[^\\n]*(mongodb|INCOMPLETE)`).test(text), text);
        const wrong = withPgOnly();
        assert.equal(await wrong.run("--to", PG_ONLY, "--store", "mongodb", "--yes"), ExitCode.Refused);
        assert.match(
            wrong.io.errors.join("\n"),
            new RegExp(
                `backup "${PG_ONLY}" holds no mongodb dump \\(it backed up postgres; ultramarket:backupStores\\).*Nothing was changed`,
            ),
        );
        assert.equal(wrong.jobs.restores.length, 0);
        const right = withPgOnly();
        assert.equal(await right.run("--to", PG_ONLY, "--yes"), ExitCode.Ok);
        assert.deepEqual(
            steps(right.jobs.restores[0].job).map((c) => c.name),
            ["restore-postgres"],
        );
    });

    it("runs the list and restore pods where the backup Job runs (workloadPlacement.database-backup): the volume is only reachable there", async () => {
        const { jobs, run, stack } = setup();
        const placement = {
            nodeSelector: { "ultramarket.local/node": "real" },
            tolerations: [{ key: "ultramarket.local/real-node", operator: "Exists", effect: "NoSchedule" }],
        };
        stack.config["ultramarket:workloadPlacement"] = {
            value: JSON.stringify({ "database-backup": placement, "auth-service": {} }),
            secret: false,
        };
        assert.equal(await run("--to", NEW, "--yes"), ExitCode.Ok);
        assert.equal(jobs.runs.length, 2);
        for (const { job } of jobs.runs) {
            assert.deepEqual(pod(job).nodeSelector, placement.nodeSelector, job.metadata.name);
            assert.deepEqual(pod(job).tolerations, placement.tolerations, job.metadata.name);
        }
        const bad = setup();
        bad.stack.config["ultramarket:workloadPlacement"] = {
            value: JSON.stringify({ "database-backup": { nodeSelector: { "bad key!": "x" } } }),
            secret: false,
        };
        assert.equal(await bad.run("--list"), ExitCode.Refused);
        assert.match(bad.io.errors.join("\n"), /invalid workload placement.*\n.*workloadPlacement\.database-backup/);
        assert.equal(bad.jobs.runs.length, 0, "ran a Job with a placement the program would refuse");

        const notJson = setup();
        notJson.stack.config["ultramarket:workloadPlacement"] = { value: "{database-backup: {}", secret: false };
        assert.equal(await notJson.run("--list"), ExitCode.Refused);
        assert.match(
            notJson.io.errors.join("\n"),
            /invalid workload placement.*\n.*ultramarket:workloadPlacement must be JSON.*; fix it with: pulumi config set workloadPlacement <value>, or one entry at a time: pulumi config set --path workloadPlacement\.<workload>\./,
        );
        assert.equal(notJson.jobs.runs.length, 0, "ran a Job although the placement is not JSON");
    });

    it("reports a failed restore with its output and what to do (exit 4)", async () => {
        const { io, jobs, run } = setup();
        jobs.restoreResult = {
            succeeded: false,
            logs: "pg_restore: error: could not connect",
            reason: "BackoffLimitExceeded: Job has reached the specified backoff limit",
        };
        assert.equal(await run("--to", NEW, "--yes"), ExitCode.OperationFailed);
        assert.match(io.lines.join("\n"), /could not connect/);
        assert.match(io.errors.join("\n"), /restore of .* failed: BackoffLimitExceeded.*run the same command again/);
    });

    it("refuses a stack that was never deployed (no namespace output), changing nothing", async () => {
        const { io, jobs, run } = setup({});
        assert.equal(await run("--list"), ExitCode.Refused);
        assert.match(io.errors.join("\n"), /npm run deploy -- --stack production/);
        assert.equal(jobs.runs.length, 0);
    });

    it("runs the list and restore Jobs with the stack's own images of the stores (ultramarket:thirdPartyImages, imageMirror)", async () => {
        const { jobs, run, stack } = setup();
        const pinned = `registry.example.com/hub/library/postgres@sha256:${"c".repeat(64)}`;
        stack.config["ultramarket:thirdPartyImages"] = { value: JSON.stringify({ postgres: pinned }), secret: false };
        stack.config["ultramarket:imageMirror"] = { value: "registry.example.com/hub", secret: false };
        assert.equal(await run("--to", NEW, "--yes"), ExitCode.Ok);
        const [list, restore] = jobs.runs.map((r) => steps(r.job).map((c) => c.image));
        assert.deepEqual(list, [pinned]);
        assert.deepEqual(restore, [pinned, "registry.example.com/hub/library/mongo:7.0.14"]);
    });

    it("refuses a stack whose image configuration the program would refuse, naming the key, and runs no Job", async () => {
        const images = (v: object) => ({ "ultramarket:thirdPartyImages": JSON.stringify(v) });
        for (const [config, problem] of [
            [
                images({ postgresql: "postgres:16.4-alpine" }),
                /ultramarket:thirdPartyImages\.postgresql names no third-party image \(did you mean thirdPartyImages\.postgres\?/,
            ],
            [
                images({ postgres: "registry.example.com/postgres:latest" }),
                /ultramarket:thirdPartyImages\.postgres is .*production needs an immutable reference/,
            ],
            [
                { "ultramarket:imageMirror": "https://registry.example.com" },
                /ultramarket:imageMirror must be a registry host.*\(got "https:\/\/registry\.example\.com"\); fix it with: pulumi config set imageMirror/,
            ],
        ] as const) {
            const { io, jobs, run, stack } = setup();
            for (const [key, value] of Object.entries(config)) stack.config[key] = { value, secret: false };
            assert.equal(await run("--list"), ExitCode.Refused);
            assert.match(io.errors.join("\n"), problem);
            assert.equal(jobs.runs.length, 0);
        }
    });
});
