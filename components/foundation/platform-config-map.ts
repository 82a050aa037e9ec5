import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../config";
import { labels } from "../model/labels";
import { settingsChecksum } from "../model/rollout";

export interface PlatformConfigMapArgs {
    namespace: pulumi.Input<string>;
    app: PlatformConfig["app"];
    allowedOrigins: string[];
    /** Password-free connection URLs of the in-cluster data stores. */
    urls: {
        postgres: pulumi.Input<string>;
        mongodb: pulumi.Input<string>;
        redis: pulumi.Input<string>;
        elasticsearch: pulumi.Input<string>;
    };
}

/** The runbook's `ultramarket-config` ConfigMap: non-secret settings only (credentials live in the Secret). */
export class PlatformConfigMap extends pulumi.ComponentResource {
    public readonly configMapName: pulumi.Output<string>;
    /** Digest of every value (apps read the whole ConfigMap through envFrom): a change rolls them. */
    public readonly checksum: pulumi.Output<string>;

    constructor(name: string, args: PlatformConfigMapArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:platform:PlatformSettings", name, {}, opts);
        const a = args.app;
        const flag = (b: boolean) => (b ? "true" : "false");
        const data: Record<string, pulumi.Input<string>> = {
            NODE_ENV: a.nodeEnv,
            LOG_LEVEL: a.logLevel,
            REDIS_URL: args.urls.redis,
            MONGODB_URL: args.urls.mongodb,
            POSTGRES_URL: args.urls.postgres,
            ELASTICSEARCH_URL: args.urls.elasticsearch,
            ALLOWED_ORIGINS: args.allowedOrigins.join(","),
            JWT_EXPIRES_IN: a.jwtExpiresIn,
            RATE_LIMIT_WINDOW: String(a.rateLimitWindowMs),
            RATE_LIMIT_MAX: String(a.rateLimitMax),
            CACHE_TTL: String(a.cacheTtl),
            CORS_ENABLED: flag(a.corsEnabled),
            HELMET_ENABLED: flag(a.helmetEnabled),
            COMPRESSION_ENABLED: flag(a.compressionEnabled),
            MONITORING_ENABLED: flag(a.monitoringEnabled),
            ANALYTICS_ENABLED: flag(a.analyticsEnabled),
        };
        // Updated in place (the provider's enableConfigMapMutable): the name the runbook uses never goes away.
        const cm = new k8s.core.v1.ConfigMap(
            name,
            { metadata: { name: "ultramarket-config", namespace: args.namespace, labels: labels("ultramarket", "platform") }, data },
            { parent: this },
        );
        this.configMapName = cm.metadata.name;
        this.checksum = settingsChecksum(data);
        this.registerOutputs({ configMapName: this.configMapName, checksum: this.checksum });
    }
}
