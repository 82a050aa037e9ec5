import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config";
import { Applications } from "./applications";
import { DATA_STORE_NAMES, DATA_STORE_SPECS, DataStores } from "./datastores";
import { EdgeControllers, EdgeIngress } from "./ingress";
import { PlatformNamespace } from "./namespace";
import { NetworkPolicies } from "./networkpolicies";
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

    const apps = new Applications(
        "apps",
        {
            namespace: namespace.name,
            apps: cfg.apps,
            images: { registry: cfg.images.registry, tag: cfg.images.tag, perApp: cfg.images.perApp, sourceRoot: cfg.images.build ? cfg.images.sourceRoot : undefined, push: cfg.images.push },
            secretName: secret.secretName,
            configMapName: settings.configMapName,
            fileUploadsClaim: storage.fileUploadsClaim,
            dataStores: dataStores.statefulSets,
        },
        opts,
    );
    new NetworkPolicies(
        "network-policies",
        {
            namespace: namespace.name,
            apps: cfg.apps,
            dataStorePorts: Object.fromEntries(DATA_STORE_NAMES.map((n) => [n, DATA_STORE_SPECS[n].port])) as Record<(typeof DATA_STORE_NAMES)[number], number>,
            ingressControllerNamespace: cfg.ingress.ingressControllerNamespace,
            monitoringNamespace: cfg.monitoring.monitoringNamespace,
        },
        opts,
    );
    const controllers = new EdgeControllers("edge-controllers", { ingress: cfg.ingress }, opts);
    const edge = new EdgeIngress(
        "edge",
        {
            namespace: namespace.name,
            apps: cfg.apps,
            services: Object.fromEntries(Object.entries(apps.services).map(([n, s]) => [n, s.serviceName])),
            hosts: cfg.hosts,
            allowedOrigins: cfg.allowedOrigins,
            rateLimit: { max: cfg.app.rateLimitMax, windowMs: cfg.app.rateLimitWindowMs },
            ingress: cfg.ingress,
            controllers: controllers.ready,
        },
        opts,
    );

    return {
        provider,
        apps,
        edge,
        namespace,
        secret,
        settings,
        dataStores,
        storage,
        outputs: {
            namespace: namespace.name,
            hosts: cfg.hosts,
            urls: edge.urls,
            images: apps.imageRefs,
            dataStores: Object.fromEntries(
                DATA_STORE_NAMES.map((n) => [n, pulumi.interpolate`${dataStores.endpoints[n].host}.${namespace.name}.svc.cluster.local:${dataStores.endpoints[n].port}`]),
            ),
        },
    };
}
