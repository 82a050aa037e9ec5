// The images an earlier version ran: its `images` stack output (app -> the reference its workloads ran; a pushed
// digest in build mode), so a rollback pins them instead of rebuilding. Where each backend keeps them:
//   - file backends (file://): the checkpoint the update left in <backend>/.pulumi/history/<project>/<stack>/,
//     beside its `.history.json` (matched by the update's start time and message);
//   - Pulumi Cloud (https://): `pulumi stack export --version N`.
// Other self-managed backends (s3://, gs://, azblob://) are not read: the answer is then "not recorded".
import * as fs from "fs";
import * as path from "path";
import { gunzipSync } from "zlib";
import { CommandRunner, processRunner } from "./checkout";
import type { OpsStack, UpdateRecord } from "./types";

/** The stack output holding every app's image reference. */
export const IMAGES_OUTPUT = "images";

export interface ImageHistory {
    /** App -> image reference version `target` ran, or undefined when the backend has no record of it. */
    imagesOf(stack: OpsStack, target: UpdateRecord): Promise<Record<string, string> | undefined>;
}

interface CliWorkspace {
    workDir: string;
    envVars: Record<string, string>;
    pulumiCommand?: { command: string };
}

export class BackendImageHistory implements ImageHistory {
    constructor(private readonly runner: CommandRunner = processRunner) {}

    async imagesOf(stack: OpsStack, target: UpdateRecord): Promise<Record<string, string> | undefined> {
        const ws = stack.workspace as Partial<CliWorkspace>;
        const backend = ws.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL;
        if (backend?.startsWith("file://")) return imagesFromFileBackend(backend.slice("file://".length), stack.name, target);
        if (backend !== undefined && !/^https?:\/\//.test(backend)) return undefined;
        if (typeof ws.workDir !== "string") return undefined;
        // Pulumi Cloud keeps every version's state: `stack export --version N` (the CLI's env carries the login).
        try {
            const out = await this.runner.run(
                ws.pulumiCommand?.command ?? "pulumi",
                ["stack", "export", "--version", String(target.version), "--stack", stack.name, "--non-interactive"],
                { cwd: ws.workDir, env: ws.envVars ?? {} },
            );
            return imagesOfDeployment(JSON.parse(out));
        } catch {
            return undefined;
        }
    }
}

/** The `images` output of the Stack resource in a deployment (`stack export`'s or a checkpoint's `latest`). */
export function imagesOfDeployment(state: unknown): Record<string, string> | undefined {
    const s = (state ?? {}) as { deployment?: unknown; checkpoint?: { latest?: unknown }; latest?: unknown };
    const deployment = (s.deployment ?? s.checkpoint?.latest ?? s.latest ?? {}) as {
        resources?: Array<{ type?: string; outputs?: Record<string, unknown> }>;
    };
    const root = (deployment.resources ?? []).find((r) => r.type === "pulumi:pulumi:Stack");
    const images = root?.outputs?.[IMAGES_OUTPUT];
    if (typeof images !== "object" || images === null || Array.isArray(images)) return undefined;
    const entries = Object.entries(images as Record<string, unknown>);
    if (entries.length === 0 || !entries.every(([, v]) => typeof v === "string" && v !== "")) return undefined;
    return Object.fromEntries(entries) as Record<string, string>;
}

function readJson(file: string): unknown {
    const raw = fs.readFileSync(file);
    return JSON.parse((file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8"));
}

/** Finds the update's `.history.json` under <root>/.pulumi/history and reads the checkpoint saved beside it. */
export function imagesFromFileBackend(root: string, stackName: string, target: UpdateRecord): Record<string, string> | undefined {
    const historyRoot = path.join(root, ".pulumi", "history");
    if (!fs.existsSync(historyRoot)) return undefined;
    const started = target.startTime ? Math.floor(target.startTime.getTime() / 1000) : undefined;
    const pattern = new RegExp(`^${stackName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)\\.history\\.json(\\.gz)?$`);
    const matches: string[] = [];
    for (const entry of fs.readdirSync(historyRoot, { recursive: true }).map(String)) {
        if (!pattern.test(path.basename(entry)) || path.basename(path.dirname(entry)) !== stackName) continue;
        const file = path.join(historyRoot, entry);
        const info = readJson(file) as { kind?: string; startTime?: number; message?: string };
        if (info.kind === "update" && info.startTime === started && (info.message ?? "") === target.message) matches.push(file);
    }
    if (matches.length !== 1) return undefined;
    const checkpoint = matches[0].replace(/\.history\.json(\.gz)?$/, ".checkpoint.json$1");
    return fs.existsSync(checkpoint) ? imagesOfDeployment(readJson(checkpoint)) : undefined;
}
