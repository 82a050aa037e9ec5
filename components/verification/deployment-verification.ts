import { createHash } from "crypto";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DATA_STORE_PASSWORD_KEY, DataStoreName, EXPORTER_CREDENTIALS, hasOwnUsers } from "../model/catalog";
import { VerificationPlan, VerificationReport } from "./checks";
import { DATA_STORE_SPECS, elasticCurl } from "../data/stores";
import { labels, selectorLabels } from "../model/labels";
import { REPLACE_UNREADY } from "../model/rollout";
import { clientStepPod } from "../model/security";
import { ThirdPartyImages } from "../model/third-party-images";

/**
 * The runbook's 4.2.1 connection checks, run from a fresh pod over each store's Service (so DNS,
 * the Service, NetworkPolicies and the password in the Secret are all exercised). Passwords come
 * from the Secret as environment variables, never from the command line or the logs. PostgreSQL, MongoDB and
 * Elasticsearch are checked as their monitoring user (PGUSER / DATASTORE_USER from the exporter's Secret; curl's
 * user is the monitoring user's name): a check needs no superuser.
 */
export const DATA_STORE_CHECKS: Record<DataStoreName, { passwordEnv: string; userEnv?: string; command: string[] }> = {
    postgres: {
        // psql reads both from its environment: neither is on the command line.
        passwordEnv: "PGPASSWORD",
        userEnv: "PGUSER",
        command: [
            "psql",
            "-h",
            "$(DATASTORE_HOST)",
            "-p",
            "$(DATASTORE_PORT)",
            "-d",
            "ultramarket",
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            "SELECT 1",
        ],
    },
    mongodb: {
        passwordEnv: "MONGODB_PASSWORD",
        userEnv: "DATASTORE_USER",
        // mongosh scripts can read process.env, so the password never appears in argv.
        command: [
            "mongosh",
            "--quiet",
            "--host",
            "$(DATASTORE_HOST)",
            "--port",
            "$(DATASTORE_PORT)",
            "--eval",
            "db.getSiblingDB('admin').auth(process.env.DATASTORE_USER, process.env.MONGODB_PASSWORD); if (db.runCommand({ ping: 1 }).ok !== 1) quit(1)",
        ],
    },
    redis: {
        // redis-cli reads REDISCLI_AUTH; it exits 0 on NOAUTH, so insist on PONG.
        passwordEnv: "REDISCLI_AUTH",
        command: ["sh", "-c", 'redis-cli -h "$DATASTORE_HOST" -p "$DATASTORE_PORT" ping | grep -q PONG'],
    },
    elasticsearch: {
        passwordEnv: "ELASTIC_PASSWORD",
        // awk reads the password from its environment and curl its credentials from stdin (-K -): nothing in argv.
        command: [
            "sh",
            "-c",
            elasticCurl(
                "http://$DATASTORE_HOST:$DATASTORE_PORT/_cluster/health?wait_for_status=yellow&timeout=20s",
                EXPORTER_CREDENTIALS.elasticsearch.user,
            ),
        ],
    },
};

/** The name (and selector label) of a data store's verification Job: NetworkPolicies must let it reach the store. */
export const verificationJobName = (store: DataStoreName) => `verify-${store}`;

/** How the post-deploy step runs the outside-in checks: the same runner as `npm run verify`. */
export const VERIFY_COMMAND = "node --require ts-node/register/transpile-only scripts/verify.ts --plan-env ULTRAMARKET_VERIFY_PLAN";

export interface DeploymentVerificationArgs {
    namespace: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    dataStores: Record<DataStoreName, { host: pulumi.Input<string>; port: number }>;
    /** The outside-in checks (see checks.ts), without the migration statuses. */
    plan: Omit<VerificationPlan, "migrations">;
    /** Migration Jobs by app: their completions become the "migrations applied" checks. */
    migrationJobs: Record<string, k8s.batch.v1.Job>;
    /** Everything that must have rolled out first (Deployments, migration Jobs, Ingresses). */
    dependsOn: pulumi.Resource[];
    /** Changes whenever the deployment does (image tags, settings): the checks run again then. */
    trigger: pulumi.Input<string>;
    /** The third-party images by logical name: each check runs its store's client. */
    images: ThirdPartyImages;
}

/**
 * Post-deploy verification inside the graph: data-store Jobs in the cluster, then the outside-in
 * checks from the machine running `pulumi up`. Any failure fails the update with a report.
 */
export class DeploymentVerification extends pulumi.ComponentResource {
    public readonly dataStoreJobs: Record<string, k8s.batch.v1.Job> = {};
    public readonly command: command.local.Command;
    /** The runner's report (JSON on stdout); no secret ever enters it. */
    public readonly report: pulumi.Output<VerificationReport | undefined>;
    public readonly plan: pulumi.Output<VerificationPlan>;

    constructor(name: string, args: DeploymentVerificationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:verification:DeploymentVerification", name, {}, opts);
        const after: pulumi.CustomResourceOptions = { parent: this, dependsOn: args.dependsOn };

        for (const store of Object.keys(DATA_STORE_CHECKS) as DataStoreName[]) {
            const check = DATA_STORE_CHECKS[store];
            // The monitoring user's Secret, for the stores that have users of their own.
            const monitor = hasOwnUsers(store) ? EXPORTER_CREDENTIALS[store].secretName : undefined;
            const spec = DATA_STORE_SPECS[store];
            const meta = labels(verificationJobName(store), "verification");
            // The namespace denies all traffic by default: open exactly this check's path (policies add up).
            const peer = (name: string) => [{ podSelector: { matchLabels: selectorLabels(name) } }];
            const port = [{ protocol: "TCP", port: spec.port }];
            const policies = [
                {
                    name: `allow-${verificationJobName(store)}`,
                    spec: {
                        podSelector: { matchLabels: selectorLabels(verificationJobName(store)) },
                        policyTypes: ["Egress"],
                        egress: [{ to: peer(store), ports: port }],
                    },
                },
                {
                    name: `allow-${store}-from-verification`,
                    spec: {
                        podSelector: { matchLabels: selectorLabels(store) },
                        policyTypes: ["Ingress"],
                        ingress: [{ from: peer(verificationJobName(store)), ports: port }],
                    },
                },
            ];
            const policyResources = policies.map(
                (p) =>
                    new k8s.networking.v1.NetworkPolicy(
                        p.name,
                        {
                            metadata: {
                                name: p.name,
                                namespace: args.namespace,
                                labels: labels(verificationJobName(store), "verification"),
                            },
                            spec: p.spec,
                        },
                        { parent: this },
                    ),
            );
            this.dataStoreJobs[store] = new k8s.batch.v1.Job(
                verificationJobName(store),
                {
                    // A check that failed is re-run by the next update, not awaited again.
                    metadata: { namespace: args.namespace, labels: meta, annotations: REPLACE_UNREADY },
                    spec: {
                        backoffLimit: 2,
                        activeDeadlineSeconds: 180,
                        template: {
                            // A new trigger changes the template, which replaces the Job: the check runs again.
                            metadata: { labels: meta, annotations: { "ultramarket.uz/verification-trigger": args.trigger } },
                            spec: clientStepPod(spec.uid, {
                                name: "check",
                                image: args.images[spec.image],
                                command: check.command,
                                env: [
                                    { name: "DATASTORE_HOST", value: args.dataStores[store].host },
                                    { name: "DATASTORE_PORT", value: String(args.dataStores[store].port) },
                                    ...(monitor
                                        ? [
                                              ...(check.userEnv
                                                  ? [
                                                        {
                                                            name: check.userEnv,
                                                            valueFrom: { secretKeyRef: { name: monitor, key: "username" } },
                                                        },
                                                    ]
                                                  : []),
                                              { name: check.passwordEnv, valueFrom: { secretKeyRef: { name: monitor, key: "password" } } },
                                          ]
                                        : [
                                              {
                                                  name: check.passwordEnv,
                                                  valueFrom: {
                                                      secretKeyRef: { name: args.secretName, key: DATA_STORE_PASSWORD_KEY[store] },
                                                  },
                                              },
                                          ]),
                                ],
                                resources: {
                                    requests: { cpu: "200m", memory: "128Mi", "ephemeral-storage": "64Mi" },
                                    limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "256Mi" },
                                },
                            }),
                        },
                    },
                },
                { ...after, dependsOn: [...args.dependsOn, ...policyResources] },
            );
        }

        const migrations = Object.entries(args.migrationJobs).map(([app, job]) =>
            pulumi
                .all([job.metadata.name, job.status])
                .apply(([jobName, status]) => ({ app, job: jobName, succeeded: status?.succeeded ?? null })),
        );
        this.plan = pulumi.all([pulumi.output(args.plan), pulumi.all(migrations)]).apply(([plan, m]) => ({ ...plan, migrations: m }));

        this.command = new command.local.Command(
            "verify-deployment",
            {
                create: VERIFY_COMMAND,
                environment: { ULTRAMARKET_VERIFY_PLAN: this.plan.apply((p) => JSON.stringify(p)) },
                triggers: [args.trigger],
                // stdout is the JSON report (kept as the output); stderr is the readable report for the log.
                logging: "stderr",
            },
            { parent: this, dependsOn: [...args.dependsOn, ...Object.values(this.dataStoreJobs)] },
        );
        this.report = this.command.stdout.apply((out) => parseReport(out));
        this.registerOutputs({ report: this.report });
    }
}

/** A short stable hash of what was deployed: verification and load tests run again when it changes. */
export function deploymentFingerprint(deployed: unknown): string {
    return createHash("sha256").update(JSON.stringify(deployed)).digest("hex").slice(0, 16);
}

/** The runner's stdout as a report; undefined before the command has run (e.g. in a preview). */
export function parseReport(stdout: string | undefined): VerificationReport | undefined {
    if (!stdout) return undefined;
    try {
        return JSON.parse(stdout) as VerificationReport;
    } catch {
        return undefined;
    }
}
