import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config";
import { DATA_STORE_NAMES, DataStores } from "./datastores";
import { PlatformNamespace } from "./namespace";
import { PlatformSecret } from "./secrets";
import { PlatformSettings } from "./settings";
import { SharedStorage } from "./storage";

/** Builds the whole platform from a validated config; the dependency graph orders everything. */
export function buildPlatform(cfg: PlatformConfig) {
    // An explicit provider: the cluster is chosen by config (kubeconfig/kubeContext), never by accident.
    const provider = new k8s.Provider("k8s", { kubeconfig: cfg.kubernetes.kubeconfig, context: cfg.kubernetes.context });
    const opts: pulumi.ComponentResourceOptions = { providers: [provider] };

    const namespace = new PlatformNamespace("namespace", { name: cfg.namespace, protect: cfg.protectData }, opts);
    const secret = new PlatformSecret(
        "secrets",
        { namespace: namespace.name, provided: cfg.providedSecrets, generate: cfg.generatedSecrets, protect: cfg.protectData },
        opts,
    );
    const dataStores = new DataStores(
        "data-stores",
        { namespace: namespace.name, secretName: secret.secretName, storageClass: cfg.storage.className, sizes: cfg.storage.sizes, protect: cfg.protectData },
        opts,
    );
    const settings = new PlatformSettings(
        "settings",
        {
            namespace: namespace.name,
            app: cfg.app,
            allowedOrigins: cfg.allowedOrigins,
            urls: {
                postgres: dataStores.endpoints.postgres.url,
                mongodb: dataStores.endpoints.mongodb.url,
                redis: dataStores.endpoints.redis.url,
                elasticsearch: dataStores.endpoints.elasticsearch.url,
            },
        },
        opts,
    );
    const storage = new SharedStorage(
        "storage",
        {
            namespace: namespace.name,
            storageClass: cfg.storage.className,
            size: cfg.storage.sizes.fileUploads,
            accessMode: cfg.storage.fileUploadsAccessMode,
            protect: cfg.protectData,
        },
        opts,
    );

    return {
        provider,
        namespace,
        secret,
        settings,
        dataStores,
        storage,
        outputs: {
            namespace: namespace.name,
            hosts: cfg.hosts,
            dataStores: Object.fromEntries(
                DATA_STORE_NAMES.map((n) => [n, pulumi.interpolate`${dataStores.endpoints[n].host}.${namespace.name}.svc.cluster.local:${dataStores.endpoints[n].port}`]),
            ),
        },
    };
}
