// Issue 24, item 1: one Ctrl-C stops the engine at a safe point once; a later one (or SIGTERM) escalates.
import { strict as assert } from "assert";
import { EventEmitter } from "events";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CommandError, LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { EngineProcesses, locatePulumiCli, parseExportLines } from "../../../ops/engine";
import { ExitCode, OpsError } from "../../../ops/errors";
import { BURST_MS, handleInterrupts } from "../../../ops/interrupts";
import { MemoryIO } from "./fakes";

function signals() {
    const proc = new EventEmitter();
    let clock = 1_000;
    const engines = { size: 1, terminated: 0, killed: 0, terminate: () => engines.terminated++, kill: () => engines.killed++ };
    const exits: number[] = [];
    const io = new MemoryIO();
    const controller = handleInterrupts(io, engines, {
        proc: proc as unknown as NodeJS.Process,
        now: () => clock,
        exit: (code) => exits.push(code),
    });
    return {
        controller,
        engines,
        exits,
        io,
        send: (name: NodeJS.Signals, afterMs = 0) => {
            clock += afterMs;
            proc.emit(name, name);
        },
    };
}

describe("ops: Ctrl-C and SIGTERM (ops/interrupts.ts)", () => {
    it("npm runs the ops commands with exec, so npm waits for ops on SIGTERM too (its sh would die at once and orphan ops)", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "..", "package.json"), "utf8"));
        for (const command of ["deploy", "rollback", "drift", "status", "doctor", "restore"])
            assert.equal(pkg.scripts[command], `exec ts-node --transpile-only ops/cli.ts ${command}`, command);
    });

    it("one Ctrl-C, heard from the terminal and again from npm, is one interrupt: stop at a safe point, no escalation", () => {
        const s = signals();
        s.send("SIGINT");
        s.send("SIGINT", 5); // npm run passes the terminal's SIGINT on to its script
        assert.equal(s.controller.signal.aborted, true);
        assert.equal(s.engines.terminated, 0, "the engine got a second interrupt");
        assert.equal(s.io.errors.length, 1);
        assert.match(s.io.errors[0], /^ops: SIGINT: stopping at a safe point: .*nothing will be rolled back/);
    });

    it("SIGTERM (a cancelled CI job, sent to the group) is handled the same way", () => {
        const s = signals();
        s.send("SIGTERM");
        s.send("SIGTERM", 1);
        assert.equal(s.controller.signal.aborted, true);
        assert.equal(s.engines.terminated, 0);
        assert.match(s.io.errors[0], /^ops: SIGTERM: stopping at a safe point/);
    });

    it("a second Ctrl-C, or SIGTERM after it, terminates the engine; a third kills it and exits 130", () => {
        const s = signals();
        s.send("SIGINT");
        s.send("SIGTERM", BURST_MS + 1);
        assert.equal(s.engines.terminated, 1);
        assert.match(
            s.io.errors[1],
            /^ops: SIGTERM again: terminating the engine now \(unless it is just finishing its safe stop\); what it was doing stays pending and the next deploy repairs it/,
        );
        s.send("SIGTERM", 3); // npm's copy of the same signal
        assert.equal(s.engines.killed, 0);
        s.send("SIGINT", BURST_MS + 1);
        assert.equal(s.engines.killed, 1);
        assert.deepEqual(s.exits, [130]);
    });
});

/** A stand-in `pulumi`: records the signals it gets and its process group, and exits 0 once told to stop (or 3). */
function fakeCli(dir: string): string {
    const file = path.join(dir, "pulumi");
    fs.writeFileSync(
        file,
        `#!${process.execPath}
const fs = require("fs");
const log = (line) => fs.appendFileSync(${JSON.stringify(path.join(dir, "log"))}, line + "\\n");
log("args " + process.argv.slice(2).join(" "));
log("pgid-is-pid " + (require("child_process").execSync("ps -o pgid= -p " + process.pid).toString().trim() === String(process.pid)));
if (process.argv.includes("fail")) { process.stderr.write("error: it failed\\n"); process.exit(3); }
if (process.argv.includes("plugins")) {
    // As the Pulumi CLI starts its language host and providers: each in a process group of its own.
    const plugin = require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { detached: true, stdio: "ignore" });
    plugin.unref();
    log("plugin " + plugin.pid);
}
let n = 0;
process.on("SIGINT", () => { n++; log(process.argv[2] + " SIGINT " + n); if (n === 2) process.exit(0); });
process.stdout.write("running\\n");
setInterval(() => {}, 1000);
`,
        { mode: 0o755 },
    );
    return file;
}

const waitFor = async (what: string, check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(check(), `timed out waiting for ${what}`);
};

describe("ops: an interrupt after the engine stopped", () => {
    it("escalates nothing and says the engine has already stopped", () => {
        const s = signals();
        s.send("SIGINT");
        s.engines.size = 0;
        s.send("SIGINT", BURST_MS + 1);
        assert.equal(s.engines.terminated, 0);
        assert.match(s.io.errors[1], /^ops: SIGINT again: the engine has already stopped/);
    });
});

describe("ops: the engine runs in its own process group (ops/engine.ts)", () => {
    let dir: string;
    let cli: string;
    const log = () => (fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : "");
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-engine-"));
        cli = fakeCli(dir);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("so a terminal's Ctrl-C reaches it only through ops: abort sends one SIGINT, terminate() a second", async () => {
        const engines = new EngineProcesses();
        const controller = new AbortController();
        let output = "";
        const run = engines.run(cli, ["up"], dir, {}, (d) => (output += d), undefined, controller.signal);
        await waitFor("the CLI to start", () => output.includes("running"));
        assert.match(log(), /args up --non-interactive/);
        assert.match(log(), /pgid-is-pid true/, "the CLI is not the leader of its own process group");
        controller.abort();
        await waitFor("the first SIGINT", () => /SIGINT 1/.test(log()));
        assert.equal(engines.size, 1);
        engines.terminate();
        const result = (await run) as { stdout: string; code: number };
        assert.doesNotMatch(log(), /SIGINT 3/);
        assert.deepEqual([result.code, result.stdout], [0, "running"]);
        assert.equal(engines.size, 0);
    });

    it("a later interrupt escalates only the interrupted engine, never the state read-back ops runs after it", async () => {
        // CI saw it: the second Ctrl-C reached `pulumi stack export` (ops reading back what the stopped up left), which
        // died of it (code -1), while the engine had already stopped and never printed "terminating".
        const engines = new EngineProcesses();
        const controller = new AbortController();
        let upOut = "";
        let exportOut = "";
        const up = engines.run(cli, ["up"], dir, {}, (d) => (upOut += d), undefined, controller.signal);
        await waitFor("up to start", () => upOut.includes("running"));
        controller.abort();
        await waitFor("the first SIGINT", () => /up SIGINT 1/.test(log()));
        const readBack = engines.run(cli, ["export"], dir, {}, (d) => (exportOut += d));
        await waitFor("the read-back to start", () => exportOut.includes("running"));
        assert.equal(engines.size, 1, "only the interrupted engine is escalated");
        engines.terminate();
        await up;
        assert.equal(engines.size, 0, "the interrupted engine has stopped: a further interrupt has nothing to escalate");
        engines.terminate();
        await new Promise((r) => setTimeout(r, 200));
        assert.doesNotMatch(log(), /export SIGINT/);
        // The third interrupt kills whatever still runs, the read-back included, as ops exits.
        engines.kill();
        await readBack.then(
            () => assert.fail("the killed read-back succeeded"),
            () => undefined,
        );
    });

    for (const how of ["terminated", "killed"] as const) {
        it(`an engine ${how} at once leaves none of its plugins running`, async () => {
            // CI saw a terminated engine's language host and provider left behind, reparented to init.
            const engines = new EngineProcesses();
            const controller = new AbortController();
            let output = "";
            const up = engines.run(cli, ["up", "plugins"], dir, {}, (d) => (output += d), undefined, controller.signal);
            await waitFor("the CLI and its plugin to start", () => output.includes("running") && /plugin \d+/.test(log()));
            const plugin = Number(/plugin (\d+)/.exec(log())![1]);
            const alive = () => {
                try {
                    process.kill(plugin, 0);
                    return true;
                } catch {
                    return false;
                }
            };
            assert.ok(alive(), "the fake plugin did not start");
            controller.abort();
            await waitFor("the first SIGINT", () => /up SIGINT 1/.test(log()));
            if (how === "terminated") engines.terminate();
            else engines.kill();
            await up.catch(() => undefined);
            await waitFor("the plugin to be gone", () => !alive());
        });
    }

    it("a failing command rejects with the Automation API's CommandError, stderr included", async () => {
        const err = await new EngineProcesses().run(cli, ["fail"], dir, {}).then(
            () => undefined,
            (e: unknown) => e,
        );
        assert.ok(err instanceof CommandError, String(err));
        assert.match(String((err as Error).message), /error: it failed/);
    });

    it("the pinned Automation API still runs every CLI command through PulumiCommand.run(args, cwd, env, onOutput, onError, signal)", () => {
        // ops replaces that one method (EngineProcesses.pulumiCommand); an SDK upgrade that changes it must fail here.
        const run = (PulumiCommand.prototype as unknown as { run: (...a: unknown[]) => unknown }).run;
        assert.equal(typeof run, "function");
        assert.equal(run.length, 6);
        assert.match(String((LocalWorkspace.prototype as unknown as { runPulumiCmd: () => unknown }).runPulumiCmd), /pulumiCommand\.run\(/);
    });
});

describe("ops: which Pulumi CLI (PATH, else the local engine toolchain's)", () => {
    const toolchain = { PATH: "/tc/bin:/usr/bin", PULUMI_HOME: "/tc/pulumi-home", PULUMI_SKIP_UPDATE_CHECK: "true" };
    const deps = (onPath: boolean, exists: boolean) => ({
        onPath: () => onPath,
        isExecutable: (f: string) => exists && f === "/tc/bin/pulumi",
        toolchainEnv: () => toolchain,
    });

    it("uses `pulumi` from PATH when there is one, and says nothing", () => {
        assert.deepEqual(locatePulumiCli({ PATH: "/usr/bin" }, deps(true, true)), { command: "pulumi", envVars: {} });
    });

    it("otherwise the toolchain's, with its PATH and PULUMI_HOME (unless the operator set one), and says so in one line", () => {
        const cli = locatePulumiCli({ PATH: "/usr/bin", ULTRAMARKET_TOOLCHAIN_DIR: "/tc" }, deps(false, true));
        assert.equal(cli.command, "/tc/bin/pulumi");
        assert.equal(cli.root, "/tc");
        assert.deepEqual(cli.envVars, toolchain);
        assert.equal(
            cli.note,
            "ops: pulumi is not on PATH; using the local engine toolchain's CLI /tc/bin/pulumi (PULUMI_HOME /tc/pulumi-home)",
        );
        const own = locatePulumiCli({ PATH: "/usr/bin", ULTRAMARKET_TOOLCHAIN_DIR: "/tc", PULUMI_HOME: "/mine" }, deps(false, true));
        assert.equal(own.envVars.PULUMI_HOME, undefined, "the operator's PULUMI_HOME was overridden");
    });

    it("with neither, refuses naming both places and the fix", () => {
        assert.throws(
            () => locatePulumiCli({ PATH: "/usr/bin", ULTRAMARKET_TOOLCHAIN_DIR: "/tc" }, deps(false, false)),
            (e: unknown) =>
                e instanceof OpsError &&
                e.exitCode === ExitCode.Refused &&
                /not on PATH .* none at \/tc\/bin\/pulumi.*npm run toolchain/.test(e.message),
        );
    });

    it("reads scripts/toolchain.sh env's export lines, $PATH expanded", () => {
        const vars = parseExportLines('export PATH="/tc/bin:$PATH"\nexport PULUMI_HOME="/tc/home"\nexport X=true\n# comment', "/usr/bin");
        assert.deepEqual(vars, { PATH: "/tc/bin:/usr/bin", PULUMI_HOME: "/tc/home", X: "true" });
    });
});
