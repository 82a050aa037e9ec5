// What every operation talks to: the part of the Automation API Stack used, where output goes, and shared constants.
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
