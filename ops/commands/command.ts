// What every CLI command gets and returns; the real wiring is in ops/cli.ts, tests pass fakes.
import type { ParseArgsConfig } from "util";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import type { ExitCode } from "../errors";
import type { CodeInspector, OpsIO, OpsStack, Verifier } from "../operations";
import type { DoctorProbe, HostFiles } from "../doctor";
import type { ClusterClient } from "../drift/cluster";
import type { JobRunner } from "../restore/jobs";

export interface CliIO extends OpsIO {
    err(line: string): void;
}

export interface CliDeps {
    io: CliIO;
    /** Opens a stack (ops/workspace.ts openStack in the real CLI). */
    openStack(stackName: string): Promise<OpsStack>;
    code: CodeInspector;
    verifier: Verifier;
    repoRoot: string;
    env: NodeJS.ProcessEnv;
    /** Runs external programs for doctor (node, pulumi, kubectl, docker). */
    probe: DoctorProbe;
    /** This machine's files, for doctor's local-node checks (default: the real ones). */
    host?: HostFiles;
    /** The cluster drift reads live objects from; default: kubectl with the stack's kubeconfig and context. */
    cluster?(config: ConfigMap): ClusterClient;
    /** Where restore runs its Jobs; default: kubectl with the stack's kubeconfig and context. */
    jobs?(config: ConfigMap): JobRunner;
    /** Aborted on SIGINT/SIGTERM: deploy and rollback then stop the engine cleanly (it gets SIGINT) and roll nothing back. */
    signal?: AbortSignal;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export interface Command {
    summary: string;
    usage: string;
    options: NonNullable<ParseArgsConfig["options"]>;
    run(values: OptionValues, deps: CliDeps): Promise<ExitCode>;
}

/** --stack, shared by every command. The default is the account-free local stack. */
export const STACK_OPTION = { stack: { type: "string", short: "s", default: "local" } } as const;
