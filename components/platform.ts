import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config";
import { Applications } from "./applications";
import { DATA_STORE_NAMES, DataStores } from "./datastores";
import { EdgeControllers, EdgeIngress, SECURITY_HEADERS } from "./ingress";
import { buildVerificationPlan, headerRules } from "./checks";
import { PerformanceTest } from "./loadtest";
import { Monitoring } from "./monitoring";
import { deploymentFingerprint, DeploymentVerification } from "./verification";
import { PlatformNamespace } from "./namespace";
import { NetworkPolicies } from "./networkpolicies";
import { PlatformSecret } from "./secrets";
import { PlatformSettings } from "./settings";
import { SharedStorage } from "./storage";

/** Builds the whole platform from a validated config; the dependency graph orders everything. */
export function buildPlatform(cfg: PlatformConfig) {
    // An explicit provider: the cluster is chosen by config (kubeconfig/kubeContext), never by accident.
    // ConfigMap and Secret updated in place: a setting change or a rotation never deletes them nor cascades a
    // replacement into their readers (which roll through their checksums instead; see rollout.ts).
    const provider = new k8s.Provider("k8s", {
        kubeconfig: cfg.kubernetes.kubeconfig,
        context: cfg.kubernetes.context,
        enableConfigMapMutable: true,
        enableSecretMutable: true,
    });
    const opts: pulumi.ComponentResourceOptions = { providers: [provider] };

    const namespace = new PlatformNamespace("namespace", { name: cfg.namespace, protect: cfg.protectData }, opts);
    const secret = new PlatformSecret(
        "secrets",
        { namespace: namespace.name, provided: cfg.providedSecrets, generate: cfg.generatedSecrets, protect: cfg.protectData },
        opts,
    );
    const dataStores = new DataStores(
        "data-stores",
        { namespace: namespace.name, secretName: secret.secretName, secretValues: secret.values, storageClass: cfg.storage.className, sizes: cfg.storage.sizes, protect: cfg.protectData },
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
            configChecksum: settings.checksum,
            secretValues: secret.values,
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
            dataStores: dataStores.endpoints,
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

    const monitoring = new Monitoring(
        "monitoring",
        {
            namespace: namespace.name,
            namespaceName: cfg.namespace,
            // Only apps that serve metrics are scraped, graphed and alerted on.
            apps: cfg.apps.filter((a) => a.metricsPath !== undefined),
            dataStores: DATA_STORE_NAMES,
            prometheusOperator: cfg.monitoring.prometheusOperator,
            release: cfg.monitoring.prometheusRelease,
            install: cfg.monitoring.installMonitoringStack,
            chart: cfg.monitoring.monitoringStackChart,
            monitoringNamespace: cfg.monitoring.monitoringNamespace,
            runbookBaseUrl: cfg.monitoring.runbookBaseUrl,
        },
        opts,
    );

    // Post-deploy steps run after everything rolled out: for every update `npm run deploy` starts (its
    // update id), and otherwise whenever what was deployed changes.
    const readyResources: pulumi.Resource[] = [...apps.readyResources, ...edge.ingresses, ...edge.certificates];
    const updateId = cfg.verification.updateId;
    const trigger = pulumi
        .all(apps.imageRefs)
        .apply((images) => deploymentFingerprint({ images, apps: cfg.apps.map((a) => [a.name, a.replicas]), settings: cfg.app, hosts: cfg.hosts, updateId }));
    const verification = cfg.verification.verifyDeployment
        ? new DeploymentVerification(
              "verification",
              {
                  namespace: namespace.name,
                  secretName: secret.secretName,
                  dataStores: dataStores.endpoints,
                  plan: { ...buildVerificationPlan({ hosts: cfg.hosts, apps: cfg.apps, rateLimitMax: cfg.app.rateLimitMax, securityHeaders: headerRules(Object.keys(SECURITY_HEADERS)) }), updateId },
                  migrationJobs: Object.fromEntries(Object.entries(apps.services).flatMap(([n, s]) => (s.migration ? [[n, s.migration]] : []))),
                  dependsOn: readyResources,
                  trigger,
              },
              opts,
          )
        : undefined;
    const loadTest =
        cfg.verification.loadTest === "off"
            ? undefined
            : new PerformanceTest("load-test", { profile: cfg.verification.loadTest, baseUrl: `https://${cfg.hosts.api}`, dependsOn: verification ? [verification.command] : readyResources, trigger }, opts);

    return {
        provider,
        monitoring,
        verification,
        loadTest,
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
            // The report the ops deploy command reads ({ok, checks}), and the plan `npm run verify -- --stack` reruns.
            verification: verification
                ? pulumi.all([verification.report, verification.plan]).apply(([report, plan]) => ({ ...(report ?? { status: "pending" }), plan }))
                : pulumi.output({ status: "skipped", reason: "ultramarket:verifyDeployment is false" }),
            dataStores: Object.fromEntries(
                DATA_STORE_NAMES.map((n) => [n, pulumi.interpolate`${dataStores.endpoints[n].host}.${namespace.name}.svc.cluster.local:${dataStores.endpoints[n].port}`]),
            ),
        },
    };
}
