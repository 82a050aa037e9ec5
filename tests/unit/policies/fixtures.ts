// Compliant manifests, typed and schema-checked through kubernetes-models. Violating inputs are
// variants of these, so each test changes exactly the one thing its policy is about.
import { ConfigMap, IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { INamespace, Namespace } from "kubernetes-models/v1/Namespace";
import { IPod, Pod } from "kubernetes-models/v1/Pod";
import { IService, Service } from "kubernetes-models/v1/Service";
import { IServiceAccount, ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Deployment, IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { IStatefulSet, StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { CronJob, ICronJob } from "kubernetes-models/batch/v1/CronJob";
import { IJob, Job } from "kubernetes-models/batch/v1/Job";
import { HorizontalPodAutoscaler, IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { IIngress, Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { INetworkPolicy, NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { IPodDisruptionBudget, PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IIoK8sApiCoreV1Container as IContainer } from "kubernetes-models/v1/Container";
import type { IIoK8sApiCoreV1PodSpec as IPodSpec } from "kubernetes-models/v1/PodSpec";
import { FakeResource, fromModel, variant } from "./harness";

export const NS = "ultramarket-production";

export function labelsFor(app: string): Record<string, string> {
    return { "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "ultramarket" };
}

/** A container that meets every rule of the pack. */
export function container(name: string): IContainer {
    return {
        name,
        image: `registry.ultramarket.uz/${name}:1.4.2`,
        ports: [{ name: "http", containerPort: 3000 }],
        env: [
            { name: "NODE_ENV", value: "production" },
            { name: "JWT_SECRET", valueFrom: { secretKeyRef: { name: "ultramarket-secrets", key: "JWT_SECRET" } } },
        ],
        resources: {
            requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "128Mi" },
            limits: { cpu: "400m", memory: "256Mi", "ephemeral-storage": "512Mi" },
        },
        readinessProbe: { httpGet: { path: "/health", port: "http" } },
        livenessProbe: { httpGet: { path: "/health", port: "http" } },
        securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        },
    };
}

/** A pod spec that meets every rule of the pack. */
export function podSpec(name: string): IPodSpec {
    return {
        serviceAccountName: name,
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
        containers: [container(name)],
        volumes: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
        topologySpreadConstraints: [
            {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: labelsFor(name) },
            },
        ],
    };
}

export function deploymentData(name = "auth-service"): IDeployment {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: NS, labels: labelsFor(name) },
        spec: {
            replicas: 2,
            selector: { matchLabels: labelsFor(name) },
            template: { metadata: { labels: labelsFor(name) }, spec: podSpec(name) },
        },
    };
}

export function deployment(change?: (d: IDeployment) => void, name?: string): FakeResource {
    return fromModel(new Deployment(variant(deploymentData(name), change ?? (() => undefined))));
}

export function datastoreData(name = "postgres"): IStatefulSet {
    const labels = { ...labelsFor(name), "app.kubernetes.io/component": "datastore" };
    const spec = podSpec(name);
    spec.containers[0].volumeMounts = [{ name: "data", mountPath: "/var/lib/postgresql/data" }];
    spec.containers[0].startupProbe = { exec: { command: ["pg_isready", "-U", "postgres"] }, periodSeconds: 10, failureThreshold: 60 };
    return {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name, namespace: NS, labels },
        spec: {
            replicas: 1,
            serviceName: name,
            selector: { matchLabels: labels },
            persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
            template: { metadata: { labels }, spec },
            volumeClaimTemplates: [
                {
                    metadata: { name: "data" },
                    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
                },
            ],
        },
    };
}

export function datastore(change?: (s: IStatefulSet) => void, protect = true): FakeResource {
    return fromModel(new StatefulSet(variant(datastoreData(), change ?? (() => undefined))), { protect });
}

export function migrationJob(change?: (j: IJob) => void): FakeResource {
    const spec = podSpec("auth-service-migrate");
    delete spec.containers[0].readinessProbe;
    delete spec.containers[0].livenessProbe;
    spec.restartPolicy = "Never";
    const data: IJob = {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "auth-service-migrate", namespace: NS },
        spec: { template: { spec } },
    };
    return fromModel(new Job(variant(data, change ?? (() => undefined))));
}

export function cronJob(change?: (j: ICronJob) => void): FakeResource {
    const spec = podSpec("report");
    delete spec.containers[0].readinessProbe;
    delete spec.containers[0].livenessProbe;
    spec.restartPolicy = "OnFailure";
    const data: ICronJob = {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "report", namespace: NS },
        spec: { schedule: "0 3 * * *", jobTemplate: { spec: { template: { spec } } } },
    };
    return fromModel(new CronJob(variant(data, change ?? (() => undefined))));
}

export function pod(change?: (p: IPod) => void): FakeResource {
    const data: IPod = { apiVersion: "v1", kind: "Pod", metadata: { name: "debug", namespace: NS }, spec: podSpec("debug") };
    return fromModel(new Pod(variant(data, change ?? (() => undefined))));
}

export function configMap(change?: (c: IConfigMap) => void): FakeResource {
    const data: IConfigMap = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "ultramarket-config", namespace: NS },
        data: {
            NODE_ENV: "production",
            DATABASE_URL: "postgresql://postgres.ultramarket-production.svc:5432/ultramarket",
            REDIS_URL: "redis://redis.ultramarket-production.svc:6379",
            JWT_EXPIRES_IN: "15m",
            ALLOWED_ORIGINS: "https://ultramarket.uz,https://admin.ultramarket.uz",
        },
    };
    return fromModel(new ConfigMap(variant(data, change ?? (() => undefined))));
}

export function service(change?: (s: IService) => void): FakeResource {
    const data: IService = {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "auth-service", namespace: NS, labels: labelsFor("auth-service") },
        spec: { selector: labelsFor("auth-service"), ports: [{ name: "http", port: 80, targetPort: "http" }] },
    };
    return fromModel(new Service(variant(data, change ?? (() => undefined))));
}

export function ingress(change?: (i: IIngress) => void): FakeResource {
    const backend = { service: { name: "api-gateway", port: { number: 80 } } };
    const data: IIngress = {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: { name: "ultramarket", namespace: NS },
        spec: {
            ingressClassName: "nginx",
            tls: [{ hosts: ["ultramarket.uz", "api.ultramarket.uz", "admin.ultramarket.uz"], secretName: "ultramarket-tls" }],
            rules: ["ultramarket.uz", "api.ultramarket.uz", "admin.ultramarket.uz"].map((host) => ({
                host,
                http: { paths: [{ path: "/", pathType: "Prefix", backend }] },
            })),
        },
    };
    return fromModel(new Ingress(variant(data, change ?? (() => undefined))));
}

export function defaultDeny(change?: (n: INetworkPolicy) => void): FakeResource {
    const data: INetworkPolicy = {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "default-deny", namespace: NS },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    };
    return fromModel(new NetworkPolicy(variant(data, change ?? (() => undefined))));
}

export function allowDns(): FakeResource {
    return fromModel(
        new NetworkPolicy({
            metadata: { name: "allow-dns", namespace: NS },
            spec: {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [
                    {
                        ports: [
                            { protocol: "UDP", port: 53 },
                            { protocol: "TCP", port: 53 },
                        ],
                    },
                ],
            },
        }),
    );
}

export function pdb(app = "auth-service", change?: (p: IPodDisruptionBudget) => void): FakeResource {
    const data: IPodDisruptionBudget = {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: app, namespace: NS },
        spec: { maxUnavailable: 1, selector: { matchLabels: labelsFor(app) } },
    };
    return fromModel(new PodDisruptionBudget(variant(data, change ?? (() => undefined))));
}

export function hpa(app = "auth-service", change?: (h: IHorizontalPodAutoscaler) => void): FakeResource {
    const data: IHorizontalPodAutoscaler = {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: app, namespace: NS },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: app },
            minReplicas: 2,
            maxReplicas: 6,
            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
        },
    };
    return fromModel(new HorizontalPodAutoscaler(variant(data, change ?? (() => undefined))));
}

export function serviceAccount(name = "auth-service", change?: (s: IServiceAccount) => void): FakeResource {
    const data: IServiceAccount = {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name, namespace: NS },
        automountServiceAccountToken: false,
    };
    return fromModel(new ServiceAccount(variant(data, change ?? (() => undefined))));
}

export function namespace(change?: (n: INamespace) => void): FakeResource {
    const data: INamespace = {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
    };
    return fromModel(new Namespace(variant(data, change ?? (() => undefined))));
}

/** Every pod-running fixture, for rules that apply to all workload kinds. */
export function everyWorkload(): FakeResource[] {
    return [deployment(), datastore(), migrationJob(), cronJob(), pod()];
}
