import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Stack } from "@pulumi/pulumi/automation";
import { main } from "../../../ops/cli";
import type { CliDeps } from "../../../ops/commands/command";
import { ExitCode, OpsError } from "../../../ops/errors";
import { closestName, openStack, StackBackend, StackEnvironment } from "../../../ops/workspace";
import { FakeCode, FakeVerifier, MemoryIO, PASSED } from "./fakes";

/** A backend with the given stacks; records what openStack asked of it. */
function backend(stacks: string[]): StackBackend & { calls: string[] } {
    const calls: string[] = [];
    const stack = (name: string) => ({ name }) as unknown as Stack;
    return {
        calls,
        async command() {
            return { envVars: {} };
        },
        async listStacks(env: StackEnvironment) {
            calls.push(`list ${env.backendUrl ?? ""}`);
            return stacks;
        },
        async select(name) {
            calls.push(`select ${name}`);
            return stack(name);
        },
        async createOrSelect(name) {
            calls.push(`createOrSelect ${name}`);
            return stack(name);
        },
    };
}

function project(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-stacks-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: ultramarket\nruntime: nodejs\n");
    fs.writeFileSync(path.join(dir, "Pulumi.production.yaml"), "config: {}\n");
    return dir;
}

const open = (stackName: string, workDir: string, b: StackBackend, create?: boolean) =>
    openStack({ stackName, workDir, backendUrl: "file:///tmp/ops-stacks-state", passphrase: "test-only", create }, b);

describe("ops: stack names are checked", () => {
    it("a backend that cannot be listed (no Pulumi CLI) is one clear error with what to do, selecting nothing", async () => {
        const dir = project();
        const b = backend([]);
        b.listStacks = async () => {
            throw new Error("Command failed with ENOENT: pulumi version\nspawn pulumi ENOENT");
        };
        await assert.rejects(open("production", dir, b), (err: unknown) => {
            assert.ok(err instanceof OpsError, `expected an OpsError, got ${String(err)}`);
            assert.match(err.message, /install the Pulumi CLI/);
            return true;
        });
        assert.deepEqual(b.calls, [], "nothing selected or created");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("a mistyped name is refused with the existing stacks and the closest one, creating nothing", async () => {
        const dir = project();
        const b = backend(["production", "staging"]);
        await assert.rejects(open("prodution", dir, b, false), (err: unknown) => {
            assert.ok(err instanceof OpsError);
            assert.equal(err.exitCode, ExitCode.Refused);
            assert.match(err.message, /stack "prodution" does not exist on the backend file:\/\/\/tmp\/ops-stacks-state/);
            assert.match(err.message, /Did you mean "production"\? Existing stacks: production, staging\./);
            assert.match(err.message, /pulumi stack init prodution/);
            return true;
        });
        assert.deepEqual(b.calls, ["list file:///tmp/ops-stacks-state"], "listed only: nothing selected or created");
        assert.ok(!fs.existsSync(path.join(dir, "Pulumi.prodution.yaml")), "no stack settings file written");
        assert.deepEqual(fs.readdirSync(dir).sort(), ["Pulumi.production.yaml", "Pulumi.yaml"]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("an existing name is selected, never created; Pulumi Cloud's qualified names count by their last part", async () => {
        const dir = project();
        const b = backend(["acme/ultramarket/production"]);
        assert.equal((await open("production", dir, b, false)).name, "production");
        assert.deepEqual(b.calls, ["list file:///tmp/ops-stacks-state", "select production"]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("only an explicit init creates: create: true creates or selects", async () => {
        const dir = project();
        const b = backend([]);
        await open("feature-x", dir, b, true);
        assert.deepEqual(b.calls, ["createOrSelect feature-x"]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the local stack before local:up created its state directory is refused without listing or creating it", async () => {
        const dir = project();
        const b = backend([]);
        await assert.rejects(
            openStack({ stackName: "local", workDir: dir, create: false }, b),
            (err: unknown) =>
                err instanceof OpsError &&
                err.exitCode === ExitCode.Refused &&
                /create the local stack with: npm run local:up/.test(err.message),
        );
        assert.deepEqual(b.calls, []);
        assert.ok(!fs.existsSync(path.join(dir, ".pulumi-state")), "the state directory is not created");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("suggests only a close name", () => {
        assert.equal(closestName("prodution", ["local", "production"]), "production");
        assert.equal(closestName("PRODUCTION", ["production"]), "production");
        assert.equal(closestName("locl", ["local", "production"]), "local");
        assert.equal(closestName("qa", ["local", "production"]), undefined);
    });

    it("every CLI command refuses an unknown stack with exit code 3 (doctor: a stack without its settings file)", async () => {
        for (const command of ["deploy", "rollback", "drift", "status"]) {
            const io = new MemoryIO();
            const b = backend(["production"]);
            const dir = project();
            const deps: CliDeps = {
                io,
                openStack: (stackName) => open(stackName, dir, b, false),
                code: new FakeCode(),
                verifier: new FakeVerifier([PASSED]),
                repoRoot: dir,
                env: {},
                probe: { run: async () => ({ found: false, code: 1, stdout: "", stderr: "" }) },
            };
            assert.equal(
                await main(
                    [command, "--stack", "prodution", ...(command === "deploy" || command === "rollback" ? ["--no-policy"] : [])],
                    deps,
                ),
                ExitCode.Refused,
                command,
            );
            assert.match(io.errors.join("\n"), /^\w+: stack "prodution" does not exist .*Did you mean "production"\?/, command);
            assert.ok(!b.calls.some((c) => c.startsWith("select") || c.startsWith("create")), command);
            assert.ok(!fs.existsSync(path.join(dir, "Pulumi.prodution.yaml")), command);
            fs.rmSync(dir, { recursive: true, force: true });
        }
        const dir = project();
        const io = new MemoryIO();
        const doctorDeps = {
            io,
            openStack: async () => assert.fail("doctor opens no stack"),
            code: new FakeCode(),
            verifier: new FakeVerifier([PASSED]),
            repoRoot: dir,
            env: {},
            probe: { run: async () => assert.fail("no probe for an unknown stack") },
        } as unknown as CliDeps;
        assert.equal(await main(["doctor", "--stack", "prodution"], doctorDeps), ExitCode.Refused);
        assert.match(
            io.errors.join("\n"),
            /^doctor: stack "prodution" does not exist in .* \(no Pulumi\.prodution\.yaml\).*Did you mean "production"\?/,
        );
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
