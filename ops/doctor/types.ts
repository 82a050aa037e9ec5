// What doctor runs, reads and reports: the external programs it probes, this machine's files, and a check's result.
import { execFile } from "child_process";
import * as fs from "fs";

export interface ProbeResult {
    /** False when the program is not installed (ENOENT). */
    found: boolean;
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs external programs; tests replace it. */
export interface DoctorProbe {
    run(command: string, args: string[]): Promise<ProbeResult>;
}

export const processProbe: DoctorProbe = {
    run(command, args) {
        return new Promise((resolve) => {
            execFile(command, args, { timeout: 20_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
                const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
                resolve({
                    found: !(e && e.code === "ENOENT"),
                    code: e ? (typeof e.code === "number" ? e.code : 1) : 0,
                    stdout: String(stdout),
                    stderr: String(stderr),
                });
            });
        });
    },
};

export interface Check {
    name: string;
    ok: boolean;
    detail: string;
    /** How to fix it, when not ok (or when a warning). */
    fix?: string;
    /** Not ok, but not a reason to fail. */
    warning?: boolean;
}

export interface DoctorInput {
    stackName: string;
    repoRoot: string;
    env: NodeJS.ProcessEnv;
    probe: DoctorProbe;
    nodeVersion: string;
    /** Files of this machine (the local node's prerequisites); tests replace it. */
    host?: HostFiles;
}

/** What doctor reads of this machine's files. */
export interface HostFiles {
    exists(file: string): boolean;
    /** The file's text, or undefined when it cannot be read. */
    read(file: string): string | undefined;
}

export const realHost: HostFiles = {
    exists: (file) => fs.existsSync(file),
    read: (file) => {
        try {
            return fs.readFileSync(file, "utf8");
        } catch {
            return undefined;
        }
    },
};
