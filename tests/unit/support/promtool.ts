// Where promtool is (the toolchain's `promtool` piece, else PATH), and running it.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { toolchainDir } from "../../../ops/engine";

/** How to get promtool, for the message of a skipped test. */
export const PROMTOOL_HINT =
    "build it with `npm run toolchain -- promtool` (scripts/toolchain.sh: Prometheus 3.16.0's promtool, ~6 min cold)";

const executable = (file: string) => {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
};

/** The toolchain's promtool (ULTRAMARKET_TOOLCHAIN_DIR, else ~/.cache/ultramarket-toolchain), else the first on PATH. */
export function findPromtool(env: NodeJS.ProcessEnv = process.env): string | undefined {
    const candidates = [
        path.join(toolchainDir(env), "bin", "promtool"),
        ...(env.PATH ?? "")
            .split(path.delimiter)
            .filter((d) => d !== "")
            .map((d) => path.join(d, "promtool")),
    ];
    return candidates.find(executable);
}

export interface PromtoolRun {
    status: number | null;
    /** stdout and stderr together, as promtool interleaves its report and its errors. */
    output: string;
}

/** Runs promtool with `args` in `cwd`; never throws for a failing exit status. */
export function runPromtool(promtool: string, args: string[], cwd: string): PromtoolRun {
    const r = spawnSync(promtool, args, { cwd, encoding: "utf8", timeout: 300_000 });
    if (r.error) throw r.error;
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
