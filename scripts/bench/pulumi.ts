// The Pulumi side of the benchmark: the CLI itself (as operators and CI run it), timed per command, on a throwaway
// stack in a temp file backend; and an empty TypeScript program on the same engine, the floor of any preview.
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../tests/e2e/support/env";

export interface EngineEnv {
    /** Environment of every CLI call: the toolchain, the backend and the passphrase. */
    env: Record<string, string>;
    logDir: string;
}

export interface Timed {
    seconds: number;
    output: string;
}

/** Runs `pulumi <args>` in cwd and times it; a failure throws with the end of its output. */
export function pulumi(engine: EngineEnv, args: string[], cwd = REPO_ROOT): Promise<Timed> {
    return new Promise((resolve, reject) => {
        const start = process.hrtime.bigint();
        const child = spawn("pulumi", [...args, "--non-interactive"], {
            cwd,
            env: { ...process.env, ...engine.env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("error", reject);
        child.on("close", (code) => {
            const seconds = Number(process.hrtime.bigint() - start) / 1e9;
            fs.appendFileSync(
                path.join(engine.logDir, "pulumi.log"),
                `$ pulumi ${args.join(" ")}  (${seconds.toFixed(1)} s, exit ${code})\n${output}\n`,
            );
            if (code === 0) resolve({ seconds, output });
            else
                reject(
                    new Error(
                        `pulumi ${args.join(" ")} failed with exit code ${code}:\n${output.trim().split("\n").slice(-15).join("\n")}`,
                    ),
                );
        });
    });
}

/** The resource changes of the stack's last update (`pulumi stack history`), e.g. { update: 1, same: 217 }. */
export async function lastChanges(engine: EngineEnv, stack: string, cwd = REPO_ROOT): Promise<Record<string, number>> {
    const { output } = await pulumi(engine, ["stack", "history", "--stack", stack, "--json", "--page-size", "1"], cwd);
    const [last] = JSON.parse(output.slice(output.indexOf("["))) as { resourceChanges?: Record<string, number> }[];
    return last?.resourceChanges ?? {};
}

export const describeChanges = (changes: Record<string, number>) =>
    Object.entries(changes)
        .filter(([op, n]) => op !== "same" && n > 0)
        .map(([op, n]) => `${op} ${n}`)
        .join(", ") || "no change";

/**
 * A TypeScript Pulumi project that registers nothing, with this project's node_modules: what any preview costs before
 * the program does anything. `sameOptions`: run as this project runs (its runtime options, transpile-only tsconfig);
 * otherwise as `pulumi new typescript` sets one up (type-checked by ts-node at run time).
 */
export function emptyProgram(dir: string, sameOptions: boolean): string {
    fs.mkdirSync(dir, { recursive: true });
    const runtime = fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8").match(/^runtime:\n(?:[ \t].*\n)+/m)?.[0];
    if (!runtime) throw new Error("Pulumi.yaml has no runtime block to copy");
    fs.writeFileSync(
        path.join(dir, "Pulumi.yaml"),
        `name: bench-empty-${sameOptions ? "same" : "template"}\n${sameOptions ? runtime : "runtime: nodejs\n"}`,
    );
    fs.writeFileSync(path.join(dir, "index.ts"), `import * as pulumi from "@pulumi/pulumi";\n\nexport const stack = pulumi.getStack();\n`);
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bench-empty", private: true, main: "index.ts" }));
    if (sameOptions) {
        for (const f of ["tsconfig.json", "tsconfig.pulumi.json"]) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
    } else {
        // The template's tsconfig (pulumi/templates typescript/tsconfig.json).
        const compilerOptions = {
            strict: true,
            outDir: "bin",
            target: "es2020",
            module: "commonjs",
            moduleResolution: "node",
            sourceMap: true,
            experimentalDecorators: true,
            pretty: true,
            noFallthroughCasesInSwitch: true,
            noImplicitReturns: true,
            forceConsistentCasingInFileNames: true,
        };
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["index.ts"] }, null, 2));
    }
    if (!fs.existsSync(path.join(dir, "node_modules")))
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

export interface UpTimeline {
    /** Seconds from the start of the run until the program registered its first resource (start-up and evaluation). */
    firstRegistration: number;
    /** Seconds until the last resource finished. */
    lastDone: number;
    /** The slowest steps on Kubernetes objects: seconds from the engine starting the step to its outputs (1 s resolution). */
    slowest: { urn: string; op: string; seconds: number }[];
}

/** Reads an engine event log (`--event-log`) into where the time of an update went. */
export function timeline(eventLog: string, startedAt: number): UpTimeline | undefined {
    if (!fs.existsSync(eventLog)) return undefined;
    const started = new Map<string, { t: number; op: string }>();
    const steps: { urn: string; op: string; seconds: number }[] = [];
    let first = Infinity;
    let last = 0;
    for (const line of fs.readFileSync(eventLog, "utf8").split("\n")) {
        if (!line.trim()) continue;
        const e = JSON.parse(line) as {
            timestamp: number;
            resourcePreEvent?: { metadata: { urn: string; op: string; type: string } };
            resOutputsEvent?: { metadata: { urn: string } };
        };
        const t = e.timestamp * 1000;
        const pre = e.resourcePreEvent?.metadata;
        // Kubernetes objects only: a component's span is its children's.
        if (pre && pre.type.startsWith("kubernetes:")) {
            first = Math.min(first, t);
            started.set(pre.urn, { t, op: pre.op });
        }
        const done = e.resOutputsEvent?.metadata;
        if (done && started.has(done.urn)) {
            const s = started.get(done.urn)!;
            steps.push({ urn: done.urn, op: s.op, seconds: (t - s.t) / 1000 });
            last = Math.max(last, t);
        }
    }
    if (!Number.isFinite(first)) return undefined;
    steps.sort((a, b) => b.seconds - a.seconds);
    return { firstRegistration: (first - startedAt) / 1000, lastDone: (last - startedAt) / 1000, slowest: steps.slice(0, 5) };
}
