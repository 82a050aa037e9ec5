// Runs the stand-in app (images/app) as its own process on loopback, with exactly the env a test gives it.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { REPO_ROOT } from "./harness";

export const APP_DIR = path.join(REPO_ROOT, "images", "app");

/** The image's dependencies, installed as the image installs them (`npm ci --omit=dev`) when a fresh clone lacks them. */
export function ensureStandinInstalled(): void {
    if (fs.existsSync(path.join(APP_DIR, "node_modules", "pg", "package.json"))) return;
    execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund"], { cwd: APP_DIR, stdio: "ignore" });
}

/** A loopback port nothing listens on: taken from the kernel, then released. */
export async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

export interface RunningApp {
    url: string;
    process: ChildProcess;
    /** Everything it printed so far (stdout and stderr). */
    output(): string;
    /** Resolves with the exit code once the process has ended. */
    exited: Promise<number | null>;
    stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node server.js` (or another entry) with `env` plus PATH, and waits until it listens or exits. */
export async function startStandin(env: Record<string, string>, entry = "server.js"): Promise<RunningApp> {
    const port = env.PORT ?? String(await closedPort());
    const child = spawn(process.execPath, [entry], {
        cwd: APP_DIR,
        env: { PATH: process.env.PATH ?? "", PORT: port, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const listening = new Promise<void>((resolve) => child.stdout.on("data", () => out.includes('"msg":"listening"') && resolve()));
    await Promise.race([listening, exited]);
    return {
        url: `http://127.0.0.1:${port}`,
        process: child,
        output: () => out,
        exited,
        stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
        },
    };
}

/** Runs an entry (migrate.js) to completion: its exit code and output. */
export async function runStandin(entry: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const app = await startStandin(env, entry);
    const code = await app.exited;
    return { code, output: app.output() };
}
