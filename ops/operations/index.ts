// The operations shared by every command of the CLI (ops/cli.ts), one module per concern. Everything here talks to an
// `OpsStack` (the part of the Automation API Stack we use), a `Verifier` and a `CodeInspector`, so unit tests drive it
// with fakes.
export { PROJECT, KEYS_KEPT_ON_ROLLBACK, VERIFICATION_OUTPUT } from "../types";
export type { OpsStack, OpsIO } from "../types";
export { newUpdateId, updateMessage, parseHistory, imageTagsOf, formatImageTags } from "./history";
export type { RecordedConfigValue, ImageTags, UpdateRecord } from "../types";
export { chooseRollbackTarget, assertCommitAvailable, planConfigRestore, redact } from "./rollback-plan";
export type { RollbackChoice, ConfigRestorePlan } from "./rollback-plan";
export { StackOutputVerifier, interpretVerificationOutput } from "./verification";
export type { VerificationVerdict, Verifier } from "./verification";
export { NothingToRollBack, PINNED_IMAGES_KEY, imagesToPin, absolutePathsFor, rollback, afterRollbackAdvice } from "./rollback";
export type { RollbackOptions, RollbackReport } from "./rollback";
export { deploy } from "./deploy";
export { previewWithoutCheckpoints, SKIP_CHECKPOINTS_ENV, withUpdateId } from "./update";
export type { DeployOptions, DeployReport } from "./deploy";
export { collectDrift, changedPaths, formatDrift, detectDrift } from "./drift";
export type { DriftedResource, DriftReport } from "./drift";
export { formatStatus, status } from "./status";
export { GitCodeInspector } from "./code";
export type { CodeInspector } from "./code";
/**
 * Environment variable deploy and rollback set for the `up` they run: a nonce naming that one update. The program
 * (config/parse.ts, which defines it) puts it in its verification trigger and the report echoes it as
 * `verification.updateId`, so a report left by another update is never taken for this one's.
 */
export { UPDATE_ID_ENV } from "../../config";
