// Exit codes and errors of the operations CLI. The codes are part of its contract (docs/operations.md).

export enum ExitCode {
    /** Done; nothing needs attention. */
    Ok = 0,
    /** A bug or an error the CLI did not anticipate (see the message and stack trace). */
    Unexpected = 1,
    /** Bad command line: unknown command or flag, malformed value. */
    Usage = 2,
    /** Refused before changing anything: unsafe or impossible request (bad rollback target, code changed, missing passphrase). */
    Refused = 3,
    /** A Pulumi operation (preview, up, refresh, config) failed. */
    OperationFailed = 4,
    /** drift: the cluster differs from the stack's state. */
    Drift = 5,
    /** deploy: the update or its verification failed and the stack was rolled back to the last good version. */
    RolledBack = 6,
    /** deploy: the update or its verification failed and no automatic rollback was possible or it failed: act now. */
    RollbackFailed = 7,
    /** doctor: at least one check failed. */
    ChecksFailed = 8,
    /** deploy/rollback: another update holds the stack's lock (running, or on a machine that cannot be checked); nothing changed, nothing rolled back. */
    Conflict = 9,
}

/** An error the CLI reports as one message (no stack trace) with a specific exit code. */
export class OpsError extends Error {
    constructor(
        public readonly exitCode: ExitCode,
        message: string,
    ) {
        super(message);
        this.name = "OpsError";
    }
}

/** Known Pulumi CLI failures and what the operator should do about them. */
const HINTS: Array<[RegExp, (stack: string) => string]> = [
    [
        /ENOENT|pulumi: (command )?not found|Failed to find pulumi|could not find pulumi/i,
        () => 'install the Pulumi CLI (see docs/operations.md, "Prerequisites"), then run: npm run doctor',
    ],
    [
        /passphrase must be set|incorrect passphrase|PULUMI_CONFIG_PASSPHRASE/i,
        (s) => `set PULUMI_CONFIG_PASSPHRASE to the passphrase of stack "${s}"`,
    ],
    [
        /Another update is currently in progress|currently locked by|\bconflict\b.*update/i,
        (s) => `wait for the running update to finish; if it died, run: pulumi cancel --stack ${s}`,
    ],
    [
        /no stack named|stack .* not found/i,
        () => `check the stack name and backend (PULUMI_BACKEND_URL); list stacks with: pulumi stack ls`,
    ],
    [
        /PULUMI_ACCESS_TOKEN|not logged in|pulumi login/i,
        () => "log in to the backend: set PULUMI_ACCESS_TOKEN (Pulumi Cloud) or PULUMI_BACKEND_URL (self-managed backend)",
    ],
    [
        /pending operations?|interrupted/i,
        (s) => `the last update was interrupted; inspect with: pulumi refresh --stack ${s} (pending creates: --clear-pending-creates)`,
    ],
    [
        /Missing required configuration/,
        (s) =>
            `set the missing key (pulumi config set <key> <value> --stack ${s}); npm run doctor -- --stack ${s} lists every missing piece`,
    ],
    [
        /Invalid configuration for stack/,
        (s) => `fix the configuration keys listed above (pulumi config set ... --stack ${s}), then: npm run doctor -- --stack ${s}`,
    ],
    [
        /kubeconfig|Kubernetes cluster is unreachable|connection refused|no such host/i,
        (s) => `check the cluster connection: npm run doctor -- --stack ${s}`,
    ],
    [
        /mandatory policy|policy violation/i,
        () => "fix the policy violations listed above (policies/), or discuss an exception in the pull request",
    ],
];

/**
 * Whether a Pulumi command failed because another update holds the stack: the Automation API's
 * ConcurrentUpdateError, or the engine's own words (file backends: "the stack is currently locked by N lock(s)";
 * Pulumi Cloud: "[409] Conflict: Another update is currently in progress").
 */
export function isConcurrentUpdateError(err: unknown): boolean {
    if (err instanceof Error && err.name === "ConcurrentUpdateError") return true;
    const text = err instanceof Error ? err.message : String(err);
    return /the stack is currently locked by|Another update is currently in progress/.test(text);
}

/** The first line of what went wrong, followed by what to do; for a failed Pulumi command on `stack`. */
export function explainPulumiError(stack: string, what: string, err: unknown): OpsError {
    const text = err instanceof Error ? err.message : String(err);
    const hint = HINTS.find(([pattern]) => pattern.test(text))?.[1](stack);
    const tail = lastMeaningfulLines(text, 12);
    return new OpsError(
        ExitCode.OperationFailed,
        `stack "${stack}": ${what} failed.\n${tail}\nWhat to do: ${hint ?? `read the error above; re-run with more detail: pulumi ${what.split(" ")[0]} --stack ${stack} --debug`}`,
    );
}

/** The error lines of a failed command (its progress was already streamed), else its last lines. */
function lastMeaningfulLines(text: string, max: number): string {
    const lines = text
        .split(/\r?\n/)
        .map((l) => l.trimEnd())
        .filter((l) => l.trim() !== "");
    const errors = [
        ...new Set(
            lines
                .filter((l) => /\berror\b|failed|refused|denied|violation/i.test(l) && !/Command failed with exit code/.test(l))
                .map((l) => l.trim()),
        ),
    ];
    const picked = errors.length > 0 ? errors.slice(-max) : lines.slice(-max);
    return picked.map((l) => `  ${l.trim()}`).join("\n");
}
