import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { COMMANDS, main } from "../../../ops/cli";
import { ExitCode, OpsError, explainPulumiError } from "../../../ops/errors";
import { REPO_ROOT } from "../../../ops/workspace";
import { fakeCliDeps, FakeStack, SHA_OLD } from "./fakes";

function deps(
    stack = new FakeStack("local", [
        { version: 1, imageTag: "1.0.0", commit: SHA_OLD },
        { version: 2, imageTag: "1.1.0", commit: SHA_OLD },
    ]),
) {
    const { d, io, opened } = fakeCliDeps(stack);
    return { d, io, opened, stack };
}

describe("ops: the CLI", () => {
    it("exits 2 on an unknown command, an unknown flag or a malformed value, without opening a stack", async () => {
        for (const argv of [["bogus"], ["drift", "--bogus"], ["rollback", "--to", "abc"], ["status", "--limit", "0"], []]) {
            const { d, io, opened } = deps();
            assert.equal(await main(argv, d), ExitCode.Usage, argv.join(" "));
            assert.deepEqual(opened, []);
            assert.ok(io.text.length > 0);
        }
    });

    it("runs a command on the stack named by --stack (default: local)", async () => {
        const a = deps();
        assert.equal(await main(["status"], a.d), ExitCode.Ok);
        assert.deepEqual(a.opened, ["local"]);
        const b = deps();
        assert.equal(await main(["status", "--stack", "production", "-n", "1"], b.d), ExitCode.Ok);
        assert.deepEqual(b.opened, ["production"]);
        assert.equal(b.io.lines.length, 2);
    });

    it("rollback --to v1 and --to 1 both pick version 1; a refusal exits 3 and changes nothing", async () => {
        const a = deps();
        assert.equal(await main(["rollback", "--to", "v1", "--dry-run"], a.d), ExitCode.Ok);
        assert.match(a.io.text, /rolling back from version 2 to version 1/);
        const b = deps();
        assert.equal(await main(["rollback", "--to", "7", "--no-policy"], b.d), ExitCode.Refused);
        assert.match(b.io.errors.join("\n"), /^rollback: stack "local" has no version 7/);
        assert.equal(b.stack.callsTo("up").length, 0);
    });

    it("an OpsError exits with its own code; anything else exits 1 naming the stack", async () => {
        const a = deps();
        a.d.openStack = async () => {
            throw new OpsError(ExitCode.Refused, 'stack "production" encrypts its secrets with a passphrase, but none is set');
        };
        assert.equal(await main(["drift", "--stack", "production"], a.d), ExitCode.Refused);
        const b = deps();
        b.d.openStack = async () => {
            throw new TypeError("boom");
        };
        assert.equal(await main(["drift", "--stack", "production"], b.d), ExitCode.Unexpected);
        assert.match(b.io.errors.join("\n"), /drift: unexpected error \(stack "production"\): TypeError: boom/);
    });

    it("a failed Pulumi command is reported by its error lines, naming the stack and what to do", () => {
        const cliError = new Error(
            "code: 1\n stdout: Updating (production):\n  + 40 unchanged\n  Outputs: big\n stderr: Command failed with exit code 1: pulumi up --stack production\n" +
                "error: Missing required configuration variable 'ultramarket:imageTag'\n err?: Error: Command failed with exit code 1: pulumi up",
        );
        const e = explainPulumiError("production", "up", cliError);
        assert.equal(e.exitCode, ExitCode.OperationFailed);
        assert.equal(e.message.split("\n")[0], 'stack "production": up failed.');
        assert.match(e.message, /\n {2}error: Missing required configuration variable 'ultramarket:imageTag'\n/);
        assert.ok(!/Command failed|Outputs: big/.test(e.message), e.message);
        assert.match(
            e.message,
            /What to do: set the missing key \(pulumi config set <key> <value> --stack production\); npm run doctor -- --stack production/,
        );
        assert.match(
            explainPulumiError("local", "up", new Error("error: the stack is currently locked by 1 lock(s)")).message,
            /pulumi cancel --stack local/,
        );
    });

    it("drift exits 5 on drift", async () => {
        const a = deps();
        a.stack.refreshThrows = true;
        a.stack.refreshEvents = [
            {
                sequence: 1,
                timestamp: 0,
                resOutputsEvent: {
                    metadata: {
                        op: "delete",
                        urn: "urn:pulumi:local::ultramarket::kubernetes:core/v1:Service::x",
                        type: "kubernetes:core/v1:Service",
                        provider: "",
                    },
                },
            },
        ];
        assert.equal(await main(["drift"], a.d), ExitCode.Drift);
    });

    it("the exit codes are distinct and each is documented in docs/operations.md", () => {
        const codes = Object.entries(ExitCode).filter(([, v]) => typeof v === "number") as Array<[string, number]>;
        assert.equal(new Set(codes.map(([, v]) => v)).size, codes.length);
        const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "operations.md"), "utf8");
        for (const [name, code] of codes)
            assert.match(
                doc,
                new RegExp(`\\|\\s*${code}\\s*\\|[^\\n]*\\b${name}\\b`),
                `exit code ${code} (${name}) is not in the docs table`,
            );
    });

    it("every npm script of the CLI names a command that exists, and every command has a script", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).scripts as Record<string, string>;
        for (const name of Object.keys(COMMANDS))
            assert.equal(scripts[name], `exec ts-node --transpile-only ops/cli.ts ${name}`, `npm script ${name}`);
    });
});
