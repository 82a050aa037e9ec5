import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deploy, OpsStack, rollback } from "../../../ops/operations";
import { secretConfigArgs, secretConfigWriterFor } from "../../../ops/secret-config";
import { FAILED, FakeCode, FakeStack, FakeVerifier, MemoryIO, PASSED, SHA_NEW, SHA_OLD, UpdateSpec } from "./fakes";

const HISTORY: UpdateSpec[] = [
    {
        version: 1,
        imageTag: "1.0.0",
        commit: SHA_OLD,
        config: { "ultramarket:jwtSecret": { value: "jwt-secret-kept-since-v1", secret: true } },
    },
    {
        version: 2,
        imageTag: "1.1.0",
        commit: SHA_OLD,
        config: { "ultramarket:jwtSecret": { value: "jwt-secret-kept-since-v1", secret: true } },
    },
];

/** Every secret value the stack has or had: its history decrypted, and its current config. */
async function secretsOf(stack: FakeStack): Promise<string[]> {
    const values = new Set<string>();
    for (const entry of await stack.history(undefined, undefined, true)) {
        for (const v of Object.values(entry.config as Record<string, { value?: string; secret: boolean }>))
            if (v.secret && v.value) values.add(v.value);
    }
    for (const v of Object.values(stack.config)) if (v.secret) values.add(v.value);
    return [...values];
}

/** Fails naming the call when any argument of any call ops made (what would be a command line) holds a secret. */
function assertNoSecretOnACommandLine(stack: FakeStack, secrets: string[]) {
    for (const call of stack.calls) {
        const argv = JSON.stringify(call.args);
        for (const secret of secrets) assert.ok(!argv.includes(secret), `${call.method} carries a secret value on its command line`);
    }
}

describe("ops: no secret on a command line", () => {
    it("rollback writes each changed secret on stdin, keeps unchanged ones as stored, and puts none in an argument", async () => {
        const stack = new FakeStack("production", HISTORY);
        const secrets = await secretsOf(stack);
        assert.ok(secrets.includes("click-secret-of-v1") && secrets.includes("click-secret-of-v2"));
        await rollback({ stack, io: new MemoryIO(), code: new FakeCode(), verifier: new FakeVerifier([PASSED]) });
        assertNoSecretOnACommandLine(stack, secrets);
        assert.deepEqual(
            stack.callsTo("setSecretConfig").map((c) => [c.args[0], c.stdin]),
            [["ultramarket:clickSecretKey", "click-secret-of-v1"]],
            "only the changed secret is written, on stdin; jwtSecret keeps its ciphertext",
        );
        assert.deepEqual(stack.config["ultramarket:clickSecretKey"], { value: "click-secret-of-v1", secret: true });
        assert.ok(!JSON.stringify(stack.callsTo("setAllConfigJson")[0].args).includes("clickSecretKey"), "set-all carries plain keys only");
    });

    it("neither does deploy with its automatic rollback", async () => {
        const stack = new FakeStack("production", HISTORY);
        stack.config["ultramarket:clickSecretKey"] = { value: "click-secret-rotated-in-v3", secret: true };
        const secrets = await secretsOf(stack);
        const report = await deploy({
            stack,
            io: new MemoryIO(),
            code: new FakeCode(SHA_NEW, { [SHA_OLD]: [] }),
            verifier: new FakeVerifier([FAILED, PASSED]),
        });
        assert.equal(report.rollback?.to, 2);
        assertNoSecretOnACommandLine(stack, secrets);
        assert.equal(stack.callsTo("setSecretConfig")[0].stdin, "click-secret-of-v2");
    });

    it("the real writer runs `pulumi config set --secret --raw <key>` with the value on stdin only", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-secret-"));
        const record = path.join(dir, "calls.jsonl");
        const cli = path.join(dir, "pulumi");
        // A stand-in CLI: records its argv and stdin; fails (echoing stdin, as a careless CLI might) for key "bad".
        fs.writeFileSync(
            cli,
            `#!${process.execPath}\nconst fs = require("fs");\nlet stdin = "";\nprocess.stdin.on("data", (d) => (stdin += d));\n` +
                `process.stdin.on("end", () => {\n  fs.appendFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), stdin, env: process.env.PULUMI_CONFIG_PASSPHRASE }) + "\\n");\n` +
                `  if (process.argv.includes("ultramarket:bad")) { process.stderr.write("error: cannot store " + stdin); process.exit(1); }\n});\n`,
            { mode: 0o755 },
        );
        const stack = {
            name: "production",
            workspace: { workDir: dir, envVars: { PULUMI_CONFIG_PASSPHRASE: "stack-passphrase" }, pulumiCommand: { command: cli } },
        } as unknown as OpsStack;
        const writer = secretConfigWriterFor(stack);
        await writer.setSecretConfig("ultramarket:jwtSecret", "s3cr3t-value-with\ttab");
        const [call] = fs
            .readFileSync(record, "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        assert.deepEqual(call.argv, secretConfigArgs("production", "ultramarket:jwtSecret"));
        assert.deepEqual(call.argv, [
            "config",
            "set",
            "--secret",
            "--raw",
            "ultramarket:jwtSecret",
            "--stack",
            "production",
            "--non-interactive",
        ]);
        assert.equal(call.stdin, "s3cr3t-value-with\ttab");
        assert.equal(call.env, "stack-passphrase", "the workspace environment reaches the CLI");
        await assert.rejects(
            writer.setSecretConfig("ultramarket:bad", "leaky-value"),
            (err: Error) => /config set --secret ultramarket:bad failed/.test(err.message) && !err.message.includes("leaky-value"),
        );
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
