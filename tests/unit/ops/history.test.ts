import { strict as assert } from "assert";
import { formatImageTags, formatStatus, imageTagsOf, parseHistory, status, updateMessage } from "../../../ops/operations";
import { FakeStack, MemoryIO, SHA_NEW, SHA_OLD, historyEntry } from "./fakes";

describe("ops: stack history", () => {
    it("reads version, kind, result, times and the recorded config of each update, newest first", () => {
        const records = parseHistory([
            historyEntry({ version: 1, imageTag: "1.0.0" }),
            historyEntry({ version: 3, kind: "refresh" }),
            historyEntry({ version: 2, result: "failed", imageTag: "1.1.0" }),
        ]);
        assert.deepEqual(
            records.map((r) => [r.version, r.kind, r.result]),
            [
                [3, "refresh", "succeeded"],
                [2, "update", "failed"],
                [1, "update", "succeeded"],
            ],
        );
        assert.equal(records[2].config["ultramarket:imageTag"].value, "1.0.0");
        assert.equal(records[2].config["ultramarket:clickSecretKey"].secret, true);
        assert.equal(records[2].endTime!.getTime() - records[2].startTime!.getTime(), 42_000);
    });

    it("parses the CLI's JSON shape too (string dates, secrets without a value, object values)", () => {
        const [r] = parseHistory([
            {
                version: 7,
                kind: "update",
                result: "succeeded",
                message: "bump",
                startTime: "2026-11-20T10:00:00.000Z",
                endTime: "2026-11-20T10:01:30.000Z",
                environment: { "git.head": SHA_OLD, "git.dirty": "true" },
                config: {
                    "ultramarket:imageTag": { value: "2.0.0", secret: false },
                    "ultramarket:serviceImageTags": {
                        value: '{"cart-service":"2.0.1"}',
                        objectValue: { "cart-service": "2.0.1" },
                        secret: false,
                    },
                    "ultramarket:jwtSecret": { secret: true },
                },
            },
        ]);
        assert.equal(r.startTime!.toISOString(), "2026-11-20T10:00:00.000Z");
        assert.equal(r.config["ultramarket:jwtSecret"].value, undefined);
        assert.deepEqual(r.imageTags, { global: "2.0.0", perApp: { "cart-service": "2.0.1" } });
        assert.equal(r.commit, SHA_OLD);
        assert.equal(r.dirty, true);
    });

    it("takes the commit from Pulumi's git.head, else from commit= in the update message", () => {
        const [fromEnv, fromMessage, none] = parseHistory([
            historyEntry({ version: 3, commit: SHA_NEW, message: `ops deploy commit=${SHA_OLD}` }),
            historyEntry({ version: 2, message: `ci up commit=${SHA_OLD}` }),
            historyEntry({ version: 1, message: "manual pulumi up" }),
        ]);
        assert.equal(fromEnv.commit, SHA_NEW);
        assert.equal(fromMessage.commit, SHA_OLD);
        assert.equal(none.commit, undefined);
    });

    it("recognises the updates rollback made, and what they restored and undid", () => {
        const msg = updateMessage("rollback", SHA_NEW, { to: 4, from: 6, reason: "automatic: verification failed" });
        const [r] = parseHistory([historyEntry({ version: 7, message: msg })]);
        assert.deepEqual(r.rollback, { to: 4, from: 6 });
        assert.equal(r.commit, SHA_NEW);
        assert.equal(parseHistory([historyEntry({ version: 2, message: updateMessage("deploy", SHA_NEW) })])[0].rollback, undefined);
    });

    it("reads image tags: the global tag plus per-app overrides from the serviceImageTags JSON map", () => {
        const [r] = parseHistory([
            historyEntry({ version: 1, imageTag: "1.4.2", serviceImageTags: { "payment-service": "1.4.3", "cart-service": "1.4.1" } }),
        ]);
        assert.equal(formatImageTags(r.imageTags), "1.4.2 (+ cart-service=1.4.1, payment-service=1.4.3)");
        assert.deepEqual(imageTagsOf({ "ultramarket:serviceImageTags": { value: "not json", secret: false } }), {
            global: undefined,
            perApp: {},
        });
    });

    it("status lists version, result, commit and image tags, and never a secret value", () => {
        const records = parseHistory([
            historyEntry({ version: 1, imageTag: "1.0.0", commit: SHA_OLD }),
            historyEntry({ version: 2, imageTag: "1.1.0", result: "failed", commit: SHA_NEW, dirty: true }),
        ]);
        const lines = formatStatus(records, 10);
        assert.match(lines[0], /^VERSION\s+KIND\s+RESULT\s+STARTED\s+TOOK\s+COMMIT\s+IMAGE TAGS\s+MESSAGE$/);
        assert.match(lines[1], /^2\s+update\s+failed\s+2026-11-20T10:02:00Z\s+42s\s+222222222222\+dirty\s+1\.1\.0\s+change 2$/);
        assert.match(lines[2], /^1\s+update\s+succeeded\s+.*111111111111\s+1\.0\.0/);
        assert.equal(formatStatus(records, 1).length, 2);
        assert.ok(!lines.join("\n").includes("click-secret"));
    });

    it("numbers updates 1..n from the oldest when the backend records no versions (self-managed backends say 0)", () => {
        const cliOrder = [
            historyEntry({ version: 0, imageTag: "c" }),
            historyEntry({ version: 0, kind: "refresh" }),
            historyEntry({ version: 0, imageTag: "a" }),
        ];
        const records = parseHistory(cliOrder);
        assert.deepEqual(
            records.map((r) => [r.version, r.kind, r.imageTags.global]),
            [
                [3, "update", "c"],
                [2, "refresh", undefined],
                [1, "update", "a"],
            ],
        );
    });

    it("status reads the whole history with secrets kept encrypted and shows the newest updates", async () => {
        const stack = new FakeStack("production", [
            { version: 1, imageTag: "1.0.0" },
            { version: 2, imageTag: "1.1.0" },
            { version: 3, imageTag: "1.2.0" },
        ]);
        stack.diy = true;
        const io = new MemoryIO();
        await status(stack, io, 2);
        assert.deepEqual(stack.callsTo("history")[0].args, [undefined, undefined, false]);
        assert.equal(io.lines.length, 3);
        assert.match(io.lines[1], /^3\s+update\s+succeeded.*1\.2\.0/);
        assert.match(io.lines[2], /^2\s+update\s+succeeded.*1\.1\.0/);
    });
});
