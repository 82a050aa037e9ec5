import { BackedUpDatabase } from "../../components/model/catalog";
import { ThirdPartyImages } from "../../components/model/third-party-images";
import { BACKED_UP_STORES, BACKUP_JOB, BACKUP_NAME, BACKUP_VOLUME } from "../../components/data/backup-jobs";
import { thirdPartyImagesOfStack } from "../../config/images";
import { PRODUCTION_STACK, PROJECT } from "../../config/schema";
import { ExitCode, OpsError } from "../errors";
import { Backup, isComplete, listJob, parseListing, restoreJob, storesOf } from "../restore/backups";
import { PodPlacement } from "../../components/model/placement";
import { workloadPlacementOfStack } from "../../config/placement";
import { JobRunner, jobsForStack } from "../restore/jobs";
import { Command, STACK_OPTION } from "./command";

const RESTORE_TIMEOUT_SECONDS = 2 * 3600;
const LIST_TIMEOUT_SECONDS = 300;

const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
const sizeOf = (bytes: number) =>
    bytes >= 1024 ** 3
        ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
        : bytes >= 1024 ** 2
          ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
          : `${Math.ceil(bytes / 1024)} KiB`;

/** The flags, checked before anything is read or run. */
export function parseRestoreArgs(
    values: Record<string, string | boolean | undefined>,
): { list: true } | { list: false; to: string; stores?: BackedUpDatabase[]; yes: boolean } {
    const to = values.to === undefined ? undefined : String(values.to);
    if (values.list === true && to !== undefined)
        throw new OpsError(
            ExitCode.Usage,
            "--list and --to go separately: list the backups first (--list), then restore one (--to <backup> --yes)",
        );
    if (values.list === true) return { list: true };
    if (to === undefined)
        throw new OpsError(
            ExitCode.Usage,
            "say what to do: --list shows the backups, --to <backup> --yes restores one (e.g. --to 20261127T110340Z-3f2a9c1b7d)",
        );
    if (!BACKUP_NAME.test(to))
        throw new OpsError(ExitCode.Usage, `--to expects a backup name such as 20261127T110340Z-3f2a9c1b7d (see --list), got "${to}"`);
    const store = values.store === undefined ? undefined : String(values.store);
    if (store !== undefined && !(BACKED_UP_STORES as readonly string[]).includes(store))
        throw new OpsError(
            ExitCode.Usage,
            `--store expects one of ${BACKED_UP_STORES.join(", ")} (or leave it out to restore every database the backup holds), got "${store}"`,
        );
    return { list: false, to, stores: store ? [store as BackedUpDatabase] : undefined, yes: values.yes === true };
}

/** Where the stack runs and how its stores are reached, from its outputs (`namespace`, `dataStores`). */
/** A deployed store's address: plain strings (the stack's outputs), where the program's StoreAddress takes Inputs. */
type DeployedAddress = { host: string; port: string };

function deployedStack(
    stackName: string,
    outputs: Record<string, { value?: unknown }>,
): { namespace: string; addresses: Partial<Record<BackedUpDatabase, DeployedAddress>> } {
    const namespace = outputs.namespace?.value;
    const stores = outputs.dataStores?.value as Record<string, string> | undefined;
    if (typeof namespace !== "string" || !stores || !BACKED_UP_STORES.some((s) => typeof stores[s] === "string")) {
        throw new OpsError(
            ExitCode.Refused,
            `stack "${stackName}" has no namespace and dataStores outputs: it was never deployed with backups; deploy it first (npm run deploy -- --stack ${stackName})`,
        );
    }
    const address = (hostPort: string) => ({
        host: hostPort.slice(0, hostPort.lastIndexOf(":")),
        port: hostPort.slice(hostPort.lastIndexOf(":") + 1),
    });
    return {
        namespace,
        addresses: Object.fromEntries(BACKED_UP_STORES.filter((s) => typeof stores[s] === "string").map((s) => [s, address(stores[s])])),
    };
}

/** The stack's images of the stores, by the program's own rules (config/images.ts): restore runs what `up` runs. */
function stackImages(stackName: string, config: Record<string, { value?: string } | undefined>): ThirdPartyImages {
    const { images, problems } = thirdPartyImagesOfStack(
        { thirdPartyImages: config[`${PROJECT}:thirdPartyImages`]?.value, imageMirror: config[`${PROJECT}:imageMirror`]?.value },
        stackName === PRODUCTION_STACK,
    );
    if (problems.length)
        throw new OpsError(
            ExitCode.Refused,
            `stack "${stackName}" has invalid image configuration; fix it (README, "Third-party images") and run again. Nothing was run:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
        );
    return images;
}

/**
 * Where the backup Job's pods may run (`ultramarket:workloadPlacement["database-backup"]`): the list and restore pods
 * mount the same volume, so they go there too.
 */
function backupPlacement(stackName: string, config: Record<string, { value?: string } | undefined>): PodPlacement | undefined {
    const { placement, problems } = workloadPlacementOfStack(config[`${PROJECT}:workloadPlacement`]?.value);
    if (problems.length)
        throw new OpsError(
            ExitCode.Refused,
            `stack "${stackName}" has an invalid workload placement; fix it (README, "Placement") and run again. Nothing was run:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
        );
    return placement[BACKUP_JOB];
}

async function listBackups(jobs: JobRunner, namespace: string, images: ThirdPartyImages, placement?: PodPlacement): Promise<Backup[]> {
    const result = await jobs.run(listJob(namespace, images, placement), { timeoutSeconds: LIST_TIMEOUT_SECONDS, keep: false });
    if (!result.succeeded) {
        throw new OpsError(
            ExitCode.OperationFailed,
            `could not list the ${BACKUP_VOLUME} volume in namespace ${namespace} (${jobs.where}): ${result.reason ?? "the list Job failed"}\n${result.logs.trim()}`,
        );
    }
    return parseListing(result.logs);
}

function describe(b: Backup): string {
    const files = storesOf(b)
        .map((s) => (b.files[s] === undefined ? `${s} missing` : `${s} ${sizeOf(b.files[s])}`))
        .join(", ");
    const state = isComplete(b) ? "" : " INCOMPLETE (cannot be restored)";
    return `  ${b.name}  taken ${utc(b.takenAt)}  ${files}${state}${b.images?.length ? `\n      before ${b.images.join(", ")}` : ""}`;
}

export const restoreCommand: Command = {
    summary:
        "list the database backups taken before migrations (--list), or restore one (--to <backup> --yes): overwrites the ultramarket database of each store it holds (PostgreSQL, MongoDB)",
    usage: "restore [--stack <name>] --list | --to <backup> [--store postgres|mongodb] --yes",
    options: {
        ...STACK_OPTION,
        list: { type: "boolean", default: false },
        to: { type: "string" },
        store: { type: "string" },
        yes: { type: "boolean", default: false },
    },
    async run(values, deps) {
        const args = parseRestoreArgs(values);
        const stackName = String(values.stack);
        const stack = await deps.openStack(stackName);
        const { namespace, addresses } = deployedStack(stackName, await stack.outputs());
        const config = await stack.getAllConfig();
        const images = stackImages(stackName, config);
        const placement = backupPlacement(stackName, config);
        const jobs = deps.jobs ? deps.jobs(config) : jobsForStack(config, deps.repoRoot);
        const backups = await listBackups(jobs, namespace, images, placement);
        const complete = backups.filter(isComplete);

        if (args.list) {
            if (backups.length === 0)
                deps.io.out(
                    `no backups on the ${BACKUP_VOLUME} volume of namespace ${namespace} yet: one is taken before every migration (ultramarket:backupBeforeMigrations)`,
                );
            else
                deps.io.out(
                    [`backups on the ${BACKUP_VOLUME} volume of namespace ${namespace}, newest first:`, ...backups.map(describe)].join(
                        "\n",
                    ),
                );
            return ExitCode.Ok;
        }

        const choices = complete.length
            ? `choose one of: ${complete.map((b) => b.name).join(", ")}`
            : "there is no complete backup to restore";
        const chosen = backups.find((b) => b.name === args.to);
        if (!chosen)
            throw new OpsError(
                ExitCode.Refused,
                `backup "${args.to}" is not on the ${BACKUP_VOLUME} volume of namespace ${namespace}; ${choices} (npm run restore -- --stack ${stackName} --list). Nothing was changed.`,
            );
        const held = storesOf(chosen);
        const notHeld = (args.stores ?? []).filter((s) => !held.includes(s));
        if (isComplete(chosen) && notHeld.length)
            throw new OpsError(
                ExitCode.Refused,
                `backup "${args.to}" holds no ${notHeld.join(" or ")} dump (it backed up ${held.join(" and ")}; ultramarket:backupStores); restore it without --store, or choose a backup that holds ${notHeld.join(" and ")}. Nothing was changed.`,
            );
        const stores = args.stores ?? held;
        const missing = stores.filter((s) => chosen.files[s] === undefined);
        if (!isComplete(chosen) || missing.length) {
            throw new OpsError(
                ExitCode.Refused,
                `backup "${args.to}" did not complete (${missing.length ? `no ${missing.join(" or ")} file` : "no manifest"}); ${choices}. Nothing was changed.`,
            );
        }
        const undeployed = stores.filter((s) => addresses[s] === undefined);
        if (undeployed.length)
            throw new OpsError(
                ExitCode.Refused,
                `stack "${stackName}" has no ${undeployed.join(" or ")} in its dataStores output, so backup "${args.to}" cannot be restored into it; deploy the stack first (npm run deploy -- --stack ${stackName}). Nothing was changed.`,
            );
        const what = stores.map((s) => `${s} (${addresses[s]!.host})`).join(" and ");
        if (!args.yes) {
            throw new OpsError(
                ExitCode.Refused,
                `restoring ${chosen.name} overwrites the ultramarket database of ${what} in namespace ${namespace}: everything written since ${utc(chosen.takenAt)} is lost. ` +
                    `Roll the apps back first (README: "Rolling back a schema change"), then confirm with: npm run restore -- --stack ${stackName} --to ${chosen.name}${args.stores ? ` --store ${args.stores[0]}` : ""} --yes. Nothing was changed.`,
            );
        }

        const job = restoreJob(namespace, chosen.name, stores, addresses, images, placement);
        deps.io.out(
            `restoring ${chosen.name} (taken ${utc(chosen.takenAt)}) into ${what} of namespace ${namespace} with Job ${job.metadata.name} (${jobs.where}) ...`,
        );
        const result = await jobs.run(job, { timeoutSeconds: RESTORE_TIMEOUT_SECONDS, keep: true });
        if (result.logs.trim()) deps.io.out(result.logs.trim());
        if (!result.succeeded) {
            throw new OpsError(
                ExitCode.OperationFailed,
                `restore of ${chosen.name} failed: ${result.reason ?? "the Job failed"}. PostgreSQL's restore is one transaction (all or nothing); MongoDB's replaces each collection it restores. ` +
                    `Read the output above (kubectl -n ${namespace} logs job/${job.metadata.name} --all-containers), fix the cause and run the same command again.`,
            );
        }
        deps.io.out(
            `restored ${chosen.name} into ${what}. The Job ${job.metadata.name} is kept for a week (kubectl -n ${namespace} logs job/${job.metadata.name} --all-containers).`,
        );
        return ExitCode.Ok;
    },
};
