// The types and constants both layers of ops share: the part of the Automation API Stack the operations use, where
// output goes, and what an update in the stack's history is. A leaf module: it imports nothing of ops, so the lower
// modules (checkout, recovery, image-history, secret-config) and operations/ both import it without a cycle.
import type {
    ConfigMap,
    Deployment,
    OutputMap,
    PreviewOptions,
    PreviewResult,
    RefreshOptions,
    RefreshResult,
    UpOptions,
    UpResult,
    UpdateSummary,
} from "@pulumi/pulumi/automation";

export const PROJECT = "ultramarket";
/** Config keys that say where the cluster is, not what is deployed: a rollback keeps their current values. */
export const KEYS_KEPT_ON_ROLLBACK = [`${PROJECT}:kubeconfig`, `${PROJECT}:kubeContext`];
/** The stack output the program exports with its post-deployment verification report. */
export const VERIFICATION_OUTPUT = "verification";

/** The part of @pulumi/pulumi/automation's Stack the operations use (a real Stack satisfies it). */
export interface OpsStack {
    readonly name: string;
    preview(opts?: PreviewOptions): Promise<PreviewResult>;
    up(opts?: UpOptions): Promise<UpResult>;
    previewRefresh(opts?: RefreshOptions): Promise<PreviewResult>;
    history(pageSize?: number, page?: number, showSecrets?: boolean): Promise<UpdateSummary[]>;
    outputs(): Promise<OutputMap>;
    getAllConfig(): Promise<ConfigMap>;
    setAllConfigJson(configJson: string): Promise<void>;
    removeAllConfig(keys: string[], path?: boolean): Promise<void>;
    /** The stack's state (drift reads the Kubernetes objects it owns from it). */
    exportStack(): Promise<Deployment>;
    /** Replaces the stack's state (interruption recovery adopts what a killed update created). */
    importStack(state: Deployment): Promise<void>;
    refresh(opts?: RefreshOptions): Promise<RefreshResult>;
    /** `pulumi cancel`: removes the stack's lock (only ever after checking that its holder is gone). */
    cancel(): Promise<void>;
    /** Environment of every Pulumi command on the stack (deploy sets UPDATE_ID_ENV in it for the length of its `up`). */
    readonly workspace: { envVars: Record<string, string> };
}

/** Where the CLI writes: `out` for lines, `stream` for Pulumi's progress as it happens. */
export interface OpsIO {
    out(this: void, line: string): void;
    stream(this: void, chunk: string): void;
}

/** A config value as `pulumi stack history --json` records it (value absent when secret and not decrypted). */
export interface RecordedConfigValue {
    value?: string;
    objectValue?: unknown;
    secret: boolean;
}

export interface ImageTags {
    /** `ultramarket:imageTag`, the tag of every app without an override. */
    global?: string;
    /** `ultramarket:serviceImageTags`, app name -> tag. */
    perApp: Record<string, string>;
}

export interface UpdateRecord {
    version: number;
    kind: string;
    result: string;
    message: string;
    startTime?: Date;
    endTime?: Date;
    /** The commit of the program that ran the update (Pulumi's `git.head`, else `commit=` in our message). */
    commit?: string;
    /** True when Pulumi recorded uncommitted changes in the working tree (`git.dirty`). */
    dirty: boolean;
    config: Record<string, RecordedConfigValue>;
    imageTags: ImageTags;
    resourceChanges: Record<string, number>;
    /** Set on updates made by `rollback` / deploy's automatic rollback: the version restored and the one undone. */
    rollback?: { to: number; from?: number };
    /** The nonce deploy or rollback put in the update's message (`update=<id>`): which invocation started it. */
    updateId?: string;
}
