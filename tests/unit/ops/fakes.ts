// Fakes for the operations tests: a scripted stack (no Pulumi CLI), git, verifier and IO.
import type {
    ConfigMap,
    Deployment,
    EngineEvent,
    OutputMap,
    PreviewOptions,
    PreviewResult,
    RefreshOptions,
    RefreshResult,
    UpdateSummary,
    UpOptions,
    UpResult,
} from "@pulumi/pulumi/automation";
import type { CodeInspector, OpsIO, OpsStack, RecordedConfigValue, VerificationVerdict, Verifier } from "../../../ops/operations";
import type { ProgramCheckout } from "../../../ops/checkout";
import type { CliDeps } from "../../../ops/commands/command";
import { REPO_ROOT } from "../../../ops/workspace";

export const SHA_OLD = "1111111111111111111111111111111111111111";
export const SHA_NEW = "2222222222222222222222222222222222222222";

export interface UpdateSpec {
    version: number;
    kind?: string;
    result?: string;
    message?: string;
    commit?: string;
    dirty?: boolean;
    imageTag?: string;
    serviceImageTags?: Record<string, string>;
    /** Extra config entries (full keys). */
    config?: Record<string, RecordedConfigValue>;
}

/** One entry shaped like `pulumi stack history --json --show-secrets` output (as Stack.history returns it). */
export function historyEntry(spec: UpdateSpec): UpdateSummary {
    const config: Record<string, RecordedConfigValue> = {
        "ultramarket:namespace": { value: "ultramarket-production", secret: false },
        "ultramarket:clickSecretKey": { value: "click-secret-of-v" + spec.version, secret: true },
        ...(spec.imageTag !== undefined ? { "ultramarket:imageTag": { value: spec.imageTag, secret: false } } : {}),
        ...(spec.serviceImageTags
            ? { "ultramarket:serviceImageTags": { value: JSON.stringify(spec.serviceImageTags), secret: false } }
            : {}),
        ...(spec.config ?? {}),
    };
    const start = new Date(Date.UTC(2026, 10, 20, 10, spec.version));
    return {
        version: spec.version,
        kind: (spec.kind ?? "update") as UpdateSummary["kind"],
        result: (spec.result ?? "succeeded") as UpdateSummary["result"],
        message: spec.message ?? `change ${spec.version}`,
        startTime: start,
        endTime: new Date(start.getTime() + 42_000),
        environment: spec.commit
            ? { "git.head": spec.commit, "git.dirty": String(spec.dirty ?? false), "exec.kind": "auto.local" }
            : { "exec.kind": "auto.local" },
        config: config as unknown as ConfigMap,
        resourceChanges: { same: 40, update: 2 },
    };
}

export interface Call {
    method: string;
    /** What the call would put on a command line. */
    args: unknown[];
    /** What it passes on stdin instead (setSecretConfig). */
    stdin?: string;
    /** The workspace environment when it ran (up). */
    env?: Record<string, string>;
}

/** A stack whose history, outputs and failures are scripted; it records every call. */
export class FakeStack implements OpsStack {
    calls: Call[] = [];
    history_: UpdateSummary[];
    config: Record<string, { value: string; secret: boolean }>;
    /** What each outputs() call returns, in order (then {}). */
    outputsQueue: OutputMap[] = [];
    /**
     * Per `up` call: "ok", "fail" (records a failed update), "fail-before-start" (the lock is held by another
     * update: records nothing), or "error-before-start" (fails before an update is recorded, e.g. bad config).
     */
    upScript: Array<"ok" | "fail" | "fail-before-start" | "error-before-start"> = [];
    /** Runs after each `up` recorded its update (a concurrent update lands here). */
    afterUp?: (stack: FakeStack) => void;
    workspace = { envVars: {} as Record<string, string> };
    /** `pending_operations` of the state exportStack returns. */
    pendingOperations: unknown[] = [];
    /** IDs of the objects in the "cluster": refresh drops a targeted resource whose ID is not among them. */
    clusterIds = new Set<string>();
    refreshEvents: EngineEvent[] = [];
    refreshThrows = false;
    /** Behave like a self-managed (file, S3, ...) backend: history and up summaries carry version 0. */
    diy = false;

    constructor(
        public readonly name: string,
        history: UpdateSpec[],
        currentConfig?: Record<string, { value: string; secret: boolean }>,
    ) {
        this.history_ = history.map(historyEntry).sort((a, b) => b.version - a.version);
        const latest = this.history_.find((h) => h.kind === "update");
        this.config = currentConfig ?? (latest ? JSON.parse(JSON.stringify(latest.config)) : {});
    }

    private nextVersion(): number {
        return Math.max(0, ...this.history_.map((h) => h.version)) + 1;
    }

    async preview(opts?: PreviewOptions): Promise<PreviewResult> {
        this.calls.push({ method: "preview", args: [opts], env: { ...this.workspace.envVars } });
        opts?.onOutput?.("Previewing update (fake)\n");
        return { stdout: "", stderr: "", changeSummary: { same: 40, update: 1 } };
    }

    async up(opts?: UpOptions): Promise<UpResult> {
        this.calls.push({ method: "up", args: [opts], env: { ...this.workspace.envVars } });
        opts?.onOutput?.("Updating (fake)\n");
        const outcome = this.upScript.shift() ?? "ok";
        if (outcome === "fail-before-start")
            throw new Error(
                "code: 255\n stderr: error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
            );
        if (outcome === "error-before-start")
            throw new Error("code: 255\n stderr: error: Missing required configuration variable 'ultramarket:imageTag'");
        const version = this.nextVersion();
        const entry = historyEntry({
            version,
            message: opts?.message,
            commit: /commit=([0-9a-f]+)/.exec(opts?.message ?? "")?.[1],
            result: outcome === "ok" ? "succeeded" : "failed",
        });
        entry.config = JSON.parse(JSON.stringify(this.config));
        this.history_.unshift(entry);
        this.afterUp?.(this);
        if (outcome === "fail")
            throw new Error(
                "code: 255\n stderr: error: 1 error occurred:\n  * resource apps/v1/Deployment cart-service failed to become ready",
            );
        return { stdout: "", stderr: "", outputs: {}, summary: this.diy ? { ...entry, version: 0 } : entry };
    }

    async previewRefresh(opts?: RefreshOptions): Promise<PreviewResult> {
        this.calls.push({ method: "previewRefresh", args: [opts] });
        for (const e of this.refreshEvents) opts?.onEvent?.(e);
        if (this.refreshThrows) throw new Error("code: 255\n stderr: error: no changes were expected but changes were proposed");
        return { stdout: "", stderr: "", changeSummary: { same: 40 } };
    }

    async history(pageSize?: number, page?: number, showSecrets?: boolean): Promise<UpdateSummary[]> {
        this.calls.push({ method: "history", args: [pageSize, page, showSecrets] });
        const all = this.history_.map((h) => JSON.parse(JSON.stringify(h)) as UpdateSummary);
        if (this.diy) for (const h of all) h.version = 0;
        if (showSecrets === false) {
            for (const h of all)
                for (const v of Object.values(h.config as Record<string, RecordedConfigValue>)) if (v.secret) delete v.value;
        }
        return pageSize ? all.slice(((page ?? 1) - 1) * pageSize, (page ?? 1) * pageSize) : all;
    }

    async outputs(): Promise<OutputMap> {
        this.calls.push({ method: "outputs", args: [] });
        return this.outputsQueue.shift() ?? {};
    }

    async getAllConfig(): Promise<ConfigMap> {
        this.calls.push({ method: "getAllConfig", args: [] });
        return JSON.parse(JSON.stringify(this.config));
    }

    async setAllConfigJson(configJson: string): Promise<void> {
        this.calls.push({ method: "setAllConfigJson", args: [configJson] });
        for (const [k, v] of Object.entries(JSON.parse(configJson) as Record<string, { value: string; secret: boolean }>))
            this.config[k] = { value: v.value, secret: v.secret };
    }

    async removeAllConfig(keys: string[]): Promise<void> {
        this.calls.push({ method: "removeAllConfig", args: [keys] });
        for (const k of keys) delete this.config[k];
    }

    /** The state exportStack returns: `resources` as `pulumi stack export` has them. */
    resources: unknown[] = [];

    async exportStack(): Promise<Deployment> {
        this.calls.push({ method: "exportStack", args: [] });
        const pending = this.pendingOperations.length ? { pending_operations: this.pendingOperations } : {};
        return { version: 3, deployment: JSON.parse(JSON.stringify({ resources: this.resources, ...pending })) };
    }

    async importStack(state: Deployment): Promise<void> {
        this.calls.push({ method: "importStack", args: [state] });
        const d = JSON.parse(JSON.stringify(state.deployment)) as { resources?: unknown[]; pending_operations?: unknown[] };
        this.resources = d.resources ?? [];
        this.pendingOperations = d.pending_operations ?? [];
    }

    async refresh(opts?: RefreshOptions): Promise<RefreshResult> {
        this.calls.push({ method: "refresh", args: [opts] });
        const targets = new Set(opts?.target ?? []);
        this.resources = (this.resources as Array<{ urn: string; id?: string }>).filter(
            (r) => !targets.has(r.urn) || this.clusterIds.has(r.id ?? ""),
        );
        return { stdout: "", stderr: "", summary: historyEntry({ version: 0, kind: "refresh" }) };
    }

    async cancel(): Promise<void> {
        this.calls.push({ method: "cancel", args: [] });
    }

    /** The checkouts this stack was opened in by a rollback (it answers for all of them: one backend). */
    openedIn: string[] = [];

    async inCheckout(checkout: ProgramCheckout): Promise<OpsStack> {
        this.calls.push({ method: "inCheckout", args: [checkout.dir] });
        this.openedIn.push(checkout.dir);
        return this;
    }

    /** The secret goes on stdin, as ops/secret-config.ts writes it with the real CLI. */
    async setSecretConfig(key: string, value: string): Promise<void> {
        this.calls.push({ method: "setSecretConfig", args: [key], stdin: value });
        this.config[key] = { value, secret: true };
    }

    callsTo(method: string): Call[] {
        return this.calls.filter((c) => c.method === method);
    }
}

/** git: HEAD, the commits this clone has, and the worktrees checked out (and removed) for rollbacks. */
export class FakeCode implements CodeInspector {
    /** Every checkout made, in order, with whether it was removed. */
    checkouts: Array<{ commit: string; dir: string; removed: boolean }> = [];
    /** Config keys the checked-out programs know (ProgramCheckout.knowsConfigKey). */
    knownKeys = new Set(["pinnedImages"]);
    /** Makes checkout fail (e.g. npm ci failed) after the worktree was made. */
    checkoutError?: Error;
    constructor(
        public headCommit: string | undefined = SHA_NEW,
        public commits: Record<string, string[]> = { [SHA_OLD]: [], [SHA_NEW]: [] },
    ) {}
    async head() {
        return this.headCommit;
    }
    async hasCommit(commit: string) {
        return commit in this.commits;
    }
    async checkout(commit: string): Promise<ProgramCheckout> {
        const made = { commit, dir: `/tmp/fake-worktree-${this.checkouts.length + 1}`, removed: false };
        this.checkouts.push(made);
        if (this.checkoutError) {
            made.removed = true;
            throw this.checkoutError;
        }
        return {
            dir: made.dir,
            commit,
            repoDir: "/repo",
            knowsConfigKey: async (key) => this.knownKeys.has(key),
            remove: async () => {
                made.removed = true;
            },
        };
    }
}

/** Returns the scripted reports in order (the last one repeats). */
export class FakeVerifier implements Verifier {
    calls = 0;
    constructor(private readonly reports: VerificationVerdict[]) {}
    async verify(): Promise<VerificationVerdict> {
        const r = this.reports[Math.min(this.calls, this.reports.length - 1)];
        this.calls++;
        return r;
    }
}

export const PASSED: VerificationVerdict = { status: "passed", summary: "verification passed", failures: [] };
export const FAILED: VerificationVerdict = { status: "failed", summary: "verification failed", failures: ["gateway /health: 503"] };

export class MemoryIO implements OpsIO {
    lines: string[] = [];
    streamed = "";
    errors: string[] = [];
    out = (line: string) => {
        this.lines.push(line);
    };
    err = (line: string) => {
        this.errors.push(line);
    };
    stream = (chunk: string) => {
        this.streamed += chunk;
    };
    get text(): string {
        return [...this.lines, ...this.errors].join("\n");
    }
}

/** The CLI's dependencies around one fake stack (nothing real is opened or run), and the stack names it opened. */
export function fakeCliDeps(stack: FakeStack, extra: Partial<CliDeps> = {}): { d: CliDeps; io: MemoryIO; opened: string[] } {
    const io = new MemoryIO();
    const opened: string[] = [];
    const d: CliDeps = {
        io,
        openStack: async (name) => {
            opened.push(name);
            return stack;
        },
        code: new FakeCode(SHA_OLD, { [SHA_OLD]: [] }),
        verifier: new FakeVerifier([PASSED]),
        repoRoot: REPO_ROOT,
        env: {},
        probe: { run: async () => ({ found: false, code: 1, stdout: "", stderr: "" }) },
        ...extra,
    };
    return { d, io, opened };
}
