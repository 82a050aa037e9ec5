import { podPlacementFields, WorkloadPlacement } from "../model/placement";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AppSpec, DATA_STORE_PASSWORD_KEY, DatabaseWithUsers } from "../model/catalog";
import { DATA_STORE_SPECS } from "./stores";
import { labels } from "../model/labels";
import { REPLACE_UNREADY, rolloutAnnotations, secretChecksum } from "../model/rollout";
import { clientStepPod, literalArgument } from "../model/security";
import { ThirdPartyImages } from "../model/third-party-images";
import { APP_DATABASE, DatabasePrincipal, databasePrincipals, derivePassword, passwordEnv } from "./principals";
import { elasticsearchUsersScript, mongodbUsersScript, postgresUsersCommand } from "./user-scripts";

export interface DatabaseUsersArgs {
    namespace: pulumi.Input<string>;
    /** The platform Secret: the users Job alone reads the superuser passwords from it. */
    secretName: pulumi.Input<string>;
    apps: AppSpec[];
    /** The seed every password derives from (`databaseUsersSeed`); generated with @pulumi/random when unset. */
    seed?: pulumi.Output<string>;
    /** The stack's key of the Jobs' secret checksums (PlatformSecret.checksumKey). */
    checksumKey: pulumi.Input<string>;
    /** Principal id -> version: bumping one rotates that principal's password alone. */
    passwordVersions: Record<string, number>;
    /** Protect a generated seed: replacing it would rotate every password at once. */
    protect: boolean;
    /** Each store's Service and readiness (its StatefulSet). */
    stores: Record<DatabaseWithUsers, { host: pulumi.Input<string>; port: number; ready: pulumi.Resource }>;
    /** The third-party images by logical name: each Job runs its store's client tools. */
    images: ThirdPartyImages;
    /** Where each users Job's pod may run, by its name (`database-users-<store>`; `ultramarket:workloadPlacement`). */
    placement?: WorkloadPlacement;
}

/** The name (and selector label) of a store's users Job: NetworkPolicies let it reach that store. */
export const databaseUsersJobName = (store: DatabaseWithUsers) => `database-users-${store}`;

/** An app's own credentials: its Secret's name and values (env name -> Pulumi secret), for its pods and their checksum. */
export interface DatabaseCredentials {
    secretName: pulumi.Output<string>;
    values: Record<string, pulumi.Output<string>>;
}

/**
 * A database user per app and per exporter, each with a password of its own in a Secret of its own, created (or
 * updated) by a Job per store before any app or migration connects: the superuser passwords reach only the stores
 * and these Jobs.
 */
export class DatabaseUsers extends pulumi.ComponentResource {
    /** App name -> its database Secret. */
    public readonly credentials: Record<string, DatabaseCredentials> = {};
    /** Store -> its monitoring user's Secret (the exporter's login). */
    public readonly monitorCredentials: Partial<Record<DatabaseWithUsers, DatabaseCredentials>> = {};
    /** The users Job of each store: apps and migrations depend on the Jobs of their stores. */
    public readonly jobs = {} as Record<DatabaseWithUsers, k8s.batch.v1.Job>;
    /** The services' PostgreSQL users and passwords (PgBouncer's userlist). */
    public readonly postgresLogins: { user: string; password: pulumi.Output<string> }[] = [];

    constructor(name: string, args: DatabaseUsersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:data:DatabaseUsers", name, {}, opts);
        const seed =
            args.seed ??
            // Alphanumeric, like the other generated secrets; 64 characters of entropy for HMAC-SHA256.
            new random.RandomPassword("database-users-seed", { length: 64, special: false }, { parent: this, protect: args.protect })
                .result;
        const principals = databasePrincipals(args.apps);
        const password = (p: DatabasePrincipal) =>
            pulumi.secret(pulumi.output(seed).apply((s) => derivePassword(s, p.store, p.user, args.passwordVersions[p.id] ?? 1)));

        // One Secret per app (both stores' keys when it uses both) and per exporter.
        const bySecret = new Map<string, { principals: DatabasePrincipal[]; values: Record<string, pulumi.Output<string>> }>();
        const passwords = new Map<DatabasePrincipal, pulumi.Output<string>>();
        for (const p of principals) {
            const entry = bySecret.get(p.secretName) ?? { principals: [], values: {} };
            const pw = password(p);
            passwords.set(p, pw);
            entry.principals.push(p);
            entry.values[p.keys.user] = pulumi.output(p.user);
            entry.values[p.keys.password] = pw;
            bySecret.set(p.secretName, entry);
            if (p.store === "postgres" && p.kind === "service") this.postgresLogins.push({ user: p.user, password: pw });
        }
        const secretNames = new Map<string, pulumi.Output<string>>();
        for (const [secretName, { principals: owners, values }] of bySecret) {
            const owner = owners[0];
            const secret = new k8s.core.v1.Secret(
                secretName,
                {
                    metadata: {
                        name: secretName,
                        namespace: args.namespace,
                        labels: labels(owner.kind === "service" ? owner.id : secretName, "database-users"),
                    },
                    type: "Opaque",
                    stringData: values,
                },
                { parent: this },
            );
            secretNames.set(secretName, secret.metadata.name);
            if (owner.kind === "service") this.credentials[owner.id] = { secretName: secret.metadata.name, values };
            else this.monitorCredentials[owner.store] = { secretName: secret.metadata.name, values };
        }

        for (const store of Object.keys(args.stores) as DatabaseWithUsers[]) {
            const mine = principals.filter((p) => p.store === store);
            this.jobs[store] = this.usersJob(store, mine, passwords, secretNames, args);
        }
        this.registerOutputs({});
    }

    private usersJob(
        store: DatabaseWithUsers,
        principals: DatabasePrincipal[],
        passwords: Map<DatabasePrincipal, pulumi.Output<string>>,
        secretNames: Map<string, pulumi.Output<string>>,
        args: DatabaseUsersArgs,
    ): k8s.batch.v1.Job {
        const spec = DATA_STORE_SPECS[store];
        const target = args.stores[store];
        const jobName = databaseUsersJobName(store);
        const meta = labels(jobName, "database-users");
        const superuser = { secretKeyRef: { name: args.secretName, key: DATA_STORE_PASSWORD_KEY[store] } };
        const connection = {
            postgres: [
                { name: "PGHOST", value: target.host },
                { name: "PGPORT", value: String(target.port) },
                { name: "PGUSER", value: "postgres" },
                { name: "PGDATABASE", value: APP_DATABASE },
                { name: "PGPASSWORD", valueFrom: superuser },
            ],
            mongodb: [{ name: "MONGODB_ROOT_PASSWORD", valueFrom: superuser }],
            elasticsearch: [
                { name: "ES_URL", value: pulumi.interpolate`http://${target.host}:${target.port}` },
                { name: "ELASTIC_PASSWORD", valueFrom: superuser },
            ],
        }[store];
        const command = {
            postgres: () => postgresUsersCommand(principals),
            mongodb: () => [
                "mongosh",
                "--quiet",
                "--host",
                pulumi.output(target.host),
                "--port",
                String(target.port),
                "--eval",
                mongodbUsersScript(principals),
            ],
            elasticsearch: () => ["sh", "-c", elasticsearchUsersScript(principals)],
        }[store]();
        // A new principal changes the script (the pod template); a new password changes this digest: either way the
        // Job is replaced and runs again. The digest stays a Pulumi secret; no value reaches the template.
        const checksum = secretChecksum(
            args.checksumKey,
            Object.fromEntries(principals.map((p) => [`${p.store}:${p.user}`, passwords.get(p)!])),
            principals.map((p) => `${p.store}:${p.user}`),
        );
        return new k8s.batch.v1.Job(
            jobName,
            {
                // Auto-named: a changed template is a new Job (created before the old one goes); a failed one is re-run by the next up.
                metadata: { namespace: args.namespace, labels: meta, annotations: REPLACE_UNREADY },
                spec: {
                    backoffLimit: 3,
                    activeDeadlineSeconds: 300,
                    template: {
                        metadata: { labels: meta, annotations: rolloutAnnotations({ secret: checksum }) },
                        spec: {
                            ...clientStepPod(spec.uid, {
                                name: "users",
                                image: args.images[spec.image],
                                command: command.map((c) =>
                                    typeof c === "string" ? literalArgument(c) : pulumi.output(c).apply(literalArgument),
                                ),
                                env: [
                                    ...connection,
                                    ...principals.map((p) => ({
                                        name: passwordEnv(p),
                                        valueFrom: { secretKeyRef: { name: secretNames.get(p.secretName)!, key: p.keys.password } },
                                    })),
                                ],
                                // mongosh is a Node.js process (~100 MiB resident): requested at half its limit, within the
                                // pack's request-limit-ratio (cpu 4x, memory 2x), so the scheduler reserves what it uses.
                                resources: {
                                    requests: { cpu: "125m", memory: "128Mi", "ephemeral-storage": "64Mi" },
                                    limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "256Mi" },
                                },
                            }),
                            ...podPlacementFields(args.placement?.[jobName]),
                        },
                    },
                },
            },
            { parent: this, dependsOn: [target.ready] },
        );
    }
}
