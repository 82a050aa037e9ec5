// The backup, list and restore scripts run for real (sh) on a temporary directory, with fake pg_dump, mongodump,
// pg_restore, mongorestore, pg_isready and date on PATH: naming, atomic writes, retention and the password file.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BACKED_UP_STORES, backupSteps, LIST_SCRIPT, RESTORE_STEPS } from "../../components/data/backup-jobs";
import { parseListing } from "../../ops/restore/backups";

const FAKES: Record<string, string> = {
    // Writes part of the file, then fails when asked: a failed dump must never look like a whole one.
    pg_dump: `echo "pg_dump $*" >> "$FAKE_LOG"; while [ $# -gt 0 ]; do if [ "$1" = -f ]; then shift; echo partial > "$1"; [ -z "\${FAIL_PG:-}" ] || exit 1; echo "pg dump" >> "$1"; fi; shift; done`,
    mongodump: `echo "mongodump $*" >> "$FAKE_LOG"; prev=; for a in "$@"; do case "$a" in --archive=*) f="\${a#--archive=}"; echo partial > "$f"; [ -z "\${FAIL_MONGO:-}" ] || exit 1; echo "mongo archive" >> "$f";; esac; [ "$prev" = --config ] && { cat "$a" > "$FAKE_LOG.config"; stat -c %a "$a" >> "$FAKE_LOG.config"; }; prev=$a; done`,
    // -l prints $FAKE_TOC (the dump's table of contents); -f - prints SQL, or fails halfway when asked.
    pg_restore: `echo "pg_restore $*" >> "$FAKE_LOG"; if [ "$1" = -l ]; then printf '%b' "$FAKE_TOC"; else echo "CREATE TABLE from_the_dump ();"; [ -z "\${FAIL_PG_RESTORE:-}" ] || exit 1; fi`,
    psql: `echo "psql $*" >> "$FAKE_LOG"; cat > "$FAKE_LOG.sql"`,
    mongorestore: `echo "mongorestore $*" >> "$FAKE_LOG"`,
    date: `echo "$FAKE_DATE"`,
    // The server accepts at once (the wait itself is tested with the users Job: tests/unit/database-users.test.ts).
    pg_isready: `echo "pg_isready $*" >> "$FAKE_LOG"`,
};

describe("backup scripts, run by sh on a scratch directory", () => {
    let root: string;
    let dir: string;
    let log: string;
    const password = 'pa"ss\\wörd$1';

    /** One pod: a fresh work directory, each step in order; the steps' paths point into the scratch directory. */
    function runPod(steps: { script: string }[], env: Record<string, string>): { ok: boolean; output: string } {
        const work = fs.mkdtempSync(path.join(root, "work-"));
        let output = "";
        for (const step of steps) {
            const script = step.script.split("/run/backup").join(work).split("/backups").join(dir);
            const r = spawnSync("sh", ["-c", script], {
                env: {
                    PATH: `${root}/bin:${process.env.PATH}`,
                    FAKE_LOG: log,
                    MONGODB_PASSWORD: password,
                    MONGODB_HOST: "mongodb-service",
                    MONGODB_PORT: "27017",
                    ...env,
                },
                encoding: "utf8",
            });
            output += r.stdout + r.stderr;
            if (r.status !== 0) return { ok: false, output };
        }
        return { ok: true, output };
    }
    const backup = (date: string, trigger: string, extra: Record<string, string> = {}, stores = BACKED_UP_STORES) =>
        runPod(backupSteps(stores), {
            FAKE_DATE: date,
            BACKUP_TRIGGER: trigger,
            BACKUP_IMAGES: `auth-service=reg/auth-service:${trigger} user-service=reg/user-service:1`,
            BACKUP_STORES: stores.join(" "),
            BACKUP_RETENTION: "2",
            ...extra,
        });
    /** The files under their real names (a failed run leaves its hidden partial file until the next one). */
    const files = () =>
        fs
            .readdirSync(dir)
            .filter((f) => !f.startsWith("."))
            .sort();

    before(function () {
        if (spawnSync("sh", ["-c", "true"]).status !== 0) this.skip();
        root = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-bk-"));
        dir = path.join(root, "volume");
        fs.mkdirSync(dir);
        fs.mkdirSync(path.join(root, "bin"));
        for (const [name, body] of Object.entries(FAKES))
            fs.writeFileSync(path.join(root, "bin", name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
        log = path.join(root, "log");
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it("names each backup <UTC timestamp>-<trigger>, writes both dumps and the images manifest, and nothing else", () => {
        const r = backup("20261127T100000Z", "aaaaaaaaaa");
        assert.ok(r.ok, r.output);
        const name = "20261127T100000Z-aaaaaaaaaa";
        assert.deepEqual(files(), [`${name}.images`, `${name}.mongodb.archive.gz`, `${name}.postgres.dump`]);
        assert.equal(
            fs.readFileSync(path.join(dir, `${name}.images`), "utf8"),
            "auth-service=reg/auth-service:aaaaaaaaaa\nuser-service=reg/user-service:1\nstore:postgres\nstore:mongodb\n",
        );
        assert.match(r.output, /backup 20261127T100000Z-aaaaaaaaaa complete/);
    });

    it("gives mongodump the password in a 0600 config file, never on its command line", () => {
        const [content, mode] = fs.readFileSync(`${log}.config`, "utf8").trim().split("\n");
        assert.equal(content, 'password: "pa\\"ss\\\\wörd$1"', "the YAML string must carry the password exactly");
        assert.equal(mode, "600");
        assert.ok(!fs.readFileSync(log, "utf8").includes("wörd"), "the password reached a command line");
        assert.match(
            fs.readFileSync(log, "utf8"),
            /mongodump --host "?\S*"? .*--username root --authenticationDatabase admin --config \S+mongo\.yaml --db ultramarket --archive=\S+ --gzip/,
        );
    });

    it("leaves no file under a real name when a dump fails, and the next backup clears what the failed one left", () => {
        const failed = backup("20261127T110000Z", "bbbbbbbbbb", { FAIL_MONGO: "1" });
        assert.equal(failed.ok, false);
        assert.ok(
            !files().some((f) => f.startsWith("20261127T110000Z") && f.endsWith(".mongodb.archive.gz")),
            "a partial archive under its real name",
        );
        assert.ok(!files().includes("20261127T110000Z-bbbbbbbbbb.images"), "a failed backup is marked complete");
        assert.ok(
            fs.readdirSync(dir).some((f) => f.endsWith(".partial")),
            "the fake did not leave its partial file",
        );
        assert.ok(backup("20261127T120000Z", "cccccccccc").ok);
        assert.ok(!files().some((f) => f.startsWith("20261127T110000Z")), "the failed backup's dump was kept");
        assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith(".partial")), "a partial file was kept");
    });

    it("keeps the newest BACKUP_RETENTION complete backups and prunes older ones only after a successful dump", () => {
        assert.ok(backup("20261127T130000Z", "dddddddddd").ok);
        const names = [...new Set(files().map((f) => f.split(".")[0]))];
        assert.deepEqual(names, ["20261127T120000Z-cccccccccc", "20261127T130000Z-dddddddddd"]);
        assert.equal(backup("20261127T140000Z", "eeeeeeeeee", { FAIL_PG: "1" }).ok, false);
        assert.deepEqual([...new Set(files().map((f) => f.split(".")[0]))], names, "a failed backup pruned the good ones");
    });

    it("lists the volume as file and images lines", () => {
        const out = execFileSync("sh", ["-c", LIST_SCRIPT.split("/backups").join(dir)], { encoding: "utf8" });
        const lines = out
            .trim()
            .split("\n")
            .map((l) => l.split("\t"));
        assert.ok(
            lines.some(
                ([kind, file, images]) =>
                    kind === "images" &&
                    file === "20261127T130000Z-dddddddddd.images" &&
                    images.includes("auth-service=reg/auth-service:dddddddddd"),
            ),
        );
        assert.ok(
            lines.some(([kind, file, size]) => kind === "file" && file === "20261127T130000Z-dddddddddd.postgres.dump" && Number(size) > 0),
        );
    });

    it("with backupStores [postgres] dumps PostgreSQL only, and its manifest says so: the listing reads it complete", () => {
        assert.deepEqual(
            backupSteps(["postgres"]).map((s) => s.name),
            ["dump-postgres", "finish"],
        );
        const r = backup("20261127T150000Z", "ffffffffff", {}, ["postgres"]);
        assert.ok(r.ok, r.output);
        const name = "20261127T150000Z-ffffffffff";
        assert.deepEqual(
            files().filter((f) => f.startsWith(name)),
            [`${name}.images`, `${name}.postgres.dump`],
        );
        const listed = parseListing(execFileSync("sh", ["-c", LIST_SCRIPT.split("/backups").join(dir)], { encoding: "utf8" }));
        const mine = listed.find((b) => b.name === name)!;
        assert.deepEqual(mine.stores, ["postgres"]);
        assert.deepEqual(mine.images, ["auth-service=reg/auth-service:ffffffffff", "user-service=reg/user-service:1"]);
        const both = listed.find((b) => b.name === "20261127T130000Z-dddddddddd")!;
        assert.deepEqual(both.stores, ["postgres", "mongodb"], "a backup of both stores reads as such");
    });

    const TOC = [
        ";",
        "; Archive created at 2026-12-06 23:59:57 UTC",
        "216; 2615 16386 SCHEMA - auth_service auth_service",
        "217; 2615 16390 SCHEMA - user_service user_service",
        "3; 2615 2200 SCHEMA - public pg_database_owner",
        "220; 1259 16400 TABLE auth_service standin_markers auth_service",
    ].join("\\n");
    const restorePostgres = (extra: Record<string, string> = {}) => {
        fs.writeFileSync(log, "");
        fs.rmSync(`${log}.sql`, { force: true });
        return runPod([RESTORE_STEPS.postgres], { BACKUP_NAME: "20261127T130000Z-dddddddddd", FAKE_TOC: TOC, ...extra });
    };

    it("restores PostgreSQL in one psql transaction: each schema of the dump dropped with what a later migration added, then the dump", () => {
        const r = restorePostgres();
        assert.ok(r.ok, r.output);
        const file = `${dir}/20261127T130000Z-dddddddddd.postgres.dump`;
        // The last two run side by side (a pipeline): their log lines come in either order.
        const [wait, toc, ...pipeline] = fs.readFileSync(log, "utf8").trim().split("\n");
        assert.deepEqual([wait, toc], ["pg_isready -q -t 2", `pg_restore -l ${file}`]);
        assert.deepEqual(pipeline.sort(), [
            `pg_restore --clean --if-exists -f - ${file}`,
            "psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d ultramarket",
        ]);
        assert.equal(
            fs.readFileSync(`${log}.sql`, "utf8"),
            "DROP SCHEMA IF EXISTS auth_service CASCADE;\nDROP SCHEMA IF EXISTS user_service CASCADE;\nCREATE TABLE from_the_dump ();\n",
            "public must never be dropped, and the drops must come first, in the same transaction",
        );
        assert.match(r.output, /postgres: database ultramarket restored from 20261127T130000Z-dddddddddd/);
    });

    it("makes the transaction fail when pg_restore cannot read the dump to its end, so psql commits nothing", () => {
        const r = restorePostgres({ FAIL_PG_RESTORE: "1" });
        assert.ok(r.ok, "the fake psql always succeeds; what matters is the SQL it was given");
        assert.match(fs.readFileSync(`${log}.sql`, "utf8"), /\nDO 'BEGIN RAISE EXCEPTION ''pg_restore could not read the dump''; END';\n$/);
    });

    it("refuses a dump naming a schema the program never creates, before anything reaches psql", () => {
        const r = restorePostgres({ FAKE_TOC: "216; 2615 16386 SCHEMA - Auth;drop auth_service\\n" });
        assert.equal(r.ok, false);
        assert.match(r.output, /the dump names schema 'Auth;drop', which the program never creates; nothing was restored/);
        assert.ok(!fs.readFileSync(log, "utf8").includes("psql"), "psql ran");
    });

    it("restores MongoDB with mongorestore --drop, from the named backup", () => {
        fs.writeFileSync(log, "");
        assert.ok(runPod([RESTORE_STEPS.mongodb], { BACKUP_NAME: "20261127T130000Z-dddddddddd" }).ok);
        const [mongo] = fs.readFileSync(log, "utf8").trim().split("\n");
        assert.match(
            mongo,
            new RegExp(
                `^mongorestore .*--config \\S+ --nsInclude ultramarket\\.\\* --drop --archive=${dir}/20261127T130000Z-dddddddddd\\.mongodb\\.archive\\.gz --gzip$`,
            ),
        );
        assert.ok(!mongo.includes("wörd"));
    });
});
